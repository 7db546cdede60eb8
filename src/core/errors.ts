/** String codes for every failure Airlock knows about; mapped to agent, HTTP and CLI views in one place each. */
export type AirlockErrorCode =
  | 'CONFIG_INVALID'
  | 'POLICY_INVALID'
  | 'POLICY_DENIED'
  | 'RATE_LIMITED'
  | 'APPROVAL_REQUIRED'
  | 'APPROVAL_PENDING'
  | 'APPROVAL_REJECTED'
  | 'APPROVAL_EXPIRED'
  | 'APPROVAL_CANCELLED'
  | 'APPROVAL_UNAVAILABLE'
  | 'ALREADY_DECIDED'
  | 'NOT_AN_APPROVER'
  | 'SELF_APPROVAL'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'BAD_REQUEST'
  | 'UNKNOWN_TOOL'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_ERROR'
  | 'QUEUE_UNAVAILABLE'
  | 'REDIS_UNAVAILABLE'
  | 'INTERNAL';

/** Codes that describe Airlock's or an upstream's failure, never the caller's. */
const INTERNAL_CODES: ReadonlySet<AirlockErrorCode> = new Set([
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_ERROR',
  'QUEUE_UNAVAILABLE',
  'REDIS_UNAVAILABLE',
  'APPROVAL_UNAVAILABLE',
  'INTERNAL',
]);

/** The one error type Airlock throws on purpose; `details` is safe to show to the caller. */
export class AirlockError extends Error {
  override readonly name = 'AirlockError';
  constructor(
    readonly code: AirlockErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** True when the failure is on Airlock's side (or an upstream's), so retrying later may help. */
  get retryable(): boolean {
    return INTERNAL_CODES.has(this.code) || this.code === 'RATE_LIMITED' || this.code === 'APPROVAL_PENDING';
  }
}

/** Wraps anything thrown into an AirlockError, keeping AirlockErrors as they are. */
export function toAirlockError(err: unknown, fallback: AirlockErrorCode = 'INTERNAL'): AirlockError {
  if (err instanceof AirlockError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AirlockError(fallback, message, {}, { cause: err });
}
