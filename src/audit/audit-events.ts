// One audit line per thing that happened; the chain fields (seq, at, replica, prev, hash) are added by AuditLog.

/** Surface a reviewer decided from. */
export type AuditVia = 'slack' | 'console' | 'cli' | 'api';

/** A request needing approval was created. */
export interface RequestCreatedEvent {
  event: 'request.created';
  requestId: string;
  server: string;
  tool: string;
  agent: string;
  /** sha256 of (server, tool, canonical arguments): the approval is bound to it; arguments themselves stay out of the log. */
  argsHash: string;
  rule: string;
  action: string;
}

/** Reviewers were told about a request (a Slack message, for instance). */
export interface RequestNotifiedEvent {
  event: 'request.notified';
  requestId: string;
  channel: string;
  /** Slack message timestamp (or another channel's message reference). */
  ts: string;
}

/** One reviewer's vote; with min_approvals > 1 a single approve does not yet approve the request. */
export interface DecisionEvent {
  event: 'decision';
  requestId: string;
  by: string;
  via: AuditVia;
  decision: 'approve' | 'reject';
  reason?: string;
  /** An approval with edited arguments: the hash of what runs (the approval binds to it)… */
  argsHash?: string;
  /** …and the hash of the arguments the agent sent (`request.created` carries it as `argsHash`). */
  originalHash?: string;
}

/** Someone tried to decide and was refused (not an approver, self-approval, already decided, ...). */
export interface DecisionRefusedEvent {
  event: 'decision.refused';
  requestId: string;
  by: string;
  via: AuditVia;
  /** An AirlockError code such as NOT_AN_APPROVER or ALREADY_DECIDED. */
  code: string;
  message: string;
}

/** No decision arrived before the request's timeout. */
export interface RequestExpiredEvent {
  event: 'request.expired';
  requestId: string;
}

/** The request was withdrawn before a decision. */
export interface RequestCancelledEvent {
  event: 'request.cancelled';
  requestId: string;
  by?: string;
  reason?: string;
}

/** Approvers of a pending request were reminded (reminder `n`, from 1). */
export interface RequestRemindedEvent {
  event: 'request.reminded';
  requestId: string;
  n: number;
}

/** An escalation step added approvers to a pending request (and, with `channel`, posted it there). */
export interface RequestEscalatedEvent {
  event: 'request.escalated';
  requestId: string;
  /** Index into the rule's `approval.escalate`. */
  step: number;
  approvers: string[];
  channel?: string;
}

/** The approved call was released upstream. */
export interface ExecutionStartedEvent {
  event: 'execution.started';
  requestId: string;
}

/** The upstream call returned (or failed). */
export interface ExecutionFinishedEvent {
  event: 'execution.finished';
  requestId: string;
  isError: boolean;
  durationMs: number;
  /** Short human summary of the result; long strings are capped (see AuditLogOptions.maxStringBytes). */
  summary?: string;
}

/** Fields shared by decisions the policy made without a human. */
interface DirectDecisionFields {
  /** Present when the call belongs to a request (e.g. an identical retry); direct decisions usually have none. */
  requestId?: string;
  server: string;
  tool: string;
  agent: string;
  rule: string;
  argsHash?: string;
}

/** The policy denied a call. */
export interface PolicyDeniedEvent extends DirectDecisionFields {
  event: 'policy.denied';
  reason?: string;
}

/** The policy allowed a call without approval. */
export interface PolicyAllowedEvent extends DirectDecisionFields {
  event: 'policy.allowed';
  /** Shadow mode let the call run although the policy would have refused or held it. */
  shadow?: { would: 'denied' | 'rate_limited' | 'held'; rule: string; reason?: string };
}

/** A call was refused by a rate limit. */
export interface RateLimitedEvent extends DirectDecisionFields {
  event: 'rate_limited';
  counter: string;
  /** Seconds until a call is allowed again. */
  retryAfter: number;
}

/** Fields every grant event carries. */
interface GrantFields {
  grantId: string;
  server: string;
  tool: string;
  agent: string;
}

/** An approval created a grant: matching calls of the agent run without a new request until `expiresAt`. */
export interface GrantCreatedEvent extends GrantFields {
  event: 'grant.created';
  requestId: string;
  scope: string;
  argsHash?: string;
  grantedBy: string[];
  /** ISO time. */
  expiresAt: string;
}

/** A call that needed approval ran under a grant; `requestId` is the call's own id. */
export interface GrantUsedEvent extends GrantFields {
  event: 'grant.used';
  requestId: string;
  rule: string;
  argsHash?: string;
}

/** A reviewer ended a grant before its expiry. */
export interface GrantRevokedEvent extends GrantFields {
  event: 'grant.revoked';
  by: string;
}

/** Someone was refused the revocation of an active grant (Slack's Home tab checks who may); it stays active. */
export interface GrantRevokeRefusedEvent extends GrantFields {
  event: 'grant.revoke_refused';
  by: string;
  via: AuditVia;
  /** An AirlockError code such as NOT_AN_APPROVER. */
  code: string;
  message: string;
}

/** A grant reached its expiry. */
export interface GrantExpiredEvent extends GrantFields {
  event: 'grant.expired';
  uses: number;
}

/** A policy file was (re)loaded and is now in force. */
export interface PolicyReloadedEvent {
  event: 'policy.reloaded';
  server: string;
  file: string;
  /** sha256 of the file's bytes, so an auditor can tell which version was in force. */
  sha256: string;
}

/** A policy file failed validation; the last good policy stays in force. */
export interface PolicyInvalidEvent {
  event: 'policy.invalid';
  file: string;
  issues: Array<{ path: string; message: string }>;
}

/** A replica started. */
export interface AirlockStartedEvent {
  event: 'airlock.started';
  version: string;
  pid: number;
}

/** A replica stopped cleanly. */
export interface AirlockStoppedEvent {
  event: 'airlock.stopped';
  version: string;
  pid: number;
}

/** Everything a caller may append to the audit log. */
export type AuditEvent =
  | RequestCreatedEvent
  | RequestNotifiedEvent
  | DecisionEvent
  | DecisionRefusedEvent
  | RequestExpiredEvent
  | RequestCancelledEvent
  | RequestRemindedEvent
  | RequestEscalatedEvent
  | ExecutionStartedEvent
  | ExecutionFinishedEvent
  | PolicyDeniedEvent
  | PolicyAllowedEvent
  | RateLimitedEvent
  | GrantCreatedEvent
  | GrantUsedEvent
  | GrantRevokedEvent
  | GrantRevokeRefusedEvent
  | GrantExpiredEvent
  | PolicyReloadedEvent
  | PolicyInvalidEvent
  | AirlockStartedEvent
  | AirlockStoppedEvent;

/**
 * Written by AuditLog itself when the file ends in bytes that are not an intact line (a writer crashed
 * mid-write): the broken bytes are kept, and this line chains on the last intact line.
 */
export interface AuditRecoveredEvent {
  event: 'audit.recovered';
  /** Bytes between the end of the last intact line and the end of the file, left as they were. */
  truncatedBytes: number;
}

/** Any event that can appear in the file. */
export type AuditLineEvent = AuditEvent | AuditRecoveredEvent;

/** Chain fields every line carries besides its event. */
export interface AuditChainFields {
  /** 1 for the first line, then +1 per line across all replicas. */
  seq: number;
  /** ISO time the event was appended. */
  at: string;
  replica: string;
  /** `hash` of the previous line; 64 zeros for the first. */
  prev: string;
  /** sha256 hex of the canonical JSON of this line without `hash`. */
  hash: string;
}

/** One parsed line of the audit file. */
export type AuditLine = AuditLineEvent & AuditChainFields;
