import type { types } from '@slack/bolt';
import type { ApprovalRecord } from '../../core/approval/types.js';
import type { Grant } from '../../core/grants/grant.js';
import { link, slackDate } from './format.js';
import { homeGrantBlocks } from './home-grants.js';
import {
  NOT_AN_APPROVER_TEXT,
  NOTHING_WAITING_TEXT,
  consoleHomeUrl,
  moreLine,
  summaryList,
  type SummaryOptions,
} from './request-summary.js';

/** Blocks Slack accepts in one Home tab view. */
export const HOME_VIEW_MAX_BLOCKS = 100;

/** callback_id of Airlock's Home tab, so its interactions can be told apart from messages'. */
export const HOME_VIEW_CALLBACK_ID = 'airlock_home';

/** What the Home view needs besides the viewer's pending requests. */
export interface HomeViewOptions extends SummaryOptions {
  /** When the view was built (epoch ms), shown as "Updated …" because the tab is re-published, not live. */
  now: number;
  /** Whether the viewer is a configured reviewer; only changes the empty state's wording. */
  isReviewer?: boolean;
  /** More pending requests exist than were read, so the count is a floor. */
  moreUnread?: boolean;
  /** Active grants the viewer may revoke, listed under the requests with a Revoke button each. */
  grants?: readonly Grant[];
}

/**
 * The Home tab for one reviewer: a header with how many requests wait for them, then each one (tool,
 * server, agent, rule, expiry, argument preview, console link, Approve / Reject / Reject with reason),
 * capped at Slack's 100 blocks with "…and K more in the console"; or an empty state.
 */
export function homeView(records: readonly ApprovalRecord[], opts: HomeViewOptions): types.HomeView {
  const updated = `Updated ${slackDate(opts.now)}`;
  const home = consoleHomeUrl(opts.publicUrl);
  const consoleLink = home ? ` · ${link(home, 'Open the console')}` : '';
  if (records.length === 0) {
    const detail = opts.isReviewer
      ? 'No pending request needs your approval right now. New ones appear here as they arrive.'
      : `${NOT_AN_APPROVER_TEXT} Requests you may approve appear here.`;
    return {
      type: 'home',
      callback_id: HOME_VIEW_CALLBACK_ID,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: NOTHING_WAITING_TEXT } },
        { type: 'section', text: { type: 'mrkdwn', text: detail } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `${updated}${consoleLink}` }] },
        ...homeGrantBlocks(opts.grants ?? [], opts.now),
      ],
    };
  }
  const count = `${records.length}${opts.moreUnread ? '+' : ''}`;
  const noun = records.length === 1 && !opts.moreUnread ? 'request' : 'requests';
  // Header and context above the list, one line below it when not everything fits, then the grants.
  const grants = homeGrantBlocks(opts.grants ?? [], opts.now);
  const list = summaryList(records, HOME_VIEW_MAX_BLOCKS - 3 - grants.length, opts);
  const blocks: types.KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: `${count} ${noun} waiting for your approval` } },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `Soonest to expire first · ${updated}${consoleLink}` }],
    },
    ...list.blocks,
  ];
  const rest = records.length - list.shown;
  if (rest > 0 || opts.moreUnread) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: moreLine(rest, Boolean(opts.moreUnread), opts.publicUrl) }],
    });
  }
  blocks.push(...grants);
  return { type: 'home', callback_id: HOME_VIEW_CALLBACK_ID, blocks };
}
