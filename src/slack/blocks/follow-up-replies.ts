import type { ReviewerRef } from '../../core/approval/identity.js';
import { approverEntries } from '../../core/approval/state-machine.js';
import type { ApprovalRecord } from '../../core/approval/types.js';
import { slackDate } from './format.js';
import { escapeSlack, inlineCode } from './text.js';

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
const SLACK_GROUP_ID = /^S[A-Z0-9]{2,}$/;
const SLACK_CHANNEL_ID = /^[CG][A-Z0-9]{2,}$/;

/**
 * One approvers entry as a mention that pings: a Slack user `<@U…>`, a user group `<!subteam^S…>`, a
 * reviewer through their Slack id; a reviewer without one is named, escaped.
 */
export function approverMention(entry: string, reviewers: readonly ReviewerRef[]): string {
  const reviewer = reviewers.find((r) => r.id === entry);
  if (reviewer)
    return reviewer.slack && SLACK_USER_ID.test(reviewer.slack) ? `<@${reviewer.slack}>` : escapeSlack(entry);
  if (SLACK_USER_ID.test(entry)) return `<@${entry}>`;
  if (SLACK_GROUP_ID.test(entry)) return `<!subteam^${entry}>`;
  return escapeSlack(entry);
}

/** The thread reply re-pinging everyone who may decide a pending request. */
export function reminderReply(record: ApprovalRecord, reviewers: readonly ReviewerRef[]): { text: string } {
  const entries = approverEntries(record);
  // No approvers listed means any configured reviewer: ping those Slack knows.
  const who = entries.length > 0 ? entries : reviewers.filter((r) => r.slack).map((r) => r.id);
  const mentions = who.map((e) => approverMention(e, reviewers)).join(' ');
  return {
    text:
      `:bell: Reminder${mentions ? ` ${mentions}` : ''}: ${inlineCode(record.tool)} on ${inlineCode(record.server)} ` +
      `for ${escapeSlack(record.agent)} still waits for a decision; it expires ${slackDate(record.expiresAt)}.`,
  };
}

/** The reply naming the approvers an escalation step added (and where the request was posted for them). */
export function escalationReply(
  record: ApprovalRecord,
  step: number,
  reviewers: readonly ReviewerRef[],
): { text: string } {
  const entry = record.escalations?.find((e) => e.step === step);
  const mentions = (entry?.approvers ?? []).map((e) => approverMention(e, reviewers)).join(' ');
  const where =
    entry?.channel && SLACK_CHANNEL_ID.test(entry.channel)
      ? ` It is also posted in <#${entry.channel}>.`
      : '';
  return {
    text:
      `:rotating_light: Escalated: ${mentions} may now decide ${inlineCode(record.tool)} on ` +
      `${inlineCode(record.server)} for ${escapeSlack(record.agent)}; it expires ${slackDate(record.expiresAt)}.${where}`,
  };
}
