import type { Redis, Cluster } from 'ioredis';
import { AirlockError } from '../core/errors.js';
import { approvalKeys } from '../approval/approval-store.js';
import { historyKeys, indexKeysOf, type HistoryKeys } from './history-keys.js';
import type { DecisionRecord, HistoryRecord } from './history-record.js';
import { queryHistory, readRecords, type HistoryFilter, type HistoryPage, type PageRequest } from './history-query.js';

// Stores a direct-decision record with its index entries, atomically. Never overwrites: an id that
// already has a record (an approval request) keeps it.
// KEYS: record, index registry, events channel, then every index. ARGV: json, ttl ms, score, id.
const WRITE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[1], 'v', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for i = 4, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[3], ARGV[4])
  redis.call('SADD', KEYS[2], KEYS[i])
end
redis.call('PUBLISH', KEYS[3], ARGV[4])
return 1
`;

const WRITE_COMMAND = 'airlockHistoryWrite';

type WithWrite = { [WRITE_COMMAND](numKeys: number, ...args: string[]): Promise<number> };

/** Options for {@link HistoryStore}. */
export interface HistoryStoreOptions {
  /** How long a record is kept (its TTL; retention trims the indexes). @defaultValue 90 days */
  recordTtlMs?: number;
}

/**
 * The decision history: approval records (written by the ApprovalStore, which maintains the same
 * indexes in its scripts) and direct-decision records (written here), queried through the indexes.
 */
export class HistoryStore {
  readonly keys: HistoryKeys;
  readonly recordTtlMs: number;
  private readonly record: (id: string) => string;
  private readonly events: string;

  constructor(
    private readonly redis: Redis | Cluster,
    prefix: string,
    options: HistoryStoreOptions = {},
  ) {
    this.keys = historyKeys(prefix);
    const ak = approvalKeys(prefix);
    this.record = ak.record;
    this.events = ak.events;
    this.recordTtlMs = options.recordTtlMs ?? 90 * 24 * 60 * 60 * 1000;
    // EVALSHA with a transparent reload, so a million pipelined writes do not resend the script each time.
    if (!(WRITE_COMMAND in redis)) redis.defineCommand(WRITE_COMMAND, { lua: WRITE });
  }

  /** Writes direct-decision records in one pipeline; returns how many were new. */
  async writeMany(records: readonly DecisionRecord[]): Promise<number> {
    if (!records.length) return 0;
    const pipe = this.redis.pipeline() as unknown as WithWrite & { exec(): Promise<[Error | null, unknown][] | null> };
    for (const r of records) {
      const indexes = indexKeysOf(this.keys, r);
      void pipe[WRITE_COMMAND](
        3 + indexes.length,
        this.record(r.id),
        this.keys.registry,
        this.events,
        ...indexes,
        JSON.stringify(r),
        String(this.recordTtlMs),
        String(r.createdAt),
        r.id,
      );
    }
    const replies = await this.run(() => pipe.exec());
    let written = 0;
    for (const [err, n] of replies ?? []) {
      if (err) throw new AirlockError('REDIS_UNAVAILABLE', `History write failed: ${err.message}`, {}, { cause: err });
      if (n === 1) written++;
    }
    return written;
  }

  /** One record of either kind, or undefined when unknown or past retention. */
  async get(id: string): Promise<HistoryRecord | undefined> {
    const [r] = await this.run(() => readRecords(this.redis, this.record, [id]));
    return r;
  }

  /** One page of records matching `filter`, newest first. */
  async query(filter: HistoryFilter, page: PageRequest): Promise<HistoryPage> {
    return this.run(() => queryHistory(this.redis, this.keys, this.record, filter, page));
  }

  /**
   * Every matching record, page by page, newest first: for exports, which must not hold everything in
   * memory. Stop iterating to stop reading.
   */
  async *pages(filter: HistoryFilter, pageSize = 500): AsyncGenerator<HistoryRecord[]> {
    let cursor: string | undefined;
    do {
      const page = await this.query(filter, { limit: pageSize, ...(cursor ? { cursor } : {}) });
      if (page.records.length) yield page.records;
      cursor = page.nextCursor;
    } while (cursor);
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AirlockError) throw err;
      throw new AirlockError('REDIS_UNAVAILABLE', `History unavailable: ${(err as Error).message}`, {}, { cause: err });
    }
  }
}
