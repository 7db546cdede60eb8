import { humanDuration } from '../../core/human-duration.js';
import { approvers } from '../../core/approval/state-machine.js';
import type { ApprovalRecord, ReviewerDecision } from '../../core/approval/types.js';
import { decisionLine, slackDate } from './format.js';
import { grantStatusLines, grantVoteNote } from './grant-choice.js';
import { recordMessage, type MessageOptions, type SlackMessage } from './message.js';
import { requestMessage } from './request-message.js';
import { clip, inlineCode } from './text.js';

const REASON_MAX = 1000;
const COMMENT_MAX = 500;

/** The message in the state the record is in; what the Slack layer calls after any change. */
export function messageFor(record: ApprovalRecord, opts: MessageOptions = {}): SlackMessage {
  switch (record.status) {
    case 'pending':
      return requestMessage(record, opts);
    case 'expired':
      return expiredMessage(record, opts);
    case 'cancelled':
      return cancelledMessage(record, opts);
    default:
      return decidedMessage(record, opts);
  }
}

/**
 * The request message after a decision, buttons removed: who approved (every member of a quorum) or
 * who rejected and why, when, from where; once the call ran, how it went. Other statuses are
 * rendered by their own builder.
 */
export function decidedMessage(record: ApprovalRecord, opts: MessageOptions = {}): SlackMessage {
  if (record.status === 'pending' || record.status === 'expired' || record.status === 'cancelled') {
    return messageFor(record, opts);
  }
  if (record.status === 'rejected') {
    const reject = [...record.decisions].reverse().find((d) => d.decision === 'reject');
    const status = reject ? [`:x: *Rejected* by ${decisionLine(reject)}`] : [':x: *Rejected*'];
    const reason = record.reason ?? reject?.reason;
    status.push(reason ? `*Reason:* ${clip(reason, REASON_MAX)}` : '_No reason given._');
    const earlier = approvalLines(record);
    if (earlier.length > 0) status.push('Approved before the rejection:', ...earlier);
    return recordMessage(record, opts, { title: 'Rejected', status });
  }
  const status = approvalLines(record).map((line, i) => (i === 0 ? `:white_check_mark: ${line}` : line));
  if (status.length === 0) status.push(':white_check_mark: *Approved*');
  status.push(...grantStatusLines(record));
  if (record.edited) {
    status.push(
      `The arguments below are the edited ones that run; the agent sent args sha256 ${inlineCode(record.edited.originalHash, 100)}.`,
    );
  }
  const exec = record.execution;
  if (record.status === 'executing') status.push(':hourglass_flowing_sand: Running upstream…');
  if (exec?.finishedAt !== undefined) {
    const took = humanDuration(exec.finishedAt - exec.startedAt);
    status.push(
      record.status === 'failed' ? `:warning: Failed after ${took} (details in thread)` : `Ran in ${took}`,
    );
  }
  return recordMessage(record, opts, { title: 'Approved', status });
}

/** The request message after its deadline passed with no decision; the call was not run. */
export function expiredMessage(record: ApprovalRecord, opts: MessageOptions = {}): SlackMessage {
  const status = [
    `:hourglass: *Expired* — no decision by ${slackDate(record.expiresAt)}; the call was not run.`,
  ];
  const got = approvalLines(record);
  if (got.length > 0) {
    status.push(`Approvals so far (${approvers(record).length} of ${record.approval.minApprovals}):`, ...got);
  }
  return recordMessage(record, opts, { title: 'Expired', status });
}

/** The request message after it was withdrawn; the call was not run. */
export function cancelledMessage(record: ApprovalRecord, opts: MessageOptions = {}): SlackMessage {
  const at = slackDate(record.decidedAt ?? record.createdAt);
  const reason = record.reason ? `: ${clip(record.reason, REASON_MAX)}` : '';
  return recordMessage(record, opts, {
    title: 'Cancelled',
    status: [`:no_entry_sign: *Cancelled* at ${at}${reason}. The call was not run.`],
  });
}

// One line per distinct approver, with their comment.
function approvalLines(record: ApprovalRecord): string[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const d of record.decisions) {
    if (d.decision !== 'approve' || seen.has(d.by)) continue;
    seen.add(d.by);
    const verb = d.editedHash ? '*Approved with changes*' : '*Approved*';
    lines.push(`${verb} by ${decisionLine(d)}${grantVoteNote(d)}${comment(d)}`);
  }
  return lines;
}

function comment(d: ReviewerDecision): string {
  return d.comment ? ` — “${clip(d.comment, COMMENT_MAX)}”` : '';
}
