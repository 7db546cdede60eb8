import type { Redis, Cluster } from 'ioredis';
import type { HistoryKeys } from '../redis/keyspace.js';
import type { HistoryRecord, HistoryStatus } from './history-record.js';
import { decodeCursor, encodeCursor, type Position } from './history-cursor.js';
import { IndexWalk } from './index-walk.js';

/** What to select; every field is optional and all given ones must hold. */
export interface HistoryFilter {
  /** Any of these statuses. */
  statuses?: readonly HistoryStatus[];
  server?: string;
  tool?: string;
  agent?: string;
  /** Oldest `createdAt` included, epoch ms. */
  since?: number;
  /** Newest `createdAt` included, epoch ms. */
  until?: number;
  /** true: only calls shadow mode let run (records carrying `shadow`); false: none of them. */
  shadow?: boolean;
}

/** Which page to read. */
export interface PageRequest {
  /** Records per page. */
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /**
   * Index entries one call may examine before it answers with what it found and a cursor to continue;
   * bounds the time of a query whose filters match little of the index it walks. @defaultValue 20000
   */
  scanBudget?: number;
}

/** One page, newest first. A page may be shorter than `limit` and still have a `nextCursor`. */
export interface HistoryPage {
  records: HistoryRecord[];
  nextCursor?: string;
}

interface Dimension {
  name: 'status' | 'tool' | 'server' | 'agent';
  /** The record is in the dimension when it is in any of these indexes. */
  keys: string[];
}

interface Plan {
  /** Indexes whose union is walked. */
  drive: string[];
  /** Dimensions the walked indexes do not already guarantee, checked by index membership. */
  check: Dimension[];
}

const MAX_CHUNK = 1000;

/**
 * Answers a history query from the indexes: picks the smallest index (or union of indexes) that covers
 * some of the filters, counted within the time range, walks it newest first in chunks, drops entries
 * missing from the other filters' indexes (ZMSCORE), then reads the records and checks every filter
 * against them, so a record that changed status mid-query is never shown under its old one.
 */
export async function queryHistory(
  redis: Redis | Cluster,
  keys: HistoryKeys,
  recordKey: (id: string) => string,
  filter: HistoryFilter,
  page: PageRequest,
): Promise<HistoryPage> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const limit = page.limit;
  const budget = page.scanBudget ?? 20_000;
  const min = filter.since ?? -Infinity;
  const max = filter.until ?? Infinity;
  if (min > max) return { records: [] };
  const plan = await choosePlan(redis, keys, filter, min, max);
  const walk = new IndexWalk(redis, plan.drive, { min, max, ...(after ? { after } : {}) });
  const found: { record: HistoryRecord; at: Position }[] = [];
  let chunk = plan.check.length ? Math.min(Math.max((limit + 1) * 2, 64), MAX_CHUNK) : limit + 1;
  let scanned = 0;
  while (!walk.done && found.length <= limit && scanned < budget) {
    let entries = await walk.next(chunk);
    scanned += entries.length;
    if (plan.check.length && entries.length) entries = await membersOfAll(redis, plan.check, entries);
    const records = await readRecords(
      redis,
      recordKey,
      entries.map((e) => e.id),
    );
    for (let i = 0; i < entries.length && found.length <= limit; i++) {
      const r = records[i];
      if (r && matches(r, filter)) found.push({ record: r, at: entries[i]! });
    }
    chunk = Math.min(chunk * 2, MAX_CHUNK);
  }
  if (found.length > limit) {
    return {
      records: found.slice(0, limit).map((f) => f.record),
      nextCursor: encodeCursor(found[limit - 1]!.at),
    };
  }
  const records = found.map((f) => f.record);
  if (walk.done) return { records };
  // Budget spent: resume after the last entry examined, whether or not it matched.
  const at = walk.position;
  return at ? { records, nextCursor: encodeCursor(at) } : { records };
}

/** True when the record satisfies every filter; the final word after the index-based narrowing. */
export function matches(r: HistoryRecord, f: HistoryFilter): boolean {
  if (f.statuses?.length && !f.statuses.includes(r.status)) return false;
  if (f.server !== undefined && r.server !== f.server) return false;
  if (f.tool !== undefined && r.tool !== f.tool) return false;
  if (f.agent !== undefined && r.agent !== f.agent) return false;
  if (f.since !== undefined && r.createdAt < f.since) return false;
  if (f.until !== undefined && r.createdAt > f.until) return false;
  if (f.shadow !== undefined && ('shadow' in r && r.shadow !== undefined) !== f.shadow) return false;
  return true;
}

async function choosePlan(
  redis: Redis | Cluster,
  keys: HistoryKeys,
  f: HistoryFilter,
  min: number,
  max: number,
): Promise<Plan> {
  const dims: Dimension[] = [];
  const statuses = f.statuses?.length ? [...new Set(f.statuses)] : undefined;
  if (statuses) dims.push({ name: 'status', keys: statuses.map((s) => keys.status(s)) });
  if (f.tool !== undefined) dims.push({ name: 'tool', keys: [keys.tool(f.tool)] });
  if (f.server !== undefined) dims.push({ name: 'server', keys: [keys.server(f.server)] });
  if (f.agent !== undefined) dims.push({ name: 'agent', keys: [keys.agent(f.agent)] });
  if (!dims.length) return { drive: [keys.all], check: [] };

  const candidates: { drive: string[]; covers: Set<Dimension['name']> }[] = [];
  if (statuses && f.tool !== undefined) {
    const tool = f.tool;
    candidates.push({
      drive: statuses.map((s) => keys.toolStatus(tool, s)),
      covers: new Set(['status', 'tool']),
    });
  }
  // With tool and status and nothing else, the composite index is exact: no need to count.
  if (!(candidates.length && dims.length === 2)) {
    for (const d of dims) candidates.push({ drive: d.keys, covers: new Set([d.name]) });
  }
  let best = candidates[0]!;
  if (candidates.length > 1) {
    const pipe = redis.pipeline();
    for (const c of candidates) for (const k of c.drive) pipe.zcount(k, bound(min), bound(max));
    const counts = ((await pipe.exec()) ?? []).map(([err, n]) => {
      if (err) throw err;
      return Number(n);
    });
    let at = 0;
    let bestCount = Infinity;
    for (const c of candidates) {
      let total = 0;
      for (let i = 0; i < c.drive.length; i++) total += counts[at++]!;
      if (total < bestCount) [best, bestCount] = [c, total];
    }
  }
  return { drive: best.drive, check: dims.filter((d) => !best.covers.has(d.name)) };
}

/** Keeps the entries present in every dimension (in any of a dimension's indexes). */
async function membersOfAll<T extends { id: string }>(
  redis: Redis | Cluster,
  dims: Dimension[],
  entries: T[],
): Promise<T[]> {
  const ids = entries.map((e) => e.id);
  const pipe = redis.pipeline();
  for (const d of dims) for (const k of d.keys) pipe.zmscore(k, ...ids);
  const replies = (await pipe.exec()) ?? [];
  const keep = new Array<boolean>(ids.length).fill(true);
  let at = 0;
  for (const d of dims) {
    const inDim = new Array<boolean>(ids.length).fill(false);
    for (let j = 0; j < d.keys.length; j++) {
      const [err, scores] = replies[at++] ?? [new Error('no reply')];
      if (err) throw err;
      (scores as (string | null)[]).forEach((s, i) => {
        if (s !== null) inDim[i] = true;
      });
    }
    for (let i = 0; i < ids.length; i++) keep[i] = keep[i]! && inDim[i]!;
  }
  return entries.filter((_, i) => keep[i]);
}

/** The records of these ids, aligned with them; undefined where the record is gone (past retention). */
export async function readRecords(
  redis: Redis | Cluster,
  recordKey: (id: string) => string,
  ids: string[],
): Promise<(HistoryRecord | undefined)[]> {
  if (!ids.length) return [];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hget(recordKey(id), 'json');
  const replies = (await pipe.exec()) ?? [];
  return replies.map(([err, raw]) => {
    if (err) throw err;
    return typeof raw === 'string' ? (JSON.parse(raw) as HistoryRecord) : undefined;
  });
}

function bound(score: number): string {
  return score === Infinity ? '+inf' : score === -Infinity ? '-inf' : String(score);
}
