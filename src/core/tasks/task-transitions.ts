import { AirlockError } from '../errors.js';
import {
  ACTIVE_TASK_STATUSES,
  isTerminalTaskStatus,
  type TaskError,
  type TaskRecord,
  type TaskResultObject,
  type TaskStatus,
} from './task-types.js';

/** One change of a task's visible state; each status carries exactly the payload it needs. */
export type TaskChange =
  | { status: 'working'; statusMessage?: string }
  | { status: 'input_required'; inputRequests: Record<string, unknown>; statusMessage?: string }
  | { status: 'completed'; result: TaskResultObject; statusMessage?: string }
  | { status: 'failed'; error: TaskError; statusMessage?: string }
  | { status: 'cancelled'; statusMessage?: string };

/** Why a change was not applied: the task is already terminal, or not in a status the caller allowed. */
export interface TaskChangeRefused {
  ok: false;
  code: 'TERMINAL' | 'NOT_FROM';
  /** The status the task has, which stays. */
  status: TaskStatus;
}

/** A change that was applied; the input record is left untouched. */
export interface TaskChanged {
  ok: true;
  task: TaskRecord;
}

/**
 * The statuses a change may be applied from: the active ones, narrowed to `from` when given. Terminal
 * statuses are never among them, which is what makes the first terminal write win.
 */
export function allowedFrom(from?: readonly TaskStatus[]): TaskStatus[] {
  return ACTIVE_TASK_STATUSES.filter((s) => from === undefined || from.includes(s));
}

/**
 * Rejects a malformed change before it reaches a store: a `failed` task's error must be a JSON-RPC
 * error object, and a `completed` task's result a JSON object. TypeScript sees to the rest.
 */
export function checkTaskChange(change: TaskChange): void {
  if (change.status === 'completed') {
    const r: unknown = change.result;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) {
      throw new AirlockError('INTERNAL', 'A completed task needs a result object');
    }
  }
  if (change.status === 'failed') {
    const e: unknown = change.error;
    const ok =
      e !== null &&
      typeof e === 'object' &&
      Number.isInteger((e as TaskError).code) &&
      typeof (e as TaskError).message === 'string';
    if (!ok) throw new AirlockError('INTERNAL', 'A failed task needs a JSON-RPC error {code, message}');
  }
}

/**
 * Applies a change to a task: allowed only from an active status (and from one of `from`, when
 * given); terminal statuses are final. The store runs the same rule atomically in Lua; this is its
 * pure statement, for callers that hold a record and for tests.
 */
export function transitionTask(
  task: TaskRecord,
  change: TaskChange,
  now: number,
  from?: readonly TaskStatus[],
): TaskChanged | TaskChangeRefused {
  if (isTerminalTaskStatus(task.status)) return { ok: false, code: 'TERMINAL', status: task.status };
  if (!allowedFrom(from).includes(task.status)) return { ok: false, code: 'NOT_FROM', status: task.status };
  checkTaskChange(change);
  const { result: _result, error: _error, statusMessage: _message, inputRequests: _asked, ...rest } = task;
  const next: TaskRecord = {
    ...rest,
    status: change.status,
    lastUpdatedAt: Math.max(now, task.lastUpdatedAt),
  };
  if (change.statusMessage !== undefined) next.statusMessage = change.statusMessage;
  if (change.status === 'completed') next.result = change.result;
  if (change.status === 'failed') next.error = change.error;
  if (change.status === 'input_required') next.inputRequests = change.inputRequests;
  return { ok: true, task: next };
}
