import { randomBytes } from 'node:crypto';

/** Shape of every task id: `tk_` and 32 base64url characters (192 random bits). */
export const TASK_ID_PATTERN = /^tk_[A-Za-z0-9_-]{32}$/;

/** A new unguessable task id; the id alone is what a client holds, so it must not be predictable. */
export function newTaskId(): string {
  // 24 bytes encode to exactly 32 base64url characters, with no padding.
  return `tk_${randomBytes(24).toString('base64url')}`;
}

/** True for strings shaped like a task id; ids from clients are checked with it before any lookup. */
export function isTaskId(value: unknown): value is string {
  return typeof value === 'string' && TASK_ID_PATTERN.test(value);
}
