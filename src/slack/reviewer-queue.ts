import type { ApprovalService } from '../approval/approval-service.js';
import type { StoredRecord } from '../approval/approval-store.js';
import {
  isConfiguredReviewer,
  resolveIdentity,
  type IdentityContext,
  type ReviewerRef,
} from '../core/approval/identity.js';
import { approverEntries, approvers, mayDecide } from '../core/approval/state-machine.js';
import type { ApprovalRecord } from '../core/approval/types.js';

/** What {@link ReviewerQueue} reads from. */
export interface ReviewerQueueOptions {
  approvals: Pick<ApprovalService, 'pending'>;
  reviewers: readonly ReviewerRef[];
  /** Slack user-group id → members (the integration's cached lookup; unreachable groups are empty). */
  groupMembers: (groupIds: string[]) => Promise<Record<string, string[]>>;
  /** Pending requests read per listing. @defaultValue 1000 */
  readLimit?: number;
  now?: () => number;
}

/** One read of the pending requests, shared by every viewer a refresh serves. */
export interface PendingSnapshot {
  records: StoredRecord[];
  groupMembers: Record<string, string[]>;
  /** False when `readLimit` cut the read, so counts are floors. */
  complete: boolean;
  /** When it was read (epoch ms). */
  at: number;
}

/** The requests waiting for one Slack user's decision. */
export interface WaitingFor {
  /** The Slack user's canonical identity (`alice`, or `slack:U…`). */
  identity: string;
  /** A configured reviewer (as opposed to a Slack user no config names). */
  isReviewer: boolean;
  /** Soonest to expire first. */
  records: StoredRecord[];
  /** More pending requests exist than were read. */
  moreUnread: boolean;
}

const SLACK_GROUP_ID = /^S[A-Z0-9]{2,}$/;

/**
 * True when `identity` can still move `record` forward: it is pending and not past its deadline, the
 * identity is an eligible approver (Slack is never open access), and it has not approved it already
 * (a quorum request it approved waits for someone else).
 */
export function awaitsDecisionFrom(
  record: ApprovalRecord,
  identity: string,
  ctx: IdentityContext,
  now: number,
): boolean {
  if (record.status !== 'pending' || record.expiresAt <= now) return false;
  if (!mayDecide(record, identity, { ...ctx, openAccess: false })) return false;
  return !approvers(record).includes(identity);
}

/**
 * The pending requests a Slack user may decide, for the Home tab and `/airlock pending`: the same
 * eligibility rule the decision itself applies, so a listed button is one the user may press.
 */
export class ReviewerQueue {
  private readonly readLimit: number;
  private readonly now: () => number;

  constructor(private readonly o: ReviewerQueueOptions) {
    this.readLimit = o.readLimit ?? 1000;
    this.now = o.now ?? Date.now;
  }

  /** Reads the pending requests and the members of every user group they name. */
  async snapshot(): Promise<PendingSnapshot> {
    const records = await this.o.approvals.pending(this.readLimit);
    const groups = [
      ...new Set(records.flatMap((r) => approverEntries(r).filter((a) => SLACK_GROUP_ID.test(a)))),
    ];
    const groupMembers = groups.length > 0 ? await this.o.groupMembers(groups) : {};
    return { records, groupMembers, complete: records.length < this.readLimit, at: this.now() };
  }

  /** The Slack user's canonical identity (their reviewer id when configured). */
  identityOf(slackUserId: string): string {
    return resolveIdentity(this.o.reviewers, { slackUserId });
  }

  /** What in `snapshot` waits for the Slack user, soonest to expire first. */
  waitingFor(snapshot: PendingSnapshot, slackUserId: string): WaitingFor {
    const identity = this.identityOf(slackUserId);
    const ctx: IdentityContext = { reviewers: this.o.reviewers, groupMembers: snapshot.groupMembers };
    const records = snapshot.records
      .filter((r) => awaitsDecisionFrom(r, identity, ctx, snapshot.at))
      .sort((a, b) => a.expiresAt - b.expiresAt || a.createdAt - b.createdAt);
    return {
      identity,
      isReviewer: isConfiguredReviewer(this.o.reviewers, identity),
      records,
      moreUnread: !snapshot.complete,
    };
  }

  /** {@link waitingFor} on a fresh snapshot. */
  async pendingFor(slackUserId: string): Promise<WaitingFor> {
    return this.waitingFor(await this.snapshot(), slackUserId);
  }

  /**
   * Whether the Slack user may look at `record` (`/airlock show`): configured reviewers may see any
   * request, like in the console; anyone else only those they are an approver of or voted on.
   */
  async mayView(record: ApprovalRecord, slackUserId: string): Promise<{ view: boolean; decide: boolean }> {
    const identity = this.identityOf(slackUserId);
    const groups = approverEntries(record).filter((a) => SLACK_GROUP_ID.test(a));
    const groupMembers = groups.length > 0 ? await this.o.groupMembers(groups) : {};
    const ctx: IdentityContext = { reviewers: this.o.reviewers, groupMembers, openAccess: false };
    const eligible = mayDecide(record, identity, ctx);
    const voted = record.decisions.some((d) => d.by === identity);
    return {
      view: eligible || voted || isConfiguredReviewer(this.o.reviewers, identity),
      decide: awaitsDecisionFrom(record, identity, ctx, this.now()),
    };
  }
}
