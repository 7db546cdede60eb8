import { randomBytes } from 'node:crypto';
import { AirlockError } from '../errors.js';
import { humanDuration } from '../human-duration.js';
import { tryParseDuration } from '../policy/duration.js';
import { GRANT_SCOPES, type GrantScope, type GrantSpec } from '../policy/types.js';
import type { ApprovalRecord, GrantTerms, RecordGrant, ReviewerDecision } from '../approval/types.js';

/**
 * A time-bound grant: until `expiresAt`, calls of `agent` to `server`/`tool` (with the arguments of
 * `argsHash` when the scope is `exact`) run without a new request. Made only by an approval.
 */
export interface Grant {
  /** `gr_…`, see {@link newGrantId}. */
  id: string;
  agent: string;
  server: string;
  tool: string;
  scope: GrantScope;
  /** argumentHash(server, tool, args) of the approved call; present for `exact` only. */
  argsHash?: string;
  /** Every identity whose approving vote made the grant, in vote order. */
  grantedBy: string[];
  /** The approval request the grant came with. */
  requestId: string;
  /** The policy rule that required the approval, e.g. `lab/start_vm`. */
  rule: string;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds; the grant matches nothing from then on. */
  expiresAt: number;
  /** Calls that ran under the grant. */
  uses: number;
}

/** A grant as a reviewer asks for it on any surface: `{for: "1h", scope: "tool"}`. */
export interface GrantRequest {
  for: string;
  /** @defaultValue 'exact' */
  scope?: GrantScope;
}

/** The call a grant is looked up for. */
export interface GrantedCall {
  agent: string;
  server: string;
  tool: string;
  argsHash: string;
}

/** Shape of every grant id: `gr_` and 22 base64url characters (128 random bits). */
export const GRANT_ID_PATTERN = /^gr_[A-Za-z0-9_-]{22}$/;

/** A new unguessable grant id, safe in URLs and Redis keys. */
export function newGrantId(): string {
  return `gr_${randomBytes(16).toString('base64url')}`;
}

/** True for strings shaped like a grant id; untrusted ids (URLs, CLI arguments) are checked with it. */
export function isGrantId(value: unknown): value is string {
  return typeof value === 'string' && GRANT_ID_PATTERN.test(value);
}

/** True while `grant` covers `call` at `now`: same agent, server and tool, the scope's arguments, not expired. */
export function grantMatches(grant: Grant, call: GrantedCall, now: number): boolean {
  if (now >= grant.expiresAt) return false;
  if (grant.agent !== call.agent || grant.server !== call.server || grant.tool !== call.tool) return false;
  return grant.scope === 'tool' || (grant.argsHash !== undefined && grant.argsHash === call.argsHash);
}

/**
 * Checks a reviewer's grant request against the rule's `approval.grants` and returns its terms; throws
 * GRANT_NOT_ALLOWED naming what the rule allows (no grants, the offered scopes, the longest duration).
 */
export function validateGrantRequest(
  spec: GrantSpec | undefined,
  req: GrantRequest,
  rule: string,
): GrantTerms {
  if (!spec) {
    throw new AirlockError(
      'GRANT_NOT_ALLOWED',
      `The policy rule ${rule} offers no grants; approve without one.`,
      { rule },
    );
  }
  const scope = req.scope ?? 'exact';
  if (!(GRANT_SCOPES as readonly string[]).includes(scope) || !spec.scopes.includes(scope)) {
    throw new AirlockError(
      'GRANT_NOT_ALLOWED',
      `Grant scope "${String(scope)}" is not offered by ${rule}; offered: ${spec.scopes.join(', ')}.`,
      { rule, scopes: [...spec.scopes] },
    );
  }
  const durationMs = tryParseDuration(req.for);
  if (durationMs === undefined) {
    throw new AirlockError(
      'GRANT_NOT_ALLOWED',
      `Grant duration ${JSON.stringify(req.for)} is not a duration; use a number and a unit, like "30m" or "1h".`,
      { rule },
    );
  }
  if (durationMs > spec.maxMs) {
    throw new AirlockError(
      'GRANT_NOT_ALLOWED',
      `Grant for ${humanDuration(durationMs)} is longer than ${rule} allows (max ${spec.max}).`,
      { rule, max: spec.max },
    );
  }
  return { durationMs, scope };
}

/**
 * The grant a quorum agrees on: only when every approving vote asked for one, the shortest duration
 * and the narrowest scope; undefined otherwise. Votes by one identity count once (its first vote).
 */
export function combineGrantVotes(decisions: readonly ReviewerDecision[]): GrantTerms | undefined {
  const seen = new Set<string>();
  let terms: GrantTerms | undefined;
  for (const d of decisions) {
    if (d.decision !== 'approve' || seen.has(d.by)) continue;
    seen.add(d.by);
    if (!d.grant) return undefined;
    terms = terms
      ? {
          durationMs: Math.min(terms.durationMs, d.grant.durationMs),
          scope: narrower(terms.scope, d.grant.scope),
        }
      : { ...d.grant };
  }
  return terms;
}

/** The grant an approved record carries, decided at `decidedAt`; undefined when its votes made none. */
export function recordGrantOf(
  record: ApprovalRecord,
  decidedAt: number,
  id = newGrantId(),
): RecordGrant | undefined {
  const terms = combineGrantVotes(record.decisions);
  return terms && { id, ...terms, expiresAt: decidedAt + terms.durationMs };
}

/** The stored grant an approved record with a {@link RecordGrant} stands for. */
export function grantOf(record: ApprovalRecord & { grant: RecordGrant }, grantedBy: string[]): Grant {
  const g = record.grant;
  return {
    id: g.id,
    agent: record.agent,
    server: record.server,
    tool: record.tool,
    scope: g.scope,
    ...(g.scope === 'exact' ? { argsHash: record.argsHash } : {}),
    grantedBy,
    requestId: record.id,
    rule: record.rule,
    createdAt: record.decidedAt ?? g.expiresAt - g.durationMs,
    expiresAt: g.expiresAt,
    uses: 0,
  };
}

function narrower(a: GrantScope, b: GrantScope): GrantScope {
  return GRANT_SCOPES.indexOf(a) <= GRANT_SCOPES.indexOf(b) ? a : b;
}
