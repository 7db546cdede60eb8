import type { Redis, Cluster } from 'ioredis';
import { grantMatches, type Grant, type GrantedCall } from '../core/grants/grant.js';
import { guardRedis } from '../redis/guard.js';
import { loadScripts, runScript } from '../redis/lua-scripts.js';
import { keyspace, type GrantKeys } from '../redis/keyspace.js';

/** Which grants {@link GrantStore.list} returns; every given field must match. */
export interface GrantFilter {
  agent?: string;
  server?: string;
  tool?: string;
}

/** Options for {@link GrantStore}. */
export interface GrantStoreOptions {
  /**
   * How long a grant's hash outlives its expiry, so the sweep can still read what expired for the audit
   * line. Matching never uses it: expiry is checked against the clock. @defaultValue 1 hour
   */
  graceMs?: number;
}

type Redisish = Redis | Cluster;

// The sweep takes at most this many expired grants per pass; the next pass takes the rest.
const SWEEP_BATCH = 100;

/**
 * Grants in Redis: a hash per grant, an index per (agent, server, tool) for a call's lookup and one of
 * every grant for listing and expiry. No replica caches a grant, so a revocation holds everywhere at once.
 * Every key lives under the prefix, so with a hash-tagged prefix the multi-key writes stay in one slot.
 */
export class GrantStore {
  /** Where this store's grants and indexes live. */
  readonly keys: GrantKeys;
  private readonly graceMs: number;

  constructor(
    private readonly redis: Redisish,
    prefix: string,
    options: GrantStoreOptions = {},
  ) {
    this.keys = keyspace(prefix).grants;
    this.graceMs = options.graceMs ?? 60 * 60 * 1000;
    loadScripts(redis);
  }

  /** Stores a new grant with its expiry. */
  async create(grant: Grant): Promise<void> {
    const { uses: _uses, ...fields } = grant;
    const key = this.keys.grant(grant.id);
    await this.run(() =>
      this.redis
        .multi()
        .hset(key, 'json', JSON.stringify(fields), 'uses', String(grant.uses))
        .pexpireat(key, grant.expiresAt + this.graceMs)
        .zadd(this.keys.byCall(grant.agent, grant.server, grant.tool), grant.expiresAt, grant.id)
        .zadd(this.keys.all, grant.expiresAt, grant.id)
        .exec(),
    );
  }

  /** One grant, expired or not while its hash is kept; undefined when unknown or revoked. */
  async get(id: string): Promise<Grant | undefined> {
    return this.run(async () => parse(await this.redis.hgetall(this.keys.grant(id))));
  }

  /** An active grant covering `call` at `now`, the one that lasts longest; undefined when none. */
  async findMatch(call: GrantedCall, now: number): Promise<Grant | undefined> {
    const ids = await this.run(() =>
      this.redis.zrangebyscore(this.keys.byCall(call.agent, call.server, call.tool), `(${now}`, '+inf'),
    );
    const grants = await this.getMany(ids);
    return grants.filter((g) => grantMatches(g, call, now)).sort((a, b) => b.expiresAt - a.expiresAt)[0];
  }

  /** Counts one call run under grant `id`; the new count, or undefined when the grant is gone. */
  async recordUse(id: string): Promise<number | undefined> {
    const n = await this.run(() => runScript(this.redis, 'use-grant-1', [this.keys.grant(id)], []));
    return typeof n === 'number' ? n : undefined;
  }

  /** Grants active at `now` that match the filter, soonest to expire first. */
  async list(filter: GrantFilter, now: number): Promise<Grant[]> {
    const ids = await this.run(() => this.redis.zrangebyscore(this.keys.all, `(${now}`, '+inf'));
    return (await this.getMany(ids)).filter(
      (g) =>
        (filter.agent === undefined || g.agent === filter.agent) &&
        (filter.server === undefined || g.server === filter.server) &&
        (filter.tool === undefined || g.tool === filter.tool),
    );
  }

  /** Deletes grant `id`; the grant as it was, or undefined when unknown (or another revoker won). */
  async revoke(id: string): Promise<Grant | undefined> {
    const grant = await this.get(id);
    if (!grant) return undefined;
    return (await this.remove(grant)) ? grant : undefined;
  }

  /**
   * Removes grants that expired by `now` and returns them. Each is returned by exactly one caller across
   * replicas (whoever's ZREM took it), so its expiry is reported once.
   */
  async takeExpired(now: number): Promise<Grant[]> {
    const ids = await this.run(() =>
      this.redis.zrangebyscore(this.keys.all, '-inf', now, 'LIMIT', 0, SWEEP_BATCH),
    );
    const grants = await this.getMany(ids);
    // Past the grace the hash is gone; its id has nothing left to report.
    const gone = ids.filter((id) => !grants.some((g) => g.id === id));
    if (gone.length) await this.run(() => this.redis.zrem(this.keys.all, ...gone));
    const taken: Grant[] = [];
    for (const grant of grants) {
      if (await this.remove(grant)) taken.push(grant);
    }
    return taken;
  }

  private async remove(grant: Grant): Promise<boolean> {
    const replies = await this.run(() =>
      this.redis
        .multi()
        .zrem(this.keys.all, grant.id)
        .del(this.keys.grant(grant.id))
        .zrem(this.keys.byCall(grant.agent, grant.server, grant.tool), grant.id)
        .exec(),
    );
    return replies?.[0]?.[1] === 1;
  }

  private async getMany(ids: string[]): Promise<Grant[]> {
    if (!ids.length) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.grant(id));
    const replies = (await this.run(() => pipeline.exec())) ?? [];
    return replies.map(([, v]) => parse(v as Record<string, string>)).filter((g) => g !== undefined);
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    return guardRedis('REDIS_UNAVAILABLE', 'Grant store', fn);
  }
}

function parse(hash: Record<string, string> | null | undefined): Grant | undefined {
  if (!hash?.json) return undefined;
  return { ...(JSON.parse(hash.json) as Omit<Grant, 'uses'>), uses: Number(hash.uses ?? 0) };
}
