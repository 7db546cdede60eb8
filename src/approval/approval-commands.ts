import { AirlockError, toAirlockError } from '../core/errors.js';
import type { ApprovalRecord, DecisionVia, ReviewerDecision } from '../core/approval/types.js';
import { dedupeKey, argumentHash } from '../core/approval/canonical.js';
import {
  applyDecision,
  approverEntries,
  approvers,
  cancel as cancelTransition,
  type DecisionContext,
} from '../core/approval/state-machine.js';
import { grantOf, recordGrantOf, validateGrantRequest } from '../core/grants/grant.js';
import { checkEditAllowed, checkEditorMayApprove, withEdit } from '../core/approval/edit.js';
import type { EditChecker } from './edit-check.js';
import type { GrantTerms } from '../core/approval/types.js';
import type { GrantService } from '../grants/grant-service.js';
import type { Logger } from '../log.js';
import { identityOf, resolveIdentity, type ReviewerRef } from '../core/approval/identity.js';
import { isRefusalError, refusalToError } from '../core/approval/refusal.js';
import type { HeldCall } from '../gateway/gateway.js';
import type { ApprovalStore, StoredRecord } from './approval-store.js';
import type { ApprovalEmitter, DecisionInput } from './approval-events.js';
import type { ApprovalJobs } from './approval-jobs.js';
import type { RecordTransitions } from './record-transitions.js';

/** Options for {@link ApprovalCommands}. */
export interface ApprovalCommandsOptions {
  store: ApprovalStore;
  transitions: RecordTransitions;
  /** Deadline jobs to add, promote on approval and drop when a request ends without running. */
  jobs: Pick<ApprovalJobs, 'schedule' | 'release' | 'drop' | 'repair'>;
  /** Receives `created`, `decided`, `refused` and `cancelled`. */
  events: ApprovalEmitter;
  reviewers: readonly ReviewerRef[];
  agents: readonly { id: string; owner?: string }[];
  /** Resolves Slack user groups to their members (cached by the caller). @defaultValue no groups */
  groupMembers?: (groupIds: string[]) => Promise<Record<string, string[]>>;
  /** Anyone may decide when no reviewers are configured (loopback-only open mode). */
  openAccess: boolean;
  /** Where an approval's grant is stored. @defaultValue none: approvals with a grant are refused */
  grants?: Pick<GrantService, 'create'>;
  /** Checks edited arguments (schema, policy). @defaultValue none: approvals with edited arguments are refused */
  edits?: Pick<EditChecker, 'check'>;
  logger?: Logger;
  /** The clock. @defaultValue Date.now */
  now?: () => number;
}

/** Edit refusals are audited like other refused decisions. */
const EDIT_REFUSALS: ReadonlySet<string> = new Set(['EDIT_NOT_ALLOWED', 'EDIT_INVALID', 'EDIT_REFUSED']);

function display(input: DecisionInput): { display?: string } {
  return input.display ? { display: input.display } : {};
}

/** What changes a request from outside the worker: submitting it, a reviewer's decision, a withdrawal. */
export class ApprovalCommands {
  private readonly now: () => number;

  constructor(private readonly o: ApprovalCommandsOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The record of a request. */
  async get(id: string): Promise<StoredRecord | undefined> {
    return this.o.store.get(id);
  }

  /** Pending requests, oldest first. */
  async pending(limit = 200): Promise<StoredRecord[]> {
    return this.o.store.getMany(await this.o.store.pendingIds(limit));
  }

  /** Stores the request for a held call with its deadline job, or attaches an identical retry to its request. */
  async submit(call: HeldCall): Promise<StoredRecord> {
    const spec = call.decision.approval!;
    const now = this.now();
    const owner = this.o.agents.find((a) => a.id === call.agent)?.owner;
    const record: ApprovalRecord = {
      id: call.requestId,
      createdAt: now,
      expiresAt: now + spec.timeoutMs,
      server: call.server,
      tool: call.tool,
      agent: call.agent,
      ...(owner ? { agentOwner: owner } : {}),
      args: call.args,
      argsHash: argumentHash(call.server, call.tool, call.args),
      rule: call.decision.rule,
      approval: spec,
      status: 'pending',
      decisions: [],
      ...answerable(call.clientCapabilities),
      ...(call.inputRequired && { inputRequired: true as const }),
    };
    try {
      const res = await this.o.store.createOrAttach(
        record,
        dedupeKey(call.agent, call.server, call.tool, call.args),
      );
      const stored = res.record;
      if (res.created) {
        await this.o.jobs.schedule(stored).catch(async (err) => {
          // Without its deadline job the request could hang forever; withdraw it and fail closed.
          const withdraw = (r: StoredRecord) => cancelTransition(r, this.now(), 'approval queue unavailable');
          await this.o.transitions.apply(stored.id, withdraw, stored).catch(() => {});
          throw err;
        });
        this.o.events.emit('created', stored);
      } else {
        // The identical retry of a call whose replica died between two writes finishes them, so the call
        // is not left waiting for its deadline (a lost release) or pending for ever (a lost deadline).
        await this.o.jobs.repair(stored).catch((err: unknown) => {
          this.o.logger?.warn({ err, requestId: stored.id }, 'could not repair an attached request');
        });
      }
      return stored;
    } catch (err) {
      const e = toAirlockError(err, 'QUEUE_UNAVAILABLE');
      throw new AirlockError(
        'QUEUE_UNAVAILABLE',
        `Call to ${call.server}/${call.tool} needs approval, but the approval queue is unreachable (${e.message}); it was not run.`,
        { rule: call.decision.rule },
      );
    }
  }

  /** Records a reviewer's decision (first decision wins across replicas) and releases an approved call. */
  async decide(id: string, input: DecisionInput): Promise<StoredRecord> {
    try {
      const by = resolveIdentity(this.o.reviewers, {
        reviewerId: input.reviewerId,
        slackUserId: input.slackUserId,
      });
      const grant = await this.grantTerms(id, input);
      const edit = await this.checkedEdit(id, input, by);
      // Each attempt votes anew, so the emitted decision is the one in the record that was written.
      let decision: ReviewerDecision | undefined;
      const outcome = await this.o.transitions.apply(id, async (current) => {
        decision = {
          by,
          via: input.via,
          at: this.now(),
          decision: input.decision,
          ...(input.display ? { display: input.display } : {}),
          ...(input.reason ? { reason: input.reason } : {}),
          ...(input.comment ? { comment: input.comment } : {}),
          ...(grant ? { grant } : {}),
          ...(edit ? { editedHash: edit.hash } : {}),
        };
        if (edit && current.argsHash !== edit.against) {
          throw new AirlockError('ALREADY_DECIDED', `Request ${id} changed while the edit was checked.`);
        }
        const result = applyDecision(current, decision, await this.context(current, input.via));
        if (edit && result.ok && result.record.status !== 'approved') {
          // Only the deciding vote may edit; anything else would run arguments fewer reviewers saw.
          throw new AirlockError('EDIT_NOT_ALLOWED', `An edit must be the deciding approval of ${id}.`);
        }
        if (!result.ok || result.record.status !== 'approved') return result;
        // The edit and the grant are part of the approving write: the approval binds to the edited hash,
        // an exact grant to the same, and the record never says approved without saying either.
        const approved = edit
          ? withEdit(result.record, {
              ...edit,
              by: decision.by,
              via: input.via,
              at: decision.at,
              ...display(input),
            })
          : result.record;
        const made = recordGrantOf(approved, approved.decidedAt ?? this.now());
        return { ...result, record: made ? { ...approved, grant: made } : approved };
      });
      if (outcome.kind === 'missing') throw new AirlockError('NOT_FOUND', `Request ${id} not found`);
      if (outcome.kind === 'refused') throw refusalToError(outcome.refusal);
      if (outcome.kind !== 'written' || !decision) {
        throw new AirlockError('INTERNAL', `Request ${id}: the decision was neither written nor refused`);
      }
      const written = outcome.record;
      this.o.events.emit('decided', written, decision);
      if (written.status === 'approved' && written.grant && this.o.grants) {
        const made = grantOf({ ...written, grant: written.grant }, approvers(written));
        // The approval stands without its grant: later calls are then held again, which fails closed.
        await this.o.grants.create(made).catch((err: unknown) => {
          this.o.logger?.warn({ err, requestId: id }, 'could not store the grant of an approval');
        });
      }
      if (written.status === 'approved') await this.o.jobs.release(id);
      else if (written.status === 'rejected') void this.o.jobs.drop(id);
      return written;
    } catch (err) {
      const e = toAirlockError(err, 'QUEUE_UNAVAILABLE');
      if (isRefusalError(e) || EDIT_REFUSALS.has(e.code)) this.o.events.emit('refused', id, input, e);
      throw e;
    }
  }

  /** Withdraws a pending request (the agent cancelled, or an operator did); undefined if it was not pending. */
  async cancel(id: string, reason: string): Promise<StoredRecord | undefined> {
    const outcome = await this.o.transitions.apply(id, (current) =>
      cancelTransition(current, this.now(), reason),
    );
    if (outcome.kind !== 'written') return undefined;
    this.o.events.emit('cancelled', outcome.record);
    void this.o.jobs.drop(id);
    return outcome.record;
  }

  /** Checks a requested grant against the request's rule before anything is written; undefined without one. */
  private async grantTerms(id: string, input: DecisionInput): Promise<GrantTerms | undefined> {
    if (!input.grant) return undefined;
    if (input.decision !== 'approve') {
      throw new AirlockError('BAD_REQUEST', 'A grant comes only with an approval.');
    }
    const record = await this.o.store.get(id);
    if (!record) throw new AirlockError('NOT_FOUND', `Request ${id} not found`);
    const spec = this.o.grants ? record.approval.grants : undefined;
    return validateGrantRequest(spec, input.grant, record.rule);
  }

  /**
   * Checks edited arguments against the request's rule, the tool's schema and the policy before anything
   * is written; undefined without an edit, or when the edit changes nothing (then it is a plain approval).
   */
  private async checkedEdit(id: string, input: DecisionInput, by: string) {
    if (input.args === undefined) return undefined;
    if (input.decision !== 'approve') {
      throw new AirlockError('EDIT_NOT_ALLOWED', 'Edited arguments come only with an approval.');
    }
    const record = await this.o.store.get(id);
    if (!record) throw new AirlockError('NOT_FOUND', `Request ${id} not found`);
    // A decided request is refused by the decision itself, with who decided.
    if (record.status !== 'pending') return undefined;
    checkEditAllowed(record);
    if (!this.o.edits) {
      throw new AirlockError('EDIT_NOT_ALLOWED', 'Edits are not available on this gateway; approve as sent.');
    }
    const checked = this.o.edits.check(record, input.args);
    const other = checked.decision.approval?.approvers ?? [];
    const ctx = await this.context(record, input.via, other);
    checkEditorMayApprove(record, checked.decision, identityOf(this.o.reviewers, by), ctx);
    const hash = argumentHash(record.server, record.tool, checked.args);
    return hash === record.argsHash ? undefined : { ...checked, hash, against: record.argsHash };
  }

  private async context(
    record: StoredRecord,
    via: DecisionVia,
    moreApprovers: readonly string[] = [],
  ): Promise<DecisionContext> {
    const entries = [...new Set([...approverEntries(record), ...moreApprovers])];
    const groups = entries.filter((a) => /^S[A-Z0-9]{2,}$/.test(a));
    const groupMembers = groups.length && this.o.groupMembers ? await this.o.groupMembers(groups) : {};
    // Open mode trusts whoever reaches the loopback console/API/CLI; it never extends to a Slack channel.
    const openAccess = this.o.openAccess && via !== 'slack';
    return { reviewers: this.o.reviewers, groupMembers, openAccess, now: this.now() };
  }
}

/** The capabilities an approved call's tool may use to ask the agent; the others are not Airlock's to keep. */
const ANSWERABLE = ['elicitation', 'sampling', 'roots'] as const;

/** The agent's answerable capabilities as the record keeps them; nothing when it declared none. */
function answerable(
  declared: Record<string, unknown> | undefined,
): Pick<ApprovalRecord, 'clientCapabilities'> {
  const kept = Object.fromEntries(
    ANSWERABLE.filter((k) => {
      const v = declared?.[k];
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    }).map((k) => [k, declared![k]]),
  );
  return Object.keys(kept).length > 0 ? { clientCapabilities: kept } : {};
}
