import type { ApprovalService } from '../approval/approval-service.js';
import { resolveIdentity, type IdentityContext, type ReviewerRef } from '../core/approval/identity.js';
import { approverEntries, mayDecide } from '../core/approval/state-machine.js';
import type { ApprovalRecord } from '../core/approval/types.js';
import { AirlockError } from '../core/errors.js';
import type { Grant } from '../core/grants/grant.js';
import type { GrantService } from '../grants/grant-service.js';

/** What {@link GrantAccess} reads from. */
export interface GrantAccessOptions {
  grants: Pick<GrantService, 'list' | 'revoke' | 'refuseRevoke'>;
  approvals: Pick<ApprovalService, 'get'>;
  reviewers: readonly ReviewerRef[];
  /** Slack user-group id → members (the integration's cached lookup; unreachable groups are empty). */
  groupMembers: (groupIds: string[]) => Promise<Record<string, string[]>>;
}

const SLACK_GROUP_ID = /^S[A-Z0-9]{2,}$/;

/**
 * Which grants a Slack user may see and revoke on the Home tab: those of a rule they are an approver of
 * (the approvers of the request that made the grant, as a decision on it would check, Slack never being
 * open access), and those they granted themselves. Every change goes through the grant service.
 */
export class GrantAccess {
  constructor(private readonly o: GrantAccessOptions) {}

  /** The active grants `slackUserId` may revoke, soonest to expire first. */
  async revocableBy(slackUserId: string): Promise<Grant[]> {
    const identity = resolveIdentity(this.o.reviewers, { slackUserId });
    const grants = await this.o.grants.list();
    const records = new Map<string, ApprovalRecord | undefined>();
    const allowed: Grant[] = [];
    for (const grant of grants) {
      if (!records.has(grant.requestId))
        records.set(grant.requestId, await this.o.approvals.get(grant.requestId));
      if (await this.may(grant, records.get(grant.requestId), identity)) allowed.push(grant);
    }
    return allowed;
  }

  /**
   * Revokes grant `id` for `slackUserId` (audited as grant.revoked by their identity); NOT_FOUND when it
   * is unknown, expired or already revoked, NOT_AN_APPROVER when they may not (audited as
   * grant.revoke_refused), nothing changed then.
   */
  async revoke(id: string, slackUserId: string): Promise<Grant> {
    const identity = resolveIdentity(this.o.reviewers, { slackUserId });
    const grant = (await this.o.grants.list()).find((g) => g.id === id);
    if (!grant) {
      throw new AirlockError(
        'NOT_FOUND',
        `Grant ${id.slice(0, 40)} is not active any more (it expired or was revoked); nothing to revoke.`,
      );
    }
    if (!(await this.may(grant, await this.o.approvals.get(grant.requestId), identity))) {
      const refusal = new AirlockError(
        'NOT_AN_APPROVER',
        `${identity} is not an approver for ${grant.rule}, so may not revoke its grant ${grant.id}.`,
      );
      this.o.grants.refuseRevoke(grant, identity, 'slack', refusal);
      throw refusal;
    }
    return this.o.grants.revoke(grant.id, identity);
  }

  private async may(grant: Grant, record: ApprovalRecord | undefined, identity: string): Promise<boolean> {
    if (grant.grantedBy.includes(identity)) return true;
    // A grant outliving its request's record is left to the people who made it, the CLI and the console.
    if (!record) return false;
    const groups = approverEntries(record).filter((a) => SLACK_GROUP_ID.test(a));
    const groupMembers = groups.length > 0 ? await this.o.groupMembers(groups) : {};
    const ctx: IdentityContext = { reviewers: this.o.reviewers, groupMembers, openAccess: false };
    return mayDecide(record, identity, ctx);
  }
}
