import { identityOf, isEligibleApprover, type IdentityContext } from './identity.js';
import type {
  ApprovalRecord,
  ApprovalStatus,
  EscalationRecord,
  ExecutionInfo,
  ReviewerDecision,
} from './types.js';

/** Why a decision was refused; see refusalToError for what each becomes. */
export type DecisionRefusalCode =
  'ALREADY_DECIDED' | 'NOT_AN_APPROVER' | 'SELF_APPROVAL' | 'DUPLICATE_APPROVAL' | 'EXPIRED';

/** Why a lifecycle transition was refused: a decision refusal, or a move the current status does not allow. */
export type RefusalCode = DecisionRefusalCode | 'INVALID_TRANSITION';

/** A refused transition; `message` is one plain sentence fit for a reviewer or an agent. */
export interface Refusal<C extends RefusalCode = RefusalCode> {
  ok: false;
  code: C;
  message: string;
}

/** A transition that happened; the input record is left untouched. */
export interface Transitioned {
  ok: true;
  record: ApprovalRecord;
}

/** Outcome of applyDecision; `final` says the request left `pending` (so the call may run or be answered). */
export type DecisionResult = (Transitioned & { final: boolean }) | Refusal<DecisionRefusalCode>;

/** Outcome of expire, cancel, startExecution and finishExecution. */
export type TransitionResult = Transitioned | Refusal;

/** What applyDecision needs besides the record: who may decide, and the time now (epoch ms). */
export interface DecisionContext extends IdentityContext {
  now: number;
}

/** True once a request can no longer be decided: every status except `pending`. */
export function isFinal(status: ApprovalStatus): boolean {
  return status !== 'pending';
}

/** True for statuses after which nothing else happens to the request. */
export function isTerminal(status: ApprovalStatus): boolean {
  return (
    status === 'rejected' ||
    status === 'expired' ||
    status === 'cancelled' ||
    status === 'executed' ||
    status === 'failed'
  );
}

/**
 * Records one reviewer's vote. First decision wins: once final, every later vote is refused with who
 * decided. One reject rejects; approval needs `minApprovals` distinct identities (Slack and CLI votes
 * by the same person count once). Votes at or after `expiresAt` are refused even if the deadline job
 * has not fired yet.
 */
export function applyDecision(
  record: ApprovalRecord,
  decision: ReviewerDecision,
  ctx: DecisionContext,
): DecisionResult {
  if (record.status === 'expired' || (record.status === 'pending' && ctx.now >= record.expiresAt)) {
    return refuse('EXPIRED', `Request ${record.id} expired at ${iso(record.expiresAt)} without a decision.`);
  }
  if (record.status !== 'pending') return refuse('ALREADY_DECIDED', alreadyDecided(record));

  const by = identityOf(ctx.reviewers, decision.by);
  if (!mayDecide(record, by, ctx)) {
    return refuse('NOT_AN_APPROVER', `${by} is not an approver for ${record.rule} (request ${record.id}).`);
  }
  if (decision.decision === 'approve') {
    const owner = record.agentOwner === undefined ? undefined : identityOf(ctx.reviewers, record.agentOwner);
    if (owner === by && !record.approval.allowSelfApproval) {
      return refuse(
        'SELF_APPROVAL',
        `${by} owns agent ${record.agent} and may not approve its calls; ask another approver.`,
      );
    }
    if (approvers(record).includes(by)) {
      return refuse(
        'DUPLICATE_APPROVAL',
        `${by} already approved request ${record.id}; it needs another approver.`,
      );
    }
  }

  const vote: ReviewerDecision = { ...decision, by };
  const decisions = [...record.decisions, vote];
  if (decision.decision === 'reject') {
    const next: ApprovalRecord = {
      ...record,
      decisions,
      status: 'rejected',
      decidedAt: ctx.now,
      decidedBy: by,
    };
    if (decision.reason !== undefined) next.reason = decision.reason;
    return { ok: true, record: next, final: true };
  }
  const needed = Math.max(1, record.approval.minApprovals);
  if (approvers({ decisions }).length < needed) {
    return { ok: true, record: { ...record, decisions }, final: false };
  }
  return {
    ok: true,
    record: { ...record, decisions, status: 'approved', decidedAt: ctx.now, decidedBy: by },
    final: true,
  };
}

/** Ends a pending request whose deadline passed. The caller decides when: the deadline job is the clock. */
export function expire(record: ApprovalRecord, now: number): TransitionResult {
  if (record.status !== 'pending') return refuse('ALREADY_DECIDED', alreadyDecided(record));
  return { ok: true, record: { ...record, status: 'expired', decidedAt: now } };
}

/** Withdraws a pending request (agent gave up, policy changed, operator action); the call never runs. */
export function cancel(record: ApprovalRecord, now: number, reason: string): TransitionResult {
  if (record.status !== 'pending') return refuse('ALREADY_DECIDED', alreadyDecided(record));
  return { ok: true, record: { ...record, status: 'cancelled', decidedAt: now, reason } };
}

/** Claims an approved request for its single upstream run; refused from any other status, so it runs once. */
export function startExecution(record: ApprovalRecord, now: number): TransitionResult {
  if (record.status !== 'approved') {
    return refuse(
      'INVALID_TRANSITION',
      `Request ${record.id} is ${record.status}, not approved; it cannot start.`,
    );
  }
  return { ok: true, record: { ...record, status: 'executing', execution: { startedAt: now } } };
}

/** Records how the single upstream run ended: `failed` when it raised or returned isError, else `executed`. */
export function finishExecution(
  record: ApprovalRecord,
  now: number,
  outcome: { isError: boolean; summary?: string },
): TransitionResult {
  if (record.status !== 'executing') {
    return refuse(
      'INVALID_TRANSITION',
      `Request ${record.id} is ${record.status}, not executing; it cannot finish.`,
    );
  }
  const execution: ExecutionInfo = {
    startedAt: record.execution?.startedAt ?? now,
    finishedAt: now,
    isError: outcome.isError,
  };
  if (outcome.summary !== undefined) execution.summary = outcome.summary;
  return { ok: true, record: { ...record, status: outcome.isError ? 'failed' : 'executed', execution } };
}

/** Outcome of escalate and remind: `changed` is false when the step was applied already (a re-delivered job). */
export type FollowUpResult = (Transitioned & { changed: boolean }) | Refusal;

/**
 * Adds escalation step `step`'s approvers to a pending request. Idempotent: a step already applied
 * changes nothing. The original approvers keep their rights; the added ones may decide from every
 * surface and count toward `min_approvals` like them.
 */
export function escalate(record: ApprovalRecord, step: number, now: number): FollowUpResult {
  if (record.status !== 'pending') return refuse('ALREADY_DECIDED', alreadyDecided(record));
  const spec = record.approval.escalate?.[step];
  if (!spec) {
    return refuse('INVALID_TRANSITION', `Request ${record.id} has no escalation step ${step}.`);
  }
  if (record.escalations?.some((e) => e.step === step)) return { ok: true, record, changed: false };
  const entry: EscalationRecord = {
    step,
    at: now,
    approvers: [...spec.approvers],
    ...(spec.channel === undefined ? {} : { channel: spec.channel }),
  };
  const escalations = [...(record.escalations ?? []), entry];
  return { ok: true, record: { ...record, escalations }, changed: true };
}

/** Records reminder number `n` (1-based) of a pending request; idempotent, like escalate. */
export function remind(record: ApprovalRecord, n: number, now: number): FollowUpResult {
  if (record.status !== 'pending') return refuse('ALREADY_DECIDED', alreadyDecided(record));
  const sent = record.reminders ?? [];
  if (sent.length >= n) return { ok: true, record, changed: false };
  return { ok: true, record: { ...record, reminders: [...sent, now] }, changed: true };
}

/** Approvers added by escalation steps so far, without duplicates, in step order. */
export function addedApprovers(record: Pick<ApprovalRecord, 'escalations'>): string[] {
  return [...new Set((record.escalations ?? []).flatMap((e) => e.approvers))];
}

/** Every approvers entry that may decide now: the policy's, then those added by escalation. */
export function approverEntries(record: Pick<ApprovalRecord, 'approval' | 'escalations'>): string[] {
  return [...new Set([...record.approval.approvers, ...addedApprovers(record)])];
}

/**
 * Whether `identity` may decide this request: an approver under the policy (an empty list still means
 * any configured reviewer), or one added by an escalation step.
 */
export function mayDecide(record: ApprovalRecord, identity: string, ctx: IdentityContext): boolean {
  if (isEligibleApprover(record.approval, identity, ctx)) return true;
  const added = addedApprovers(record);
  return added.length > 0 && isEligibleApprover({ ...record.approval, approvers: added }, identity, ctx);
}

/** Distinct identities that approved, in vote order. */
export function approvers(record: Pick<ApprovalRecord, 'decisions'>): string[] {
  const seen: string[] = [];
  for (const d of record.decisions) if (d.decision === 'approve' && !seen.includes(d.by)) seen.push(d.by);
  return seen;
}

function alreadyDecided(record: ApprovalRecord): string {
  const when = iso(record.decidedAt ?? record.createdAt);
  switch (record.status) {
    case 'expired':
      return `Request ${record.id} expired at ${when} without a decision.`;
    case 'cancelled':
      return `Request ${record.id} was cancelled at ${when}${record.reason ? `: ${record.reason}` : ''}.`;
    case 'rejected':
      return `Already decided by ${record.decidedBy ? nameOf(record, record.decidedBy) : 'a reviewer'} at ${when}: rejected.`;
    default: {
      // approved, executing, executed, failed: all were approved; name every approver of a quorum.
      const names = approvers(record).map((id) => nameOf(record, id));
      const by = names.length > 0 ? names.join(', ') : (record.decidedBy ?? 'a reviewer');
      return `Already decided by ${by} at ${when}: approved.`;
    }
  }
}

// Messages read better with the name a reviewer is known by; authorization never uses it.
function nameOf(record: ApprovalRecord, identity: string): string {
  return record.decisions.find((d) => d.by === identity && d.display)?.display ?? identity;
}

function refuse<C extends RefusalCode>(code: C, message: string): Refusal<C> {
  return { ok: false, code, message };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
