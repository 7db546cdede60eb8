import type { ApprovalSpec, GrantScope } from '../policy/types.js';

/** Every approval status, in lifecycle order. */
export const APPROVAL_STATUSES = [
  'pending',
  'approved',
  'rejected',
  'expired',
  'cancelled',
  'executing',
  'executed',
  'failed',
] as const;

/**
 * Where a request is in its life: `pending → approved | rejected | expired | cancelled`, then for
 * approved `executing → executed | failed`.
 */
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** Every surface a reviewer can decide from. */
export const DECISION_VIAS = ['slack', 'console', 'cli', 'api'] as const;

/** The surface a reviewer decided from. */
export type DecisionVia = (typeof DECISION_VIAS)[number];

/** The two votes a reviewer can cast. */
export const REVIEWER_VOTES = ['approve', 'reject'] as const;

/** One reviewer's vote on a request. */
export interface ReviewerDecision {
  /** Canonical reviewer identity (see resolveIdentity): the reviewer id when known, else `slack:<U…>`. */
  by: string;
  /** A human-friendly name for messages (e.g. the Slack display name); never used for authorization. */
  display?: string;
  via: DecisionVia;
  /** Epoch milliseconds. */
  at: number;
  decision: (typeof REVIEWER_VOTES)[number];
  /** Why it was rejected; shown to the agent. */
  reason?: string;
  /** A note left with an approval; kept in history. */
  comment?: string;
  /** The grant this approving vote asked for, already checked against the rule. */
  grant?: GrantTerms;
  /** argumentHash of the edited arguments this approving vote approved instead of the agent's. */
  editedHash?: string;
}

/** How a reviewer changed a request's arguments when approving it (edit, then approve). */
export interface EditRecord {
  /** Canonical identity of the reviewer who edited (and approved). */
  by: string;
  display?: string;
  via: DecisionVia;
  /** Epoch milliseconds. */
  at: number;
  /** The arguments the agent sent; never what runs once edited. */
  originalArgs: Record<string, unknown>;
  /** argumentHash of `originalArgs`; the agent's identical retry still matches it. */
  originalHash: string;
  /** The policy rule that decided for the edited arguments when they were checked. */
  rule: string;
}

/** A grant a reviewer asked for: how long, and how wide. */
export interface GrantTerms {
  durationMs: number;
  scope: GrantScope;
}

/** The grant an approval created: matching calls of the agent run without a new request until `expiresAt`. */
export interface RecordGrant extends GrantTerms {
  /** `gr_…`. */
  id: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** What happened when an approved call ran upstream. */
export interface ExecutionInfo {
  startedAt: number;
  finishedAt?: number;
  isError?: boolean;
  /** Short outcome text (the upstream error, or a result summary) for messages and history. */
  summary?: string;
}

/** Where the request message sits in Slack, so it can be updated in place and threaded. */
export interface SlackMessageRef {
  channel: string;
  ts: string;
}

/** One escalation step that happened: who was added, when, and where the request was posted for them. */
export interface EscalationRecord {
  /** Index into `approval.escalate`. */
  step: number;
  /** Epoch milliseconds. */
  at: number;
  approvers: string[];
  /** The escalation channel named by the step, if any. */
  channel?: string;
  /** The request message posted in `channel`, once posted; decision updates edit it too. */
  slack?: SlackMessageRef;
}

/** One held tool call and everything decided about it; the unit of history. */
export interface ApprovalRecord {
  /** `ar_…`, see newRequestId. */
  id: string;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds after which no decision is accepted. */
  expiresAt: number;
  server: string;
  tool: string;
  agent: string;
  /** The agent's owner from the config (reviewer id or Slack user id); may not self-approve by default. */
  agentOwner?: string;
  /** The exact arguments that will run if approved (the edited ones after an edit); never a redacted copy. */
  args: Record<string, unknown>;
  /** argumentHash(server, tool, args). */
  argsHash: string;
  /** The policy rule that required approval, e.g. `lab/start_vm`. */
  rule: string;
  approval: ApprovalSpec;
  status: ApprovalStatus;
  /** Every accepted vote, in order. */
  decisions: ReviewerDecision[];
  /** When the request left `pending` (decision, expiry or cancellation). */
  decidedAt?: number;
  /** Identity whose vote made the request final; absent for expiry and cancellation. */
  decidedBy?: string;
  /** Rejection or cancellation reason. */
  reason?: string;
  slack?: SlackMessageRef;
  execution?: ExecutionInfo;
  /** When each reminder was sent (epoch ms), in order. */
  reminders?: number[];
  /** Escalation steps that happened, in order. */
  escalations?: EscalationRecord[];
  /** Set when the approval created a grant (every approving vote asked for one). */
  grant?: RecordGrant;
  /** Set when a reviewer approved with changed arguments: `args` and `argsHash` are then the edited ones. */
  edited?: EditRecord;
  /**
   * What the agent declared it can answer when it made the call (its `elicitation`, `sampling` and `roots`
   * capabilities): once approved, the call's tool may ask the agent only these. Absent: nothing.
   */
  clientCapabilities?: Record<string, unknown>;
  /**
   * True when the agent's request takes `input_required` answers (a 2026-07-28 request): the approved
   * call's questions may then reach the agent's held long poll, not only a task.
   */
  inputRequired?: true;
}

/** A record as stored: the pure record plus the bookkeeping its store keeps with it. */
export interface StoredRecord extends ApprovalRecord {
  /** Compare-and-set version; every write bumps it. */
  version: number;
  /** Set once a rejection, expiry or cancellation reached the agent, so its next identical call asks anew. */
  delivered?: boolean;
}
