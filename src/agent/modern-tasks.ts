// The tasks extension's methods on the 2026-07-28 path (SEP-2663): tasks/get, tasks/update and
// tasks/cancel. Each needs the extension declared on the request itself (-32021 otherwise, checked
// before the id is looked up), and finds only the calling agent's tasks: a guessed id and another
// agent's id are the same -32602. tasks/result and tasks/list are gone in this revision and are not here,
// so the dispatcher answers them -32601.
import { TASKS_EXTENSION } from '../core/tasks/index.js';
import type { TaskMethods } from './agent-methods.js';
import { declaresExtension, isJsonObject, type RequestEnvelope } from './wire/envelope.js';
import { invalidParams, missingRequiredClientCapability } from './wire/errors.js';

/** What a tasks method sees of its request. */
export interface TaskRequest {
  readonly agent: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly envelope: RequestEnvelope;
}

/** A tasks method: resolves to its result, throws a wire error. */
export type TaskHandler = (req: TaskRequest) => Promise<Record<string, unknown>>;

/** True when the request declared the tasks extension in its client capabilities. */
export function declaresTasks(envelope: RequestEnvelope): boolean {
  return declaresExtension(envelope.clientCapabilities, TASKS_EXTENSION);
}

/** The capability server/discover advertises when tasks are offered. */
export function tasksCapability(): Record<string, Record<string, never>> {
  return { [TASKS_EXTENSION]: {} };
}

/** The handlers by method name. */
export function taskHandlers(tasks: TaskMethods): Record<string, TaskHandler> {
  const gated =
    (run: (id: string, req: TaskRequest) => Promise<Record<string, unknown>>): TaskHandler =>
    async (req) => {
      if (!declaresTasks(req.envelope)) {
        throw missingRequiredClientCapability({ extensions: { [TASKS_EXTENSION]: {} } });
      }
      return run(req.params['taskId'] as string, req);
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
