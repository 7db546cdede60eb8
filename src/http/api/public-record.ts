import { redactForDisplay } from '../../core/redact.js';
import { isDecisionRecord, type HistoryRecord } from '../../history/history-record.js';

/**
 * What the API shows of a record of either kind, in one shape: `kind` says which, arguments are a
 * redacted display copy, `decisions` is always present, and `responseMs` is the time to the answer
 * (for approval requests, to the decision). Store bookkeeping (`version`, `delivered`) stays inside.
 */
export function publicRecord(r: HistoryRecord) {
  if (isDecisionRecord(r)) {
    const { version: _v, ...rest } = r;
    return { kind: 'direct' as const, ...rest, args: redactForDisplay(r.args), decisions: [] };
  }
  const { version: _v, delivered: _d, args, ...rest } = r;
  return {
    kind: 'approval' as const,
    ...rest,
    args: redactForDisplay(args),
    ...(r.edited
      ? {
          edited: {
            ...r.edited,
            originalArgs: redactForDisplay(r.edited.originalArgs) as Record<string, unknown>,
          },
        }
      : {}),
    ...(r.decidedAt !== undefined ? { responseMs: r.decidedAt - r.createdAt } : {}),
  };
}

/** A record as the API returns it. */
export type PublicRecord = ReturnType<typeof publicRecord>;
