import type { RequestRecord } from './api-client.js';
import { formatFacts, formatTime, oneLine, safeText, styles, type Styles } from './table.js';
import { humanDuration } from '../core/human-duration.js';

/** A rule without its `server/` prefix, for a table whose previous column shows the server. */
export function withoutServer(rule: string, server: string): string {
  return rule.startsWith(`${server}/`) ? rule.slice(server.length + 1) : rule;
}

/** `key: value, …` with JSON values; enough to tell calls apart in one table cell. */
export function argsPreview(args: unknown): string {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return JSON.stringify(args) ?? '';
  return Object.entries(args)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(', ');
}

/** The colour a request status is shown in. */
export function statusStyle(s: Styles, status: string): (t: string) => string {
  if (status === 'pending' || status === 'executing') return s.yellow;
  if (status === 'approved' || status === 'executed' || status === 'allowed') return s.green;
  if (status === 'expired' || status === 'cancelled') return s.dim;
  return s.red;
}

/** Everything about one request, as `airlock show` prints it. */
export function formatRecord(r: RequestRecord, now: number, color: boolean): string {
  const s = styles(color);
  const when = (ms: number) =>
    `${formatTime(ms)} (${ms <= now ? `${humanDuration(now - ms)} ago` : `in ${humanDuration(ms - now)}`})`;
  const direct = isDirect(r);
  const facts: [string, string][] = [
    ['Request', r.id],
    ['Status', statusStyle(s, r.status)(r.status) + (direct ? directNote(r) : '')],
    ['Server/tool', safeText(`${r.server}/${r.tool}`)],
    ['Agent', safeText(r.agent)],
    ['Rule', r.rule ? safeText(r.rule) : '(none)'],
    ['Created', when(r.createdAt)],
  ];
  if (r.expiresAt !== undefined && r.status === 'pending') facts.push(['Expires', when(r.expiresAt)]);
  if (r.approval) {
    const who = r.approval.approvers?.length ? r.approval.approvers.join(', ') : 'any reviewer';
    const edits = r.approval.allowEdit ? '; edits allowed: approve --args' : '';
    facts.push(['Approvers', `${safeText(who)} (${r.approval.minApprovals ?? 1} needed${edits})`]);
  }
  if (r.decidedAt !== undefined)
    facts.push(['Decided', `${when(r.decidedAt)}${r.decidedBy ? ` by ${safeText(r.decidedBy)}` : ''}`]);
  if (r.reason) facts.push(['Reason', oneLine(r.reason)]);
  if (r.code) facts.push(['Code', safeText(r.code)]);
  if (r.counter) {
    const retry = r.retryAfter !== undefined ? `, retry after ${r.retryAfter}s` : '';
    facts.push(['Rate limit', `${safeText(r.counter)}${retry}`]);
  }
  if (r.execution) {
    const e = r.execution;
    const took = e.finishedAt !== undefined ? `${humanDuration(e.finishedAt - e.startedAt)}, ` : '';
    const outcome = e.finishedAt === undefined ? 'running' : e.isError ? s.red('error') : 'ok';
    facts.push([
      'Execution',
      `${outcome} (${took}started ${formatTime(e.startedAt)})${e.summary ? `: ${oneLine(e.summary)}` : ''}`,
    ]);
  }
  facts.push(...grantAndShadowFacts(r, when));
  if (r.responseMs !== undefined) facts.push(['Response time', humanDuration(r.responseMs)]);
  if (r.slack) facts.push(['Slack', `channel ${safeText(r.slack.channel)}, message ${safeText(r.slack.ts)}`]);
  if (r.argsHash) facts.push(['Args hash', r.argsHash + (r.edited ? ' (edited)' : '')]);
  if (r.edited) {
    facts.push(
      ['Edited', `by ${safeText(r.edited.by)} via ${safeText(r.edited.via)} at ${formatTime(r.edited.at)}`],
      ['Original hash', r.edited.originalHash],
    );
  }

  const args = safeText(JSON.stringify(r.args, null, 2) ?? 'null');
  const sections = [
    formatFacts(facts, color),
    '',
    s.bold('Arguments') +
      s.dim(r.argsTruncated ? ' (secrets redacted; a preview, cut short)' : ' (secrets redacted)'),
    indent(args),
  ];
  if (r.edited) {
    sections[2] = s.bold('Arguments') + s.dim(' (as edited and run; secrets redacted)');
    sections.push(
      '',
      s.bold('Original arguments') + s.dim(' (as the agent sent them; secrets redacted)'),
      indent(safeText(JSON.stringify(r.edited.originalArgs, null, 2) ?? 'null')),
    );
  }
  const decisions = r.decisions ?? [];
  if (decisions.length) {
    sections.push('', s.bold('Decisions'));
    for (const d of decisions) {
      const note = d.reason ?? d.comment;
      const name = d.display && d.display !== d.by ? `${d.display} (${d.by})` : d.by;
      sections.push(
        indent(
          `${formatTime(d.at)}  ${d.decision === 'approve' ? s.green('approve') : s.red('reject ')}  ${safeText(name)} via ${safeText(d.via)}${voteGrant(d)}${note ? `: ${oneLine(note)}` : ''}`,
        ),
      );
    }
  }
  sections.push(
    '',
    s.bold('Timeline'),
    ...timeline(r, now).map(([at, text]) => indent(`${formatTime(at)}  ${text}`)),
  );
  return sections.join('\n');
}

/** What happened to a request, in order; a pending request ends with when it will expire. */
export function timeline(r: RequestRecord, now: number): [number, string][] {
  const events: [number, string][] = [
    [r.createdAt, `requested by agent ${safeText(r.agent)}${r.rule ? `; rule ${safeText(r.rule)}` : ''}`],
  ];
  if (isDirect(r)) {
    // Policy decides as the call arrives; for an allowed call the upstream run comes after.
    const by = typeof r.grant === 'string' ? `under grant ${safeText(r.grant)}` : 'by policy';
    events.push([
      r.createdAt,
      `${r.status.replace('_', '-')} ${by}${r.reason ? `: ${oneLine(r.reason)}` : ''}${r.shadow ? ` (shadow mode: ${shadowText(r.shadow)})` : ''}`,
    ]);
  }
  for (const d of r.decisions ?? []) {
    const note = d.reason ?? d.comment;
    const verb =
      d.decision === 'approve' ? (d.editedHash ? 'approved with changed arguments' : 'approved') : 'rejected';
    events.push([
      d.at,
      `${verb} by ${safeText(d.by)} via ${safeText(d.via)}${voteGrant(d)}${note ? `: "${oneLine(note)}"` : ''}`,
    ]);
  }
  if (r.grant && typeof r.grant === 'object' && r.decidedAt !== undefined) {
    const g = r.grant;
    events.push([
      r.decidedAt,
      `grant ${safeText(g.id)} created (${safeText(g.scope)} scope, ${humanDuration(g.durationMs)}), until ${formatTime(g.expiresAt)}`,
    ]);
  }
  (r.reminders ?? []).forEach((at, i) => events.push([at, `approvers reminded (reminder ${i + 1})`]));
  for (const e of r.escalations ?? []) {
    const where = e.channel ? `; posted in ${safeText(e.channel)}` : '';
    events.push([e.at, `escalated: ${e.approvers.map(safeText).join(', ')} may decide too${where}`]);
  }
  if (r.decidedAt !== undefined && (r.status === 'expired' || r.status === 'cancelled')) {
    events.push([r.decidedAt, `${r.status}${r.reason ? `: ${oneLine(r.reason)}` : ''}`]);
  }
  if (r.execution) {
    const start = isDirect(r) ? 'the call started upstream' : 'released: the call started upstream';
    events.push([r.execution.startedAt, start]);
    if (r.execution.finishedAt !== undefined) {
      const outcome = r.execution.isError ? 'failed' : 'finished';
      events.push([
        r.execution.finishedAt,
        `${outcome} after ${humanDuration(r.execution.finishedAt - r.execution.startedAt)}${r.execution.summary ? `: ${oneLine(r.execution.summary)}` : ''}`,
      ]);
    }
  }
  if (r.status === 'pending' && r.expiresAt !== undefined) {
    events.push([r.expiresAt, r.expiresAt > now ? 'expires unless decided' : 'deadline passed']);
  }
  // Stable sort: events recorded at the same millisecond keep their causal order.
  return events.sort((a, b) => a[0] - b[0]);
}

/** A history row's status, marked when a grant or shadow mode let the call run: `allowed (grant)`. */
export function statusLabel(r: RequestRecord): string {
  if (typeof r.grant === 'string') return `${r.status} (grant)`;
  if (r.shadow) return `${r.status} (shadow)`;
  return r.status;
}

/** What `airlock history` shows as a record's outcome: shadow verdict, grant, reason or result. */
export function outcomeOf(r: RequestRecord): string {
  const base = r.reason ?? r.execution?.summary ?? '';
  // The status column already says "(shadow)"; the verdict comes first, so a narrow table still shows it.
  if (r.shadow) return `would be ${shadowText(r.shadow)}${base ? ` · ${base}` : ''}`;
  if (typeof r.grant === 'string') return `grant ${r.grant}${base ? ` · ${base}` : ''}`;
  if (r.grant) return `${base ? `${base} · ` : ''}granted ${r.grant.id} (${r.grant.scope})`;
  return base;
}

/** "denied by rule lab/delete_*: reason", what a shadow-mode policy would have done. */
function shadowText(v: NonNullable<RequestRecord['shadow']>): string {
  const would = v.would === 'held' ? 'held for approval' : v.would.replace('_', '-');
  return `${safeText(would)} by rule ${safeText(v.rule)}${v.reason ? `: ${oneLine(v.reason)}` : ''}`;
}

function directNote(r: RequestRecord): string {
  if (typeof r.grant === 'string') return ` (ran under grant ${safeText(r.grant)}, no new review)`;
  if (r.shadow) return ' (shadow mode: policy recorded, not enforced)';
  return ' (decided by policy, no review)';
}

function grantAndShadowFacts(r: RequestRecord, when: (ms: number) => string): [string, string][] {
  const facts: [string, string][] = [];
  if (typeof r.grant === 'string') facts.push(['Grant', `${safeText(r.grant)} (an earlier approval)`]);
  else if (r.grant) {
    const g = r.grant;
    facts.push([
      'Grant',
      `${safeText(g.id)}: ${safeText(g.scope)} scope for ${humanDuration(g.durationMs)}, until ${when(g.expiresAt)}`,
    ]);
  }
  if (r.shadow) facts.push(['Shadow', `would have been ${shadowText(r.shadow)}`]);
  return facts;
}

function voteGrant(d: NonNullable<RequestRecord['decisions']>[number]): string {
  return d.grant
    ? ` with a ${humanDuration(d.grant.durationMs)} grant (${safeText(d.grant.scope)} scope)`
    : '';
}

/** A call policy decided on its own: there was nothing to review. */
function isDirect(r: RequestRecord): boolean {
  return r.kind ? r.kind === 'direct' : !r.approval;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
