import { humanDuration } from '../../core/human-duration.js';
import type { types } from '@slack/bolt';
import { approvers } from '../../core/approval/state-machine.js';
import type { ApprovalRecord, ApprovalStatus, ReviewerDecision } from '../../core/approval/types.js';
import { redactForDisplay } from '../../core/redact.js';
import { argumentBlocks } from './arguments.js';
import { consoleUrl, decisionLine, link, slackDate } from './format.js';
import { ACTIONS_BLOCK_ID } from './ids.js';
import { BLOCK_KIT_LIMITS } from './limits.js';
import type { SlackMessage } from './message.js';
import { requestMessage } from './request-message.js';
import { clip, inlineCode, neutraliseFences } from './text.js';

/** What request summaries and details may be told besides the records. */
export interface SummaryOptions {
  /** Base URL of the console (config `publicUrl`); enables console links. */
  publicUrl?: string;
}

/** What the `/airlock pending` answer needs besides the records. */
export interface PendingListOptions extends SummaryOptions {
  /** Whether the caller is a configured reviewer; only changes the empty answer's wording. */
  isReviewer?: boolean;
  /** More pending requests exist than were read, so the count is a floor. */
  moreUnread?: boolean;
}

/** What `/airlock show` needs besides the record. */
export interface DetailOptions extends SummaryOptions {
  /** Show Approve / Reject buttons (the request is pending and the caller may decide it). */
  canDecide?: boolean;
}

/** Characters of an argument preview in a list: enough to recognise a call, the console has the rest. */
export const ARGUMENT_PREVIEW_CHARS = 300;

/** Blocks one list item takes: a divider, its section and its buttons. */
export const SUMMARY_ITEM_BLOCKS = 3;

/** The empty `/airlock pending` (and Home) answer for someone who is not an approver of anything. */
export const NOT_AN_APPROVER_TEXT = 'You are not an approver for any pending request.';

/** The empty answer for a reviewer with nothing to decide. */
export const NOTHING_WAITING_TEXT = 'Nothing waiting for you';

const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

const STATUS_LABEL: Record<ApprovalStatus, string> = {
  pending: 'Pending',
  approved: 'Approved',
  rejected: 'Rejected',
  expired: 'Expired',
  cancelled: 'Cancelled',
  executing: 'Running',
  executed: 'Executed',
  failed: 'Failed',
};

/**
 * The console's front page (its pending queue), or undefined when `publicUrl` is unset or not http(s).
 * Characters that would end a Slack link are percent-encoded.
 */
export function consoleHomeUrl(publicUrl: string | undefined): string | undefined {
  if (publicUrl === undefined || publicUrl === '') return undefined;
  try {
    const url = new URL(publicUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return `${url.origin}${url.pathname}`
      .replace(/\/+$/, '/')
      .replace(/[|<> ]/g, (c) => encodeURIComponent(c));
  } catch {
    return undefined;
  }
}

/**
 * A call's arguments on one line as inline code: redacted like the request message, bidi controls made
 * visible, escaped and cut to `max` characters.
 */
export function argumentPreview(args: unknown, max = ARGUMENT_PREVIEW_CHARS): string {
  const json = (JSON.stringify(redactForDisplay(args)) ?? 'undefined').replace(
    BIDI_CONTROLS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return inlineCode(json, max);
}

/**
 * The request message's Approve / Reject / Reject with reason buttons (same action ids, values and
 * confirm dialog), under a block id unique to the request so many fit in one view.
 */
export function requestButtons(record: ApprovalRecord): types.ActionsBlock {
  // Taken from the channel message itself so the two surfaces can never drift apart.
  const actions = requestMessage(record).blocks.find((b): b is types.ActionsBlock => b.type === 'actions');
  if (!actions) throw new Error(`the request message of ${record.id} has no buttons`);
  return { ...actions, block_id: `${ACTIONS_BLOCK_ID}:${record.id}`.slice(0, BLOCK_KIT_LIMITS.id) };
}

/** One pending request in a list: tool, server, agent, rule, expiry, argument preview, console link, buttons. */
export function requestSummaryBlocks(record: ApprovalRecord, opts: SummaryOptions = {}): types.KnownBlock[] {
  const url = consoleUrl(opts.publicUrl, record.id);
  const lines = [
    `*${inlineCode(record.tool)}* on ${inlineCode(record.server)} · agent ${inlineCode(record.agent)}`,
    `Rule ${inlineCode(record.rule)} · expires ${slackDate(record.expiresAt)}`,
    argumentPreview(record.args),
    `Request ${inlineCode(record.id, 100)}${url ? ` · ${link(url, 'Open in console')}` : ''}`,
  ];
  if (record.approval.minApprovals > 1) {
    lines.splice(2, 0, `Approvals: ${approvers(record).length} of ${record.approval.minApprovals}`);
  }
  return [
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n'), verbatim: true } },
    requestButtons(record),
  ];
}

/**
 * As many list items as fit in `maxBlocks`, each after a divider; `shown` says how many made it, so
 * the caller can say how many more there are.
 */
export function summaryList(
  records: readonly ApprovalRecord[],
  maxBlocks: number,
  opts: SummaryOptions = {},
): { blocks: types.KnownBlock[]; shown: number } {
  const fit = Math.max(0, Math.floor(maxBlocks / SUMMARY_ITEM_BLOCKS));
  const shown = records.slice(0, fit);
  const blocks = shown.flatMap((r): types.KnownBlock[] => [
    { type: 'divider' },
    ...requestSummaryBlocks(r, opts),
  ]);
  return { blocks, shown: shown.length };
}

/** "…and 12 more in the console", linked when the console's address is known. */
export function moreLine(count: number, orMore: boolean, publicUrl: string | undefined): string {
  const home = consoleHomeUrl(publicUrl);
  const where = home ? link(home, 'the console') : 'the console';
  return `…and ${count}${orMore ? '+' : ''} more in ${where}`;
}

/**
 * The ephemeral answer to `/airlock pending`: the caller's pending requests, soonest to expire first,
 * each with its buttons; as many as one message holds, then how many more.
 */
export function pendingListMessage(
  records: readonly ApprovalRecord[],
  opts: PendingListOptions = {},
): SlackMessage {
  if (records.length === 0) {
    const text = opts.isReviewer
      ? `${NOTHING_WAITING_TEXT}: no pending request needs your approval.`
      : NOT_AN_APPROVER_TEXT;
    return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
  }
  const count = `${records.length}${opts.moreUnread ? '+' : ''}`;
  const title = `${count} ${records.length === 1 && !opts.moreUnread ? 'request' : 'requests'} waiting for your approval`;
  // The title, and a closing line when not everything fits.
  const list = summaryList(records, BLOCK_KIT_LIMITS.messageBlocks - 2, opts);
  const blocks: types.KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${title}*` } },
    ...list.blocks,
  ];
  const rest = records.length - list.shown;
  if (rest > 0 || opts.moreUnread) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: moreLine(rest, Boolean(opts.moreUnread), opts.publicUrl) }],
    });
  }
  return { text: title, blocks };
}

/**
 * The ephemeral answer to `/airlock show ID`: status, facts, arguments (redacted, escaped), every
 * decision, the execution outcome, ids and console link; buttons when the caller may still decide.
 */
export function requestDetail(record: ApprovalRecord, opts: DetailOptions = {}): SlackMessage {
  const url = consoleUrl(opts.publicUrl, record.id);
  const status = STATUS_LABEL[record.status];
  const fields = [
    field('Status', status),
    field('Tool', inlineCode(record.tool)),
    field('Server', inlineCode(record.server)),
    field('Agent', inlineCode(record.agent)),
    field('Rule', inlineCode(record.rule)),
    field('Requested', slackDate(record.createdAt)),
    record.status === 'pending' || record.decidedAt === undefined
      ? field('Expires', slackDate(record.expiresAt))
      : field('Closed', slackDate(record.decidedAt)),
  ];
  const blocks: types.KnownBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: clip(`${status}: ${record.tool}`, BLOCK_KIT_LIMITS.headerText) },
    },
    { type: 'section', fields },
    ...argumentBlocks(record.args, record.id, url, { maxSections: 2 }).blocks,
    section(`*Decisions*\n${decisionsText(record)}`),
  ];
  const execution = executionText(record);
  if (execution) blocks.push(section(`*Execution*\n${execution}`));
  const ids = [`Request ${inlineCode(record.id, 100)}`, `args sha256 ${inlineCode(record.argsHash, 100)}`];
  if (url) ids.push(link(url, 'Open in console'));
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: ids.join(' · ') }] });
  if (opts.canDecide && record.status === 'pending') blocks.push(requestButtons(record));
  const text = clip(
    `${status}: ${record.tool} on ${record.server} for ${record.agent} (request ${record.id})`,
    BLOCK_KIT_LIMITS.messageText,
  );
  return { text, blocks };
}

function field(label: string, value: string): types.MrkdwnElement {
  return { type: 'mrkdwn', text: `*${label}*\n${value}`, verbatim: true };
}

function section(text: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text, verbatim: true } };
}

// Every vote on one line each; whole lines are dropped (never cut) if a huge quorum would overflow a section.
function decisionsText(record: ApprovalRecord): string {
  const lines = record.decisions.map(voteLine);
  if (record.status === 'cancelled')
    lines.push(`:no_entry_sign: Cancelled${record.reason ? `: ${clip(record.reason, 500)}` : ''}`);
  if (record.status === 'expired')
    lines.push(':hourglass: Expired without a decision; the call was not run.');
  if (lines.length === 0) {
    const needed = Math.max(1, record.approval.minApprovals);
    return `_None yet_ (needs ${needed} approval${needed === 1 ? '' : 's'})`;
  }
  const budget = BLOCK_KIT_LIMITS.sectionText - '*Decisions*\n'.length;
  const kept: string[] = [];
  let length = 0;
  for (const [i, line] of lines.entries()) {
    const more = `…and ${lines.length - i} more (see the console)`;
    if (length + line.length + 1 + more.length > budget && i < lines.length - 1) {
      kept.push(more);
      break;
    }
    kept.push(line);
    length += line.length + 1;
  }
  return kept.join('\n');
}

function voteLine(d: ReviewerDecision): string {
  if (d.decision === 'reject') {
    return `:x: Rejected by ${decisionLine(d)}${d.reason ? ` — ${clip(d.reason, 500)}` : ''}`;
  }
  return `:white_check_mark: Approved by ${decisionLine(d)}${d.comment ? ` — “${clip(d.comment, 300)}”` : ''}`;
}

// Upstream output is untrusted: escaped, fenced with fences neutralised, cut short.
function executionText(record: ApprovalRecord): string | undefined {
  const exec = record.execution;
  if (!exec) return record.status === 'approved' ? 'Approved; about to run.' : undefined;
  if (exec.finishedAt === undefined)
    return `:hourglass_flowing_sand: Running since ${slackDate(exec.startedAt)}`;
  const took = humanDuration(exec.finishedAt - exec.startedAt);
  const head = exec.isError ? `:warning: Failed after ${took}` : `:white_check_mark: Ran in ${took}`;
  const summary = exec.summary ? `\n\`\`\`\n${clip(neutraliseFences(exec.summary), 1500)}\n\`\`\`` : '';
  return `${head} (started ${slackDate(exec.startedAt)})${summary}`;
}
