/** Process exit codes of the `airlock` command, documented in the README; the numbers are a public contract. */
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

/** One of the {@link EXIT} numbers. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Every value an agent can read in `_meta["airlock/decision"].status` of a refused call. */
export const DECISION_STATUSES = [
  'denied',
  'rate_limited',
  'pending',
  'rejected',
  'expired',
  'cancelled',
  'failed',
  'unavailable',
  'invalid',
] as const;

/** Machine-readable status in `_meta["airlock/decision"]`. */
export type DecisionStatus = (typeof DECISION_STATUSES)[number];

/** How one error code shows on every surface; each column is the only mapping of its kind. */
export interface ErrorCodeInfo {
  /** Status of the API's JSON error answer. */
  readonly http: number;
  /** Exit code of the `airlock` command. */
  readonly exit: ExitCode;
  /** What the agent reads in `_meta["airlock/decision"].status`. */
  readonly decision: DecisionStatus;
  /** Trying the same thing again later may succeed. */
  readonly retryable: boolean;
  /** Airlock's or an upstream's failure, never the caller's. */
  readonly internal: boolean;
  /** Stands for its HTTP status in an error answer that carries no Airlock code (a proxy's page, say). */
  readonly bareStatus: boolean;
}

type Flag = 'retryable' | 'internal' | 'bare-status';

function row(http: number, exit: ExitCode, decision: DecisionStatus, ...flags: Flag[]): ErrorCodeInfo {
  return Object.freeze({
    http,
    exit,
    decision,
    retryable: flags.includes('retryable'),
    internal: flags.includes('internal'),
    bareStatus: flags.includes('bare-status'),
  });
}

// Codes only the agent ever meets (policy refusals, approval outcomes) still get an HTTP status and an
// exit code, so that every surface can render every code. `row` takes every column but the flags, so a
// code cannot be added without saying how each surface shows it.
const TABLE = {
  CONFIG_INVALID: row(400, EXIT.INVALID, 'unavailable'),
  POLICY_INVALID: row(400, EXIT.INVALID, 'unavailable'),
  POLICY_DENIED: row(403, EXIT.INVALID, 'denied'),
  RATE_LIMITED: row(429, EXIT.INVALID, 'rate_limited', 'retryable', 'bare-status'),
  APPROVAL_PENDING: row(409, EXIT.INVALID, 'pending', 'retryable'),
  APPROVAL_REJECTED: row(403, EXIT.INVALID, 'rejected'),
  APPROVAL_EXPIRED: row(409, EXIT.REFUSED, 'expired'),
  APPROVAL_CANCELLED: row(409, EXIT.INVALID, 'cancelled'),
  // Also what the CLI reports when the gateway itself does not answer.
  APPROVAL_UNAVAILABLE: row(503, EXIT.UNAVAILABLE, 'unavailable', 'retryable', 'internal', 'bare-status'),
  ALREADY_DECIDED: row(409, EXIT.REFUSED, 'unavailable', 'bare-status'),
  NOT_AN_APPROVER: row(403, EXIT.REFUSED, 'unavailable'),
  SELF_APPROVAL: row(403, EXIT.REFUSED, 'unavailable'),
  // A reviewer asked for a grant the rule does not offer (none, another scope, too long); nothing is recorded.
  GRANT_NOT_ALLOWED: row(400, EXIT.INVALID, 'invalid'),
  // An approval with edited arguments on a rule without allow_edit (or a reject carrying them); nothing is recorded.
  EDIT_NOT_ALLOWED: row(400, EXIT.INVALID, 'invalid'),
  // Edited arguments that fail the tool's input schema; the message names the JSON path.
  EDIT_INVALID: row(400, EXIT.INVALID, 'invalid'),
  // The policy, evaluated again on the edited arguments, would not let them through; the request stays pending.
  EDIT_REFUSED: row(409, EXIT.REFUSED, 'denied'),
  NOT_FOUND: row(404, EXIT.NOT_FOUND, 'unavailable', 'bare-status'),
  UNAUTHORIZED: row(401, EXIT.REFUSED, 'unavailable', 'bare-status'),
  // The HTTP listener refuses a request for where it comes from (a foreign Host or Origin), not for who sent it.
  FORBIDDEN: row(403, EXIT.REFUSED, 'unavailable', 'bare-status'),
  BAD_REQUEST: row(400, EXIT.INVALID, 'invalid', 'bare-status'),
  UNKNOWN_TOOL: row(404, EXIT.INVALID, 'denied'),
  UPSTREAM_UNAVAILABLE: row(503, EXIT.UNAVAILABLE, 'unavailable', 'retryable', 'internal'),
  UPSTREAM_ERROR: row(502, EXIT.UNAVAILABLE, 'failed', 'retryable', 'internal'),
  QUEUE_UNAVAILABLE: row(503, EXIT.UNAVAILABLE, 'unavailable', 'retryable', 'internal'),
  REDIS_UNAVAILABLE: row(503, EXIT.UNAVAILABLE, 'unavailable', 'retryable', 'internal'),
  INTERNAL: row(500, EXIT.UNAVAILABLE, 'unavailable', 'retryable', 'internal'),
};

/** String codes for every failure Airlock knows about: the keys of {@link ERROR_CODES}. */
export type AirlockErrorCode = keyof typeof TABLE;

/** The one table of error codes: every surface's view of a code is read from here. */
export const ERROR_CODES: Readonly<Record<AirlockErrorCode, ErrorCodeInfo>> = Object.freeze(TABLE);

/** True for a string that is one of Airlock's error codes (as read off the wire). */
export function isAirlockErrorCode(code: string): code is AirlockErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * The code an HTTP error answer stands for when it carries no Airlock code: the table's code for that
 * status, else the generic unavailable (5xx) or bad-request code.
 */
export function codeOfHttpStatus(status: number): AirlockErrorCode {
  const standing = (s: number) =>
    (Object.keys(ERROR_CODES) as AirlockErrorCode[]).find(
      (code) => ERROR_CODES[code].bareStatus && ERROR_CODES[code].http === s,
    );
  return standing(status) ?? standing(status >= 500 ? 503 : 400)!;
}

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

  /** True when trying the same thing again later may succeed. */
  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  /** True when the failure is Airlock's or an upstream's, never the caller's. */
  get internal(): boolean {
    return ERROR_CODES[this.code].internal;
  }
}

/** Wraps anything thrown into an AirlockError, keeping AirlockErrors as they are. */
export function toAirlockError(err: unknown, fallback: AirlockErrorCode = 'INTERNAL'): AirlockError {
  if (err instanceof AirlockError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AirlockError(fallback, message, {}, { cause: err });
}
