// The tasks extension's methods (SEP-2663): tasks/get, tasks/update and tasks/cancel, for both eras. A
// 2026-07-28 request negotiates the extension on itself, a 2025 session once at initialize; without it
// each method answers -32021 (checked before the id is looked up). Each finds only the calling agent's
// tasks: a guessed id and another agent's id are the same -32602. tasks/result and tasks/list are gone in
// the extension and are not here, so either era answers them -32601.
import { TASKS_EXTENSION } from '../core/tasks/index.js';
import type { TaskMethods } from './agent-methods.js';
import { declaresExtension, isJsonObject, type ClientCapabilities } from './wire/envelope.js';
import { invalidParams, missingRequiredClientCapability } from './wire/errors.js';

/** What a tasks method sees of its request. */
export interface TaskRequest {
  readonly agent: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** True when the request (2026-07-28) or its session (2025) negotiated the extension. */
  readonly negotiated: boolean;
}

/** A tasks method: resolves to its result, throws a wire error. */
export type TaskHandler = (req: TaskRequest) => Promise<Record<string, unknown>>;

/** True when the client capabilities declare the tasks extension. */
export function declaresTasks(capabilities: Readonly<Record<string, unknown>>): boolean {
  return declaresExtension(capabilities as ClientCapabilities, TASKS_EXTENSION);
}

/** The capability server/discover and the 2025 initialize result advertise when tasks are offered. */
export function tasksCapability(): Record<string, Record<string, never>> {
  return { [TASKS_EXTENSION]: {} };
}

/** True for the methods of {@link taskHandlers}. */
export function isTaskMethod(method: string): boolean {
  return Object.hasOwn(TASK_METHODS, method);
}

/** The handlers by method name. */
export function taskHandlers(tasks: TaskMethods): Record<string, TaskHandler> {
  const gated =
    (run: (id: string, req: TaskRequest) => Promise<Record<string, unknown>>): TaskHandler =>
    async (req) => {
      if (!req.negotiated) {
        throw missingRequiredClientCapability({ extensions: tasksCapability() });
      }
      const id = req.params['taskId'];
      if (typeof id !== 'string') throw invalidParams('a tasks method needs a string taskId');
      return run(id, req);
    };
  const unknown = (id: string) => invalidParams(`unknown task ${JSON.stringify(id.slice(0, 80))}`);
  return {
    'tasks/get': gated(async (id, req) => {
      const task = await tasks.get(id, req.agent);
      if (!task) throw unknown(id);
      return { ...task };
    }),
    // Answers to keys the task does not ask (unknown, or answered already) are ignored.
    'tasks/update': gated(async (id, req) => {
      const responses = req.params['inputResponses'] ?? {};
      if (!isJsonObject(responses)) throw invalidParams('tasks/update inputResponses must be an object');
      if (!(await tasks.update(id, req.agent, responses))) throw unknown(id);
      return {};
    }),
    'tasks/cancel': gated(async (id, req) => {
      if (!(await tasks.cancel(id, req.agent))) throw unknown(id);
      return {};
    }),
  };
}

/** The methods of {@link taskHandlers}. */
const TASK_METHODS: Readonly<Record<string, true>> = {
  'tasks/get': true,
  'tasks/update': true,
  'tasks/cancel': true,
};
