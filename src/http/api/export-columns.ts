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
};

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
];

/** The values of one record's CSV row. */
export function exportRow(r: PublicRecord): unknown[] {
  return EXPORT_COLUMNS.map(([, read]) => read(r as Row));
}
