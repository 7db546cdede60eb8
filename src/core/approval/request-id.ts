import { randomBytes } from 'node:crypto';

/** Shape of every approval request id: `ar_` and 20 base64url characters (120 random bits). */
export const REQUEST_ID_PATTERN = /^ar_[A-Za-z0-9_-]{20}$/;

/** A new unguessable approval request id, safe in URLs, Redis keys and Slack button values. */
export function newRequestId(): string {
  // 15 bytes encode to exactly 20 base64url characters, with no padding.
  return `ar_${randomBytes(15).toString('base64url')}`;
}

/** True for strings shaped like a request id; untrusted ids (button values, URLs) are checked with it. */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID_PATTERN.test(value);
}
