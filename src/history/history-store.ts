import { DEFAULT_RETENTION_DAYS, retentionMs } from '../core/retention.js';
import type { Redis, Cluster } from 'ioredis';
import { AirlockError } from '../core/errors.js';
import { indexKeysOf, INDEXES_PER_RECORD, keyspace, type HistoryKeys } from '../redis/keyspace.js';
import type { DecisionRecord, HistoryRecord } from './history-record.js';
import { guardRedis } from '../redis/guard.js';
import { loadScripts, queueScript, runScript, scriptPipeline, type ScriptArg } from '../redis/lua-scripts.js';
import {
  queryHistory,
  readRecords,
  type HistoryFilter,
  type HistoryPage,
  type PageRequest,
} from './history-query.js';

/** Records per script run: large enough to amortize the call, small enough to keep Redis responsive. */
const RECORDS_PER_CALL = 64;

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
    const ks = keyspace(prefix);
    this.keys = ks.history;
    this.record = ks.approval.record;
    this.events = ks.approval.events;
    this.recordTtlMs = options.recordTtlMs ?? retentionMs(DEFAULT_RETENTION_DAYS);
    loadScripts(redis);
  }

  /** Writes direct-decision records in one round trip; returns how many were new. */
  async writeMany(records: readonly DecisionRecord[]): Promise<number> {
    if (!records.length) return 0;
    const runs: [string[], ScriptArg[]][] = [];
    for (let at = 0; at < records.length; at += RECORDS_PER_CALL) {
      const chunk = records.slice(at, at + RECORDS_PER_CALL);
      const keys: string[] = [this.keys.registry, this.events];
      const args: ScriptArg[] = [INDEXES_PER_RECORD, this.recordTtlMs];
      for (const r of chunk) {
        keys.push(this.record(r.id), ...indexKeysOf(this.keys, r));
        args.push(JSON.stringify(r), String(r.createdAt), r.id);
      }
      runs.push([keys, args]);
    }
    // One chunk (a quiet gateway's usual batch) is one EVALSHA: a pipeline object per call costs more.
    if (runs.length === 1) {
      const [keys, args] = runs[0]!;
      return Number(await this.run(() => runScript(this.redis, 'write-decisions', keys, args)));
    }
    // One script run per chunk, all in one round trip; EVALSHA, so the script is not resent each time.
    const pipe = scriptPipeline(this.redis);
    for (const [keys, args] of runs) queueScript(pipe, 'write-decisions', keys, args);
    const replies = await this.run(() => pipe.exec());
    let written = 0;
    for (const [err, n] of replies ?? []) {
      if (err)
        throw new AirlockError(
          'REDIS_UNAVAILABLE',
          `History write failed: ${err.message}`,
          {},
          { cause: err },
        );
      written += Number(n);
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

  private run<T>(fn: () => Promise<T>): Promise<T> {
    return guardRedis('REDIS_UNAVAILABLE', 'History', fn);
  }
}
