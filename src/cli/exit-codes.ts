import { AirlockError, type AirlockErrorCode } from '../core/errors.js';

/** Process exit codes, documented in the README. */
export const EXIT = {
  OK: 0,
  /** Invalid input (config, policy, arguments), a check that found problems, or a gateway that could not start. */
  INVALID: 1,
  /** Usage error (unknown command or option). */
  USAGE: 2,
  /** Redis, an upstream or the gateway is unreachable; retrying may help. */
  UNAVAILABLE: 3,
  /** The request or resource does not exist. */
  NOT_FOUND: 4,
  /** Refused: already decided, not an approver, self-approval, unauthorized. */
  REFUSED: 5,
} as const;

const BY_CODE: Partial<Record<AirlockErrorCode, number>> = {
  NOT_FOUND: EXIT.NOT_FOUND,
  ALREADY_DECIDED: EXIT.REFUSED,
  NOT_AN_APPROVER: EXIT.REFUSED,
  SELF_APPROVAL: EXIT.REFUSED,
  UNAUTHORIZED: EXIT.REFUSED,
  APPROVAL_EXPIRED: EXIT.REFUSED,
  UPSTREAM_UNAVAILABLE: EXIT.UNAVAILABLE,
  QUEUE_UNAVAILABLE: EXIT.UNAVAILABLE,
  REDIS_UNAVAILABLE: EXIT.UNAVAILABLE,
  APPROVAL_UNAVAILABLE: EXIT.UNAVAILABLE,
  INTERNAL: EXIT.UNAVAILABLE,
};

/** The one place an error becomes a process exit code. */
export function exitCodeOf(err: unknown): number {
  return err instanceof AirlockError ? (BY_CODE[err.code] ?? EXIT.INVALID) : EXIT.UNAVAILABLE;
}

/** Startup failures (`serve`, `stdio`) always exit 1, whatever their cause, so service managers see one code. */
export class StartupError extends AirlockError {}
