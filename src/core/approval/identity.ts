import { AirlockError } from '../errors.js';
import type { ApprovalSpec } from '../policy/types.js';

/** The part of a configured reviewer that identity needs; config reviewers fit it as they are. */
export interface ReviewerRef {
  id: string;
  slack?: string;
}

/** What eligibility checks need to know besides the policy. */
export interface IdentityContext {
  reviewers: readonly ReviewerRef[];
  /** Slack user-group id (S…) → member Slack user ids, as fetched from Slack. A group missing here has no members. */
  groupMembers: Readonly<Record<string, readonly string[]>>;
  /**
   * Lets anyone decide when the policy lists no approvers. Only for the open mode Airlock allows on
   * loopback with no reviewers configured. @defaultValue false
   */
  openAccess?: boolean;
}

/** Prefix of the canonical identity of a Slack user who is not a configured reviewer. */
export const SLACK_IDENTITY_PREFIX = 'slack:';

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
const SLACK_GROUP_ID = /^S[A-Z0-9]{2,}$/;

/** True for strings shaped like a Slack user id (`U…`, or `W…` on Enterprise Grid). */
export function isSlackUserId(value: string): boolean {
  return SLACK_USER_ID.test(value);
}

/**
 * The one identity of whoever is deciding, so the same person via Slack and via the CLI counts once:
 * the reviewer id when the reviewer (or their Slack id) is configured, else `slack:<U…>`.
 */
export function resolveIdentity(
  reviewers: readonly ReviewerRef[],
  who: { reviewerId?: string; slackUserId?: string },
): string {
  if (who.reviewerId !== undefined && who.reviewerId !== '') {
    // A reviewer id comes from an authenticated token, so it is taken as is even when no longer configured.
    return reviewers.find((r) => r.id === who.reviewerId)?.id ?? who.reviewerId;
  }
  if (who.slackUserId !== undefined && who.slackUserId !== '') {
    return (
      reviewers.find((r) => r.slack === who.slackUserId)?.id ?? `${SLACK_IDENTITY_PREFIX}${who.slackUserId}`
    );
  }
  throw new AirlockError('BAD_REQUEST', 'A decision needs a reviewer id or a Slack user id.');
}

/**
 * Canonical identity of a name written in config or policy (an agent `owner`, an approvers entry, or an
 * identity already canonical): a reviewer id stays, a Slack user id becomes its reviewer's id when one
 * is configured, else `slack:<U…>`. Idempotent. Reviewer ids win over Slack-shaped readings.
 */
export function identityOf(reviewers: readonly ReviewerRef[], ref: string): string {
  if (reviewers.some((r) => r.id === ref)) return ref;
  const slackId = ref.startsWith(SLACK_IDENTITY_PREFIX) ? ref.slice(SLACK_IDENTITY_PREFIX.length) : ref;
  const reviewer = reviewers.find((r) => r.slack !== undefined && r.slack === slackId);
  if (reviewer) return reviewer.id;
  if (isSlackUserId(slackId)) return `${SLACK_IDENTITY_PREFIX}${slackId}`;
  return ref;
}

/** The Slack user id behind a canonical identity, when there is one; used for group membership and mentions. */
export function slackUserIdOf(reviewers: readonly ReviewerRef[], identity: string): string | undefined {
  if (identity.startsWith(SLACK_IDENTITY_PREFIX)) return identity.slice(SLACK_IDENTITY_PREFIX.length);
  return reviewers.find((r) => r.id === identity)?.slack;
}

/** True when `identity` is a configured reviewer. */
export function isConfiguredReviewer(reviewers: readonly ReviewerRef[], identity: string): boolean {
  return reviewers.some((r) => r.id === identity);
}

/**
 * Whether `identity` may decide under `spec`. Approvers entries may be reviewer ids, Slack user ids or
 * Slack user-group ids (S…). An empty list means any configured reviewer (or anyone, with openAccess).
 * Unknown group membership counts as "not a member": eligibility fails closed.
 */
export function isEligibleApprover(spec: ApprovalSpec, identity: string, ctx: IdentityContext): boolean {
  const { reviewers } = ctx;
  const who = identityOf(reviewers, identity);
  if (spec.approvers.length === 0) return ctx.openAccess === true || isConfiguredReviewer(reviewers, who);
  const slackId = slackUserIdOf(reviewers, who);
  return spec.approvers.some((entry) => {
    if (!isConfiguredReviewer(reviewers, entry) && SLACK_GROUP_ID.test(entry)) {
      return slackId !== undefined && (ctx.groupMembers[entry]?.includes(slackId) ?? false);
    }
    return identityOf(reviewers, entry) === who;
  });
}
