import { DEFAULT_RETENTION_DAYS, retentionMs } from '../core/retention.js';
import type { Redis, Cluster } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../core/errors.js';
import type { HeldQuestions } from '../gateway/held-questions.js';
import type { ApprovalRecord, StoredRecord } from '../core/approval/types.js';
import { guardRedis } from '../redis/guard.js';
import { loadScripts, runScript } from '../redis/lua-scripts.js';
import {
  indexKeysOf,
  keyspace,
  statusKeysOf,
  type ApprovalKeys,
  type HistoryKeys,
} from '../redis/keyspace.js';

/** A stored approval record (defined in core, where history can use it without importing this store). */
export type { StoredRecord } from '../core/approval/types.js';

/** Outcome of {@link ApprovalStore.createOrAttach}. */
export interface CreateOrAttach {
  created: boolean;
  record: StoredRecord;
}

/** Options for {@link ApprovalStore}. */
export interface ApprovalStoreOptions {
  /** How long an executed result is kept for the agent's identical retry. @defaultValue 1 hour */
  resultTtlMs?: number;
  /** How long a record is kept at all (history retention). @defaultValue 90 days */
  recordTtlMs?: number;
}

type Redisish = Redis | Cluster;

/**
 * Approval records in Redis, with atomic create-or-attach and compare-and-set updates (the scripts
 * `redis/scripts/create-or-attach.lua` and `compare-and-set.lua`, which also keep the history indexes).
 */
export class ApprovalStore {
  /** Where this store's records, pending index and events channel live. */
  readonly keys: ApprovalKeys;
  readonly resultTtlMs: number;
  private readonly recordTtlMs: number;
  private readonly history: HistoryKeys;

  constructor(
    private readonly redis: Redisish,
    prefix: string,
    options: ApprovalStoreOptions = {},
  ) {
    const ks = keyspace(prefix);
    this.keys = ks.approval;
    this.history = ks.history;
    this.resultTtlMs = options.resultTtlMs ?? 60 * 60 * 1000;
    this.recordTtlMs = options.recordTtlMs ?? retentionMs(DEFAULT_RETENTION_DAYS);
    loadScripts(redis);
  }

  /** Stores a new request, or returns the one an identical earlier call created. */
  async createOrAttach(record: ApprovalRecord, dedupe: string): Promise<CreateOrAttach> {
    const stored: StoredRecord = { ...record, version: 1 };
    const dedupeTtl = Math.max(1000, record.expiresAt - record.createdAt) + this.resultTtlMs;
    const indexes = indexKeysOf(this.history, record);
    const res = (await this.run(() =>
      runScript(
        this.redis,
        'create-or-attach',
        [
          this.keys.dedupe(dedupe),
          this.keys.record(record.id),
          this.keys.pending,
          this.history.registry,
          ...indexes,
        ],
        [
          record.id,
          JSON.stringify(stored),
          dedupeTtl,
          record.createdAt,
          this.keys.recordPrefix,
          this.recordTtlMs,
          this.keys.events,
        ],
      ),
    )) as [number, string];
    return { created: res[0] === 1, record: JSON.parse(res[1]) as StoredRecord };
  }

  /** The record, or undefined when unknown (or past retention). */
  async get(id: string): Promise<StoredRecord | undefined> {
    const raw = await this.run(() => this.redis.hget(this.keys.record(id), 'json'));
    return raw ? approvalOnly(JSON.parse(raw)) : undefined;
  }

  /** Several records at once, in order; unknown ids are skipped. */
  async getMany(ids: string[]): Promise<StoredRecord[]> {
    if (!ids.length) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.keys.record(id), 'json');
    const res = (await this.run(() => pipe.exec())) ?? [];
    return res
      .map(([, raw]) => (typeof raw === 'string' ? approvalOnly(JSON.parse(raw)) : undefined))
      .filter((r): r is StoredRecord => r !== undefined);
  }

  /**
   * Writes `next` only if the stored version is still `current.version` (first writer wins).
   * Returns the written record, or undefined when someone else wrote first.
   */
  async compareAndSet(
    current: StoredRecord,
    next: ApprovalRecord & { delivered?: boolean },
    result?: CallToolResult,
  ): Promise<StoredRecord | undefined> {
    const written: StoredRecord = { ...next, version: current.version + 1 };
    const leftPending = current.status === 'pending' && next.status !== 'pending';
    // The stored version equals current.version only if the stored status is current.status, so the
    // old index keys named here are the ones the record is in.
    const moved =
      current.status === next.status
        ? []
        : [
            this.history.registry,
            ...statusKeysOf(this.history, current),
            ...statusKeysOf(this.history, next),
          ];
    const res = await this.run(() =>
      runScript(
        this.redis,
        'compare-and-set',
        [
          this.keys.record(current.id),
          this.keys.pending,
          this.keys.result(current.id),
          this.keys.events,
          ...moved,
        ],
        [
          current.version,
          JSON.stringify(written),
          leftPending ? '1' : '0',
          result ? JSON.stringify(result) : '',
          this.resultTtlMs,
          current.id,
          current.createdAt,
        ],
      ),
    );
    if (res === -1) throw new AirlockError('NOT_FOUND', `Request ${current.id} not found`);
    return res === 1 ? written : undefined;
  }

  /** The stored upstream result of an executed request, while kept. */
  async result(id: string): Promise<CallToolResult | undefined> {
    const raw = await this.run(() => this.redis.get(this.keys.result(id)));
    return raw ? (JSON.parse(raw) as CallToolResult) : undefined;
  }

  /** Stores the questions of an approved call for its agent's waiting request, and wakes every replica. */
  async putQuestions(id: string, questions: HeldQuestions, ttlMs: number): Promise<void> {
    await this.run(() => this.redis.set(this.keys.questions(id), JSON.stringify(questions), 'PX', ttlMs));
    await this.run(() => this.redis.publish(this.keys.events, id));
  }

  /** The questions an approved call asks, while it waits for their answers. */
  async questions(id: string): Promise<HeldQuestions | undefined> {
    const raw = await this.run(() => this.redis.get(this.keys.questions(id)));
    return raw ? (JSON.parse(raw) as HeldQuestions) : undefined;
  }

  /** Forgets the questions of a call that ended. */
  async dropQuestions(id: string): Promise<void> {
    await this.run(() => this.redis.del(this.keys.questions(id)));
  }

  /** Ids of pending requests, oldest first. */
  async pendingIds(limit = 1000): Promise<string[]> {
    return this.run(() => this.redis.zrange(this.keys.pending, 0, limit - 1));
  }

  /** Ids of requests in one open status after `pending` (approved, or executing), oldest first. */
  async idsInStatus(status: 'approved' | 'executing', limit = 1000): Promise<string[]> {
    return this.run(() => this.redis.zrange(this.history.status(status), 0, limit - 1));
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    return guardRedis('QUEUE_UNAVAILABLE', 'Approval store', fn);
  }
}

/** History keeps direct policy decisions in the same hashes; those are not approval requests. */
function approvalOnly(r: StoredRecord): StoredRecord | undefined {
  return r.approval ? r : undefined;
}
