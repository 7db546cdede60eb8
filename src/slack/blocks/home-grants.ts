import type { types } from '@slack/bolt';
import type { Grant } from '../../core/grants/grant.js';
import { humanDuration } from '../../core/human-duration.js';
import { personMrkdwn, slackDate } from './format.js';
import { BLOCK_KIT_LIMITS } from './limits.js';
import { clip, inlineCode } from './text.js';

/** action_id of a grant's Revoke button on the Home tab; its value is the grant id. */
export const REVOKE_GRANT_ACTION_ID = 'airlock_revoke_grant';

/** Grants listed on the Home tab at most; `airlock grants` and the console list them all. */
export const HOME_GRANTS_MAX = 15;

/**
 * The Home tab's "Active grants" section: each grant the viewer may revoke (tool, server, agent, scope,
 * who granted it, when it expires, how often it was used) with a Revoke button. Nothing when there are none.
 */
export function homeGrantBlocks(grants: readonly Grant[], now: number): types.KnownBlock[] {
  if (grants.length === 0) return [];
  const blocks: types.KnownBlock[] = [
    { type: 'divider' },
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: `${grants.length} active ${grants.length === 1 ? 'grant' : 'grants'}`,
      },
    },
  ];
  for (const g of grants.slice(0, HOME_GRANTS_MAX)) blocks.push(grantSection(g, now));
  const rest = grants.length - HOME_GRANTS_MAX;
  if (rest > 0) {
    blocks.push({
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: `…and ${rest} more: \`airlock grants\` or the console lists them all.` },
      ],
    });
  }
  return blocks;
}

function grantSection(g: Grant, now: number): types.SectionBlock {
  const scope = g.scope === 'tool' ? 'tool scope (any arguments)' : 'exact scope (the approved arguments)';
  const by = g.grantedBy.map((id) => personMrkdwn(id)).join(', ') || 'a reviewer';
  const uses = `${g.uses} ${g.uses === 1 ? 'use' : 'uses'}`;
  const lines = [
    `*${inlineCode(g.tool)}* on ${inlineCode(g.server)} · agent ${inlineCode(g.agent)} · ${scope}`,
    `Granted by ${by} · expires in ${humanDuration(g.expiresAt - now)} (${slackDate(g.expiresAt)}) · ${uses}`,
    `Grant ${inlineCode(g.id, 40)} · request ${inlineCode(g.requestId, 40)}`,
  ];
  return {
    type: 'section',
    // Every piece is escaped and clipped on its own, so the lines stay well under a section's limit.
    text: { type: 'mrkdwn', text: lines.join('\n'), verbatim: true },
    accessory: {
      type: 'button',
      action_id: REVOKE_GRANT_ACTION_ID,
      text: { type: 'plain_text', text: 'Revoke' },
      style: 'danger',
      value: g.id,
      confirm: {
        title: { type: 'plain_text', text: 'Revoke this grant?' },
        text: {
          type: 'plain_text',
          text: clip(
            `${g.agent}'s next matching ${g.tool} call is held for approval again, on every replica.`,
            BLOCK_KIT_LIMITS.confirmText,
          ),
        },
        confirm: { type: 'plain_text', text: 'Revoke' },
        deny: { type: 'plain_text', text: 'Cancel' },
      },
    },
  };
}
