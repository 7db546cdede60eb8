import type { types } from '@slack/bolt';
import { humanDuration } from '../../core/human-duration.js';
import { tryParseDuration } from '../../core/policy/duration.js';
import type { GrantScope, GrantSpec } from '../../core/policy/types.js';
import type { GrantRequest } from '../../core/grants/grant.js';
import type { ApprovalRecord, ReviewerDecision } from '../../core/approval/types.js';
import { slackDate } from './format.js';
import { BLOCK_KIT_LIMITS } from './limits.js';
import { clip, inlineCode } from './text.js';

/** action_id of the "Approve for…" menu; each option's value is `<request id> <duration> <scope>`. */
export const APPROVE_FOR_ACTION_ID = 'airlock_approve_for';

/** Durations offered when the rule allows them, shortest first; the rule's `max` is always offered too. */
export const GRANT_PRESETS = ['15m', '1h', '4h', '8h', '24h'] as const;

/** Slack's limits on select menu options (UTF-16 units). */
const OPTION_TEXT_MAX = 75;
const OPTION_VALUE_MAX = 150;

const SCOPE_LABEL: Record<GrantScope, string> = {
  exact: 'these exact arguments',
  tool: 'any arguments',
};

/** The durations a rule's grants offer: the presets up to `max`, and `max` itself. Never above `max`. */
export function grantDurations(spec: GrantSpec): string[] {
  const shorter = GRANT_PRESETS.filter((p) => (tryParseDuration(p) ?? Infinity) < spec.maxMs);
  return [...shorter, spec.max];
}

/** The option value for one choice; {@link parseGrantChoice} reads it back. */
export function grantChoiceValue(requestId: string, grant: Required<GrantRequest>): string {
  return `${requestId} ${grant.for} ${grant.scope}`.slice(0, OPTION_VALUE_MAX);
}

/**
 * Reads a chosen option's value. Only its shape is checked here; whether the rule allows the duration
 * and scope is the approval service's to decide, as for every surface.
 */
export function parseGrantChoice(
  value: string | undefined,
): { requestId: string; grant: Required<GrantRequest> } | undefined {
  const parts = (value ?? '').split(' ');
  if (parts.length !== 3) return undefined;
  const [requestId, duration, scope] = parts as [string, string, string];
  if (scope !== 'exact' && scope !== 'tool') return undefined;
  return { requestId, grant: { for: duration, scope } };
}

/**
 * The "Approve for…" menu of a request whose rule offers grants: one option per allowed duration,
 * grouped by allowed scope when there are two. Choosing one approves with that grant, after a confirm
 * dialog (an accidental tap on a phone must not let an agent run unattended).
 */
export function approveForMenu(record: ApprovalRecord): types.StaticSelect | undefined {
  const spec = record.approval.grants;
  if (!spec || spec.scopes.length === 0) return undefined;
  const durations = grantDurations(spec);
  const option = (duration: string, scope: GrantScope, suffix: string): types.PlainTextOption => ({
    text: {
      type: 'plain_text',
      text: clip(`For ${humanDuration(tryParseDuration(duration) ?? 0)}${suffix}`, OPTION_TEXT_MAX),
    },
    value: grantChoiceValue(record.id, { for: duration, scope }),
  });
  const base = {
    type: 'static_select' as const,
    action_id: APPROVE_FOR_ACTION_ID,
    placeholder: { type: 'plain_text' as const, text: 'Approve for…' },
    confirm: {
      title: { type: 'plain_text' as const, text: 'Approve with a grant?' },
      text: {
        type: 'plain_text' as const,
        text: clip(
          `Run this call now, and let ${record.agent}'s matching ${record.tool} calls run without asking for the time you chose, until the grant expires or is revoked.`,
          BLOCK_KIT_LIMITS.confirmText,
        ),
      },
      confirm: { type: 'plain_text' as const, text: 'Approve' },
      deny: { type: 'plain_text' as const, text: 'Cancel' },
    },
  };
  if (spec.scopes.length === 1) {
    const scope = spec.scopes[0]!;
    return { ...base, options: durations.map((d) => option(d, scope, ` · ${SCOPE_LABEL[scope]}`)) };
  }
  return {
    ...base,
    option_groups: spec.scopes.map((scope) => ({
      label: { type: 'plain_text', text: clip(`${record.tool}, ${SCOPE_LABEL[scope]}`, OPTION_TEXT_MAX) },
      options: durations.map((d) => option(d, scope, '')),
    })),
  };
}

/** " with a 1h grant (tool scope)" after an approving vote that asked for one; "" otherwise. */
export function grantVoteNote(d: ReviewerDecision): string {
  return d.grant ? ` with a ${humanDuration(d.grant.durationMs)} grant (${d.grant.scope} scope)` : '';
}

/** The status line of the grant an approval made, or none. */
export function grantStatusLines(record: ApprovalRecord): string[] {
  const g = record.grant;
  if (!g) return [];
  const what = g.scope === 'tool' ? 'with any arguments' : 'with these exact arguments';
  return [
    `:stopwatch: *Grant* ${inlineCode(g.id, 40)} (${g.scope} scope): ${inlineCode(record.agent)}'s ${inlineCode(record.tool)} calls ${what} run without asking until ${slackDate(g.expiresAt)}.`,
  ];
}
