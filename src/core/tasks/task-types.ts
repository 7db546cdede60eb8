/*
 * Tasks (the MCP extension `io.modelcontextprotocol/tasks`, SEP-2663) as Airlock keeps them: plain
 * data, no I/O. The wire shapes are built from these in task-wire.ts; the store is src/tasks/.
 */

/** The extension's identifier, as declared in capabilities. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** Every status a task can have, in the extension's spelling. */
export const TASK_STATUSES = ['working', 'input_required', 'completed', 'failed', 'cancelled'] as const;

/** One task status. */
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Statuses after which a task never changes again. */
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = Object.freeze([
  'completed',
  'failed',
  'cancelled',
]);

/** Statuses a task can still leave. */
export const ACTIVE_TASK_STATUSES: readonly TaskStatus[] = Object.freeze(['working', 'input_required']);

/** A JSON-RPC error object, what a `failed` task carries. */
export interface TaskError {
  code: number;
  message: string;
  data?: unknown;
}

/** A JSON object: what a `completed` task carries (for tools/call, the CallToolResult). */
export type TaskResultObject = Record<string, unknown>;

/** One task as stored; times are epoch milliseconds. */
export interface TaskRecord {
  /** `tk_` and 32 base64url characters. */
  id: string;
  /** The agent that created it; no other agent can see it. */
  agent: string;
  /** The approval request (`ar_…`) whose release completes it; absent for allowed task-policy calls. */
  approvalId?: string;
  server: string;
  tool: string;
  status: TaskStatus;
  statusMessage?: string;
  createdAt: number;
  lastUpdatedAt: number;
  /** How long from `createdAt` the task stays readable. */
  ttlMs: number;
  pollIntervalMs: number;
  /** Present exactly when `status` is `completed`. */
  result?: TaskResultObject;
  /** Present exactly when `status` is `failed`. */
  error?: TaskError;
  /** When `input_required`: the questions still unanswered, by key (unique over the task's life). */
  inputRequests?: Record<string, unknown>;
  /**
   * For an allowed call running as a task: until when the replica running it has vouched that it still
   * does (epoch ms). Past it, the replica is taken for lost and the task fails. Absent for held calls,
   * whose approval job survives any replica.
   */
  leaseUntil?: number;
}

/** Suggested polling interval for clients. */
export const DEFAULT_POLL_INTERVAL_MS = 5000;

/** True for statuses after which nothing else happens to the task. */
export function isTerminalTaskStatus(status: TaskStatus): boolean {
  return TERMINAL_TASK_STATUSES.includes(status);
}

/** True for strings that are a task status. */
export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}

/**
 * A held call's task lives through the approval's timeout and then as long as the call's result is
 * kept, so the agent can still read the outcome after the deadline.
 */
export function heldTaskTtlMs(approvalTimeoutMs: number, resultRetentionMs: number): number {
  return approvalTimeoutMs + resultRetentionMs;
}
