import { AirlockError } from '../errors.js';
import { REDACTED, SECRET_KEY_PATTERN } from '../redact.js';
import type { Decision } from '../policy/types.js';
import { argumentHash } from './canonical.js';
import { identityOf, isEligibleApprover, type IdentityContext } from './identity.js';
import type { ApprovalRecord, DecisionVia, EditRecord } from './types.js';

/** Who edits, and what the policy said about the edited arguments. */
export interface EditInput {
  /** The edited arguments, already checked (policy, schema) and with hidden secrets restored. */
  args: Record<string, unknown>;
  by: string;
  display?: string;
  via: DecisionVia;
  at: number;
  /** The rule that decided for the edited arguments. */
  rule: string;
}

/**
 * Throws EDIT_NOT_ALLOWED unless the request's rule lets a reviewer change the arguments: `allow_edit`
 * is set and one approval decides (with a quorum the other votes would count for arguments their
 * reviewers never saw, so that combination is refused, and `policy check` refuses it too).
 */
export function checkEditAllowed(record: Pick<ApprovalRecord, 'approval' | 'rule'>): void {
  if (!record.approval.allowEdit) {
    throw new AirlockError(
      'EDIT_NOT_ALLOWED',
      `The policy rule ${record.rule} does not allow edits (approval.allow_edit); approve the arguments as sent, or reject with a reason.`,
      { rule: record.rule },
    );
  }
  if (record.approval.minApprovals > 1) {
    throw new AirlockError(
      'EDIT_NOT_ALLOWED',
      `The policy rule ${record.rule} needs ${record.approval.minApprovals} approvals; edited arguments need every approver to see them, so approve as sent or reject with a reason.`,
      { rule: record.rule },
    );
  }
}

/**
 * Throws EDIT_REFUSED unless the policy, evaluated again on the edited arguments, lets them through
 * with this one approval: `allow`, or `require_approval` needing a single vote.
 */
export function checkEditedDecision(record: Pick<ApprovalRecord, 'server' | 'tool'>, d: Decision): void {
  const call = `${record.server}/${record.tool}`;
  if (d.action === 'deny') {
    throw new AirlockError(
      'EDIT_REFUSED',
      `The edited arguments are denied by policy (${d.rule}${d.reason ? `: ${d.reason}` : ''}); the request stays pending with the arguments ${call} was called with.`,
      { rule: d.rule, ...(d.reason ? { reason: d.reason } : {}) },
    );
  }
  if (d.action === 'require_approval' && (d.approval?.minApprovals ?? 1) > 1) {
    throw new AirlockError(
      'EDIT_REFUSED',
      `The edited arguments fall under ${d.rule}, which needs ${d.approval?.minApprovals} approvals; one reviewer's edit cannot approve them. The request stays pending.`,
      { rule: d.rule },
    );
  }
}

/**
 * Throws EDIT_REFUSED when the edited arguments fall under another rule that needs approval and the
 * editing reviewer could not approve under it (not its approver, or the agent's owner where that rule
 * forbids self-approval): an edit must not move a call past the people its policy names.
 */
export function checkEditorMayApprove(
  record: Pick<ApprovalRecord, 'rule' | 'agent' | 'agentOwner'>,
  d: Decision,
  by: string,
  ctx: IdentityContext,
): void {
  if (d.action !== 'require_approval' || !d.approval || d.rule === record.rule) return;
  const owner = record.agentOwner === undefined ? undefined : identityOf(ctx.reviewers, record.agentOwner);
  if (!isEligibleApprover(d.approval, by, ctx) || (owner === by && !d.approval.allowSelfApproval)) {
    throw new AirlockError(
      'EDIT_REFUSED',
      `The edited arguments fall under ${d.rule}, which ${by} may not approve; the request stays pending. Reject it and let the agent call again, so that rule's approvers decide.`,
      { rule: d.rule },
    );
  }
}

/**
 * The edited arguments with hidden secrets put back: reviewers only ever see display copies, so a
 * value still `[REDACTED]` under a secret-looking key that the original had at the same place means
 * "keep it", and the original value is used. Anything else is taken as edited.
 */
export function restoreRedacted(
  edited: Record<string, unknown>,
  original: Record<string, unknown>,
): Record<string, unknown> {
  return restore(edited, original) as Record<string, unknown>;
}

function restore(edited: unknown, original: unknown): unknown {
  if (Array.isArray(edited)) {
    const from = Array.isArray(original) ? original : [];
    return edited.map((item, i) => restore(item, from[i]));
  }
  if (edited === null || typeof edited !== 'object') return edited;
  const from =
    original !== null && typeof original === 'object' && !Array.isArray(original)
      ? (original as Record<string, unknown>)
      : {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(edited)) {
    const kept = value === REDACTED && SECRET_KEY_PATTERN.test(key) && Object.hasOwn(from, key);
    // defineProperty, so a `__proto__` key stays an ordinary key of the copy.
    Object.defineProperty(out, key, {
      value: kept ? from[key] : restore(value, from[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * The approved record with the edited arguments in place: `args` and `argsHash` are what runs and what
 * the approval binds to; `edited` keeps the agent's original arguments and their hash.
 */
export function withEdit(record: ApprovalRecord, edit: EditInput): ApprovalRecord {
  const entry: EditRecord = {
    by: edit.by,
    ...(edit.display ? { display: edit.display } : {}),
    via: edit.via,
    at: edit.at,
    originalArgs: record.args,
    originalHash: record.argsHash,
    rule: edit.rule,
  };
  return {
    ...record,
    args: edit.args,
    argsHash: argumentHash(record.server, record.tool, edit.args),
    edited: entry,
  };
}
