import type { Redis, Cluster } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../core/errors.js';
import type { ApprovalRecord, StoredRecord } from '../core/approval/types.js';
import { guardRedis } from '../redis/guard.js';
import {
  indexKeysOf,
  keyspace,
  statusKeysOf,
  type ApprovalKeys,
  type HistoryKeys,
} from '../redis/keyspace.js';

// Approval records are what this store is about, so the record type is also importable from here.
export type { StoredRecord } from '../core/approval/types.js';

/** Outcome of {@link ApprovalStore.createOrAttach}. */
export interface CreateOrAttach {
  created: boolean;
  record: StoredRecord;
}

// Attaches an identical retry to the request it repeats, or stores a new one, atomically, with its
// history index entries (KEYS[4] is the index registry, KEYS[5..] the indexes, scored by createdAt),
// and announces a new request on the events channel (ARGV[7]) for live views.
// A request that ended in rejection/expiry/cancellation attaches only until that outcome was delivered.
const CREATE_OR_ATTACH = `
local existing = redis.call('GET', KEYS[1])
if existing then
  local raw = redis.call('HGET', ARGV[5] .. existing, 'json')
  if raw then
    local r = cjson.decode(raw)
    local s = r.status
    if s == 'pending' or s == 'approved' or s == 'executing' or s == 'executed' or s == 'failed' or not r.delivered then
      return {0, raw}
    end
  end
end
redis.call('HSET', KEYS[2], 'json', ARGV[2], 'v', '1')
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
for i = 5, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[4], ARGV[1])
  redis.call('SADD', KEYS[4], KEYS[i])
end
redis.call('PUBLISH', ARGV[7], ARGV[1])
return {1, ARGV[2]}
`;

// Compare-and-set on the record version; on success also maintains the pending index, moves the record
// between the history status indexes when its status changed (KEYS[5] registry, KEYS[6..7] old status
// and tool+status indexes, KEYS[8..9] new ones, ARGV[7] the createdAt score), stores the result when
// given, and announces the change to every replica.
const CAS = `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'v', tostring(tonumber(v) + 1))
if ARGV[3] == '1' then redis.call('ZREM', KEYS[2], ARGV[6]) end
if #KEYS > 4 then
  redis.call('ZREM', KEYS[6], ARGV[6])
  redis.call('ZREM', KEYS[7], ARGV[6])
  redis.call('ZADD', KEYS[8], ARGV[7], ARGV[6])
  redis.call('ZADD', KEYS[9], ARGV[7], ARGV[6])
  redis.call('SADD', KEYS[5], KEYS[8], KEYS[9])
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end
redis.call('PUBLISH', KEYS[4], ARGV[6])
return 1
`;

/** Options for {@link ApprovalStore}. */
export interface ApprovalStoreOptions {
  /** How long an executed result is kept for the agent's identical retry. @defaultValue 1 hour */
  resultTtlMs?: number;
  /** How long a record is kept at all (history retention). @defaultValue 90 days */
  recordTtlMs?: number;
}

type Redisish = Redis | Cluster;

/** Approval records in Redis, with atomic create-or-attach and compare-and-set updates. */
export class ApprovalStore {
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
    this.recordTtlMs = options.recordTtlMs ?? 90 * 24 * 60 * 60 * 1000;
  }

  /** Stores a new request, or returns the one an identical earlier call created. */
  async createOrAttach(record: ApprovalRecord, dedupe: string): Promise<CreateOrAttach> {
    const stored: StoredRecord = { ...record, version: 1 };
    const dedupeTtl = Math.max(1000, record.expiresAt - record.createdAt) + this.resultTtlMs;
    const indexes = indexKeysOf(this.history, record);
    const res = (await this.run(() =>
      this.redis.eval(
        CREATE_OR_ATTACH,
        4 + indexes.length,
        this.keys.dedupe(dedupe),
        this.keys.record(record.id),
        this.keys.pending,
        this.history.registry,
        ...indexes,
        record.id,
        JSON.stringify(stored),
        String(dedupeTtl),
        String(record.createdAt),
        this.keys.recordPrefix,
        String(this.recordTtlMs),
        this.keys.events,
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
      this.redis.eval(
        CAS,
        4 + moved.length,
        this.keys.record(current.id),
        this.keys.pending,
        this.keys.result(current.id),
        this.keys.events,
        ...moved,
        String(current.version),
        JSON.stringify(written),
        leftPending ? '1' : '0',
        result ? JSON.stringify(result) : '',
        String(this.resultTtlMs),
        current.id,
        String(current.createdAt),
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

  /** Ids of pending requests, oldest first. */
  async pendingIds(limit = 1000): Promise<string[]> {
    return this.run(() => this.redis.zrange(this.keys.pending, 0, limit - 1));
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    return guardRedis('QUEUE_UNAVAILABLE', 'Approval store', fn);
  }
}

/** History keeps direct policy decisions in the same hashes; those are not approval requests. */
function approvalOnly(r: StoredRecord): StoredRecord | undefined {
  return r.approval ? r : undefined;
}
