import type { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { decodeCursor } from '../../history/history-cursor.js';
import { HISTORY_STATUSES, isHistoryStatus, type HistoryStatus } from '../../history/history-record.js';
import type { HistoryFilter } from '../../history/history-query.js';
import { MAX_FILTER_CHARS, MAX_LIMIT, SHADOW_FILTER_VALUES, filterQuery, listQuery } from './api-schemas.js';

/** A validated list query. */
export interface ListQuery {
  filter: HistoryFilter;
  limit: number;
  cursor?: string;
}

type Query = Record<string, unknown>;

/**
 * Validates the filters `status, server, tool, agent, since, until, shadow` and turns them into a HistoryFilter;
 * the route's query schema (the filters plus its own) names every parameter allowed. Values are only
 * ever compared for equality or percent-encoded into a key name, never used as patterns or code;
 * anything malformed is a BAD_REQUEST naming the parameter.
 */
export function parseFilter(query: Query, schema: z.ZodObject = filterQuery): HistoryFilter {
  const allowed = new Set(Object.keys(schema.shape));
  for (const name of Object.keys(query)) {
    if (!allowed.has(name)) {
      throw bad(name, `unknown query parameter ${quote(name)}; use ${[...allowed].join(', ')}`);
    }
  }
  const filter: HistoryFilter = {};
  const statuses = parseStatuses(query.status);
  if (statuses) filter.statuses = statuses;
  for (const name of ['server', 'tool', 'agent'] as const) {
    const v = single(query, name);
    if (v !== undefined) filter[name] = v;
  }
  const since = parseTime(query, 'since');
  const until = parseTime(query, 'until');
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
  if (since !== undefined && until !== undefined && since > until) {
    throw bad('since', 'since is after until');
  }
  const shadow = single(query, 'shadow');
  if (shadow !== undefined) {
    if (!(SHADOW_FILTER_VALUES as readonly string[]).includes(shadow))
      throw bad('shadow', `shadow must be true or false, not ${quote(shadow)}`);
    filter.shadow = shadow === 'true';
  }
  return filter;
}

/** Validates a list query: the filters plus `limit` and `cursor`. */
export function parseListQuery(query: Query): ListQuery {
  const filter = parseFilter(query, listQuery);
  const limitText = single(query, 'limit');
  // Digits only: Number() would also take "1e2", " 5" or "0x10".
  const digits = limitText === undefined || /^\d{1,4}$/.test(limitText);
  const limit = listQuery.shape.limit.safeParse(limitText === undefined ? undefined : Number(limitText));
  if (!digits || !limit.success) throw bad('limit', `limit must be a whole number from 1 to ${MAX_LIMIT}`);
  const cursor = single(query, 'cursor');
  if (cursor !== undefined) decodeCursor(cursor); // a bad cursor fails here, as a 400, not mid-query
  return { filter, limit: limit.data, ...(cursor !== undefined ? { cursor } : {}) };
}

/** One string parameter; empty means not given, and it may be given only once. */
export function single(query: Query, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(name, `${name} must be given once, as a plain value`);
  if (v.length > MAX_FILTER_CHARS) throw bad(name, `${name} is longer than ${MAX_FILTER_CHARS} characters`);
  return v === '' ? undefined : v;
}

function parseStatuses(v: unknown): HistoryStatus[] | undefined {
  if (v === undefined) return undefined;
  const parts = (Array.isArray(v) ? v : [v]).map((x) => {
    if (typeof x !== 'string') throw bad('status', 'status must be a plain value or a comma-separated list');
    return x;
  });
  const joined = parts.join(',');
  if (joined.length > MAX_FILTER_CHARS)
    throw bad('status', `status is longer than ${MAX_FILTER_CHARS} characters`);
  const out: HistoryStatus[] = [];
  for (const s of joined.split(',').map((x) => x.trim())) {
    if (s === '') continue;
    if (!isHistoryStatus(s)) {
      throw bad('status', `unknown status ${quote(s)}; use one or more of ${HISTORY_STATUSES.join(', ')}`);
    }
    if (!out.includes(s)) out.push(s);
  }
  return out.length ? out : undefined;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch milliseconds, or an ISO-8601 date (UTC midnight) or date-time with its zone (`Z` or `±hh:mm`). */
function parseTime(query: Query, name: 'since' | 'until'): number | undefined {
  const v = single(query, name);
  if (v === undefined) return undefined;
  let ms = NaN;
  if (/^\d{1,15}$/.test(v)) ms = Number(v);
  else if (ISO_DATE.test(v) || ISO_DATE_TIME.test(v)) ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v);
  if (!Number.isFinite(ms)) {
    throw bad(
      name,
      `${name} must be epoch milliseconds or an ISO-8601 date or date-time with a zone (e.g. 2025-01-31T09:00:00Z)`,
    );
  }
  return ms;
}

function bad(field: string, message: string): AirlockError {
  return new AirlockError('BAD_REQUEST', message, { field: field.slice(0, 40) });
}

/** A caller's value in a message: quoted, escaped and short, so a 10 KB value does not come back. */
function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}
