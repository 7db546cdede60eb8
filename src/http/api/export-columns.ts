import type { PublicRecord } from './public-record.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

type Row = PublicRecord & {
  decidedBy?: string;
  decidedAt?: number;
  reason?: string;
  responseMs?: number;
  code?: string;
  expiresAt?: number;
  execution?: { startedAt?: number; finishedAt?: number; isError?: boolean; summary?: string };
  /** A direct record names the grant it ran under; an approval record the grant it created. */
  grant?: string | { id: string; scope: string; expiresAt: number };
  shadow?: { would: string; rule: string; reason?: string };
  edited?: { by: string; at: number; originalHash: string };
};

const grantId = (g: Row['grant']) => (typeof g === 'string' ? g : g?.id);

/** The CSV export's columns, in order: header name and how to read it from a record. */
export const EXPORT_COLUMNS: readonly [string, (r: Row) => unknown][] = [
  ['id', (r) => r.id],
  ['kind', (r) => r.kind],
  ['createdAt', (r) => iso(r.createdAt)],
  ['status', (r) => r.status],
  ['server', (r) => r.server],
  ['tool', (r) => r.tool],
  ['agent', (r) => r.agent],
  ['rule', (r) => r.rule],
  ['argsHash', (r) => r.argsHash],
  ['args', (r) => JSON.stringify(r.args)],
  ['decidedBy', (r) => r.decidedBy],
  ['decidedAt', (r) => iso(r.decidedAt)],
  ['reason', (r) => r.reason],
  ['code', (r) => r.code],
  [
    'decisions',
    (r) =>
      r.decisions
        .map((d) => `${d.decision} by ${d.by} via ${d.via} at ${iso(d.at)}${d.reason ? `: ${d.reason}` : ''}`)
        .join('; '),
  ],
  ['responseMs', (r) => r.responseMs],
  ['expiresAt', (r) => iso(r.expiresAt)],
  ['executionStartedAt', (r) => iso(r.execution?.startedAt)],
  ['executionFinishedAt', (r) => iso(r.execution?.finishedAt)],
  ['executionIsError', (r) => r.execution?.isError],
  ['executionSummary', (r) => r.execution?.summary],
  // An allowed call that ran under a grant (direct), or the grant an approval created (approval).
  ['grant', (r) => grantId(r.grant)],
  ['grantScope', (r) => (typeof r.grant === 'object' ? r.grant.scope : undefined)],
  ['grantExpiresAt', (r) => (typeof r.grant === 'object' ? iso(r.grant.expiresAt) : undefined)],
  // Shadow mode: what an enforced policy would have done to a call it let run.
  ['shadowWould', (r) => r.shadow?.would],
  ['shadowRule', (r) => r.shadow?.rule],
  ['shadowReason', (r) => r.shadow?.reason],
  // Edit, then approve: `args` and `argsHash` are what ran; these say who changed them and from what.
  ['editedBy', (r) => r.edited?.by],
  ['editedAt', (r) => iso(r.edited?.at)],
  ['originalArgsHash', (r) => r.edited?.originalHash],
];

/** The values of one record's CSV row. */
export function exportRow(r: PublicRecord): unknown[] {
  return EXPORT_COLUMNS.map(([, read]) => read(r as Row));
}
