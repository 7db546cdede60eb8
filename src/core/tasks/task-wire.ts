import type { TaskError, TaskRecord, TaskResultObject, TaskStatus } from './task-types.js';

/** The Task fields both wire shapes share. */
export interface WireTask {
  taskId: string;
  status: TaskStatus;
  statusMessage?: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601. */
  lastUpdatedAt: string;
  ttlMs: number;
  pollIntervalMs: number;
}

/**
 * What `tools/call` returns instead of its result when it became a task: flat `Result & Task`, and
 * nothing else — no `result`, `error`, `inputRequests`, `requestState`, `content` nor the legacy
 * `ttl` / `pollInterval`, which the extension forbids here.
 */
export interface CreateTaskResult extends WireTask {
  resultType: 'task';
}

/** What `tasks/get` returns: the task with its status's payload inlined. */
export type GetTaskResult = WireTask & {
  resultType: 'complete';
  result?: TaskResultObject;
  error?: TaskError;
  inputRequests?: Record<string, unknown>;
};

function wireTask(task: TaskRecord): WireTask {
  return {
    taskId: task.id,
    status: task.status,
    ...(task.statusMessage === undefined ? {} : { statusMessage: task.statusMessage }),
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.lastUpdatedAt).toISOString(),
    ttlMs: task.ttlMs,
    pollIntervalMs: task.pollIntervalMs,
  };
}

/** The CreateTaskResult for a task just stored. */
export function createTaskResult(task: TaskRecord): CreateTaskResult {
  return { resultType: 'task', ...wireTask(task) };
}

/**
 * The `tasks/get` answer: `result` only for `completed`, `error` only for `failed`, whatever else
 * the record holds, so a half-written record can never show both.
 */
export function getTaskResult(task: TaskRecord): GetTaskResult {
  const out: GetTaskResult = { resultType: 'complete', ...wireTask(task) };
  if (task.status === 'completed' && task.result !== undefined) out.result = task.result;
  if (task.status === 'failed' && task.error !== undefined) out.error = task.error;
  if (task.status === 'input_required') out.inputRequests = task.inputRequests ?? {};
  return out;
}
