import { createHash, randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { AirlockError } from '../core/errors.js';
import type { LimitSpec } from '../core/policy/types.js';
import type { RedisClient } from './connection.js';
import { assertClusterPrefix, keyspace, type RateKeys } from './keyspace.js';

/** Who is calling what; picks the counter a limit's scope refers to. */
export interface RateLimitContext {
  agent: string;
  server: string;
  tool: string;
}

/** The outcome of one rate-limit check; when refused, nothing was counted. */
export type RateLimitResult = { allowed: true } | { allowed: false; limit: LimitSpec; retryAfterSec: number };

/**
 * One check of all of a call's limits, atomically.
 *
 * KEYS: per limit i, KEYS[2i-1] = its log (sorted set, score = ms timestamp), KEYS[2i] = its retention.
 * ARGV: ARGV[1] = this call's unique member, then per limit ARGV[2i] = window ms, ARGV[2i+1] = max.
 * Returns {0, 0} when allowed (every log got the call), or {i, retryMs} for the first full limit i
 * (nothing written but the trimming of entries no window needs any more).
 *
 * Several rules may share a counter with different windows (a minute limit and an hour limit on
 * `vm_ops`), so a log keeps entries for the longest window ever used on it (its retention key), never
 * just this call's window. The clock is Redis's TIME, so replicas with skewed clocks agree; effects
 * replication (the default since Redis 5, requested explicitly for older servers) makes that safe.
 */
const SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS / 2
local keep = {}
for i = 1, n do
  local log = KEYS[2 * i - 1]
  local stored = tonumber(redis.call('GET', KEYS[2 * i]) or '0') or 0
  keep[log] = math.max(keep[log] or 0, stored, tonumber(ARGV[2 * i]))
end
for i = 1, n do
  local log = KEYS[2 * i - 1]
  local window = tonumber(ARGV[2 * i])
  local max = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - keep[log])
  local since = '(' .. string.format('%.0f', now - window)
  local count = redis.call('ZCOUNT', log, since, '+inf')
  if count >= max then
    -- allowed again once count falls to max - 1, i.e. when the (count - max)th oldest in the window leaves
    local e = redis.call('ZRANGEBYSCORE', log, since, '+inf', 'WITHSCORES', 'LIMIT', count - max, 1)
    local retry = window
    if e[2] then retry = tonumber(e[2]) + window - now end
    return {i, math.ceil(retry)}
  end
end
for i = 1, n do
  local log = KEYS[2 * i - 1]
  redis.call('ZADD', log, string.format('%.0f', now), ARGV[1])
  redis.call('PEXPIRE', log, keep[log])
  redis.call('SET', KEYS[2 * i], keep[log], 'PX', keep[log])
end
return {0, 0}
`;
const SCRIPT_SHA = createHash('sha1').update(SCRIPT).digest('hex');

/**
 * Counts calls against policy limits in Redis, shared by every replica.
 *
 * Algorithm: a sliding-window log per counter, a sorted set holding one entry (unique member, score =
 * Redis time in ms) per counted call. A check trims entries older than the window, counts the rest,
 * and adds the call only if every limit of the call has room, all in one Lua script, so concurrent
 * calls on any replica can never overshoot and a refused call consumes nothing. It is exact (no
 * fixed-window bursts at boundaries, unlike counters; no approximation, unlike GCRA) at a memory cost
 * of O(max) entries per counter (~tens of bytes each), since an over-limit call is never recorded;
 * a counter shared by a shorter and a longer window keeps entries for the longer one. Keys expire
 * after their retention of inactivity.
 *
 * Counter keys by scope: `grant` → agent + server + tool + counter; `agent` → agent + counter (shared
 * by every rule and tool naming the counter); `global` → counter.
 */
export class RateLimiter {
  private readonly keys: RateKeys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    assertClusterPrefix(prefix, redis instanceof Cluster);
    this.keys = keyspace(prefix).rate;
  }

  /** Consumes one call from every limit, or from none when any is full; Redis failures throw REDIS_UNAVAILABLE. */
  async check(limits: readonly LimitSpec[], ctx: RateLimitContext): Promise<RateLimitResult> {
    if (limits.length === 0) return { allowed: true };
    const keys: string[] = [];
    const args: string[] = [`${Date.now()}-${randomBytes(8).toString('hex')}`];
    for (const limit of limits) {
      const parts = counterParts(limit, ctx);
      keys.push(this.keys.log(...parts), this.keys.retention(...parts));
      args.push(String(Math.max(1, Math.round(limit.windowMs))), String(limit.max));
    }
    const [index, retryMs] = await this.run(keys, args);
    if (index === 0) return { allowed: true };
    const limit = limits[index - 1];
    if (!limit) throw new AirlockError('INTERNAL', `Rate limit script returned unknown limit #${index}`);
    return { allowed: false, limit, retryAfterSec: Math.max(1, Math.ceil(retryMs / 1000)) };
  }

  private async run(keys: string[], args: string[]): Promise<[number, number]> {
    let reply: unknown;
    try {
      try {
        reply = await this.redis.evalsha(SCRIPT_SHA, keys.length, ...keys, ...args);
      } catch (err) {
        // Scripts live in each server's cache, which a restart or failover empties.
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        reply = await this.redis.eval(SCRIPT, keys.length, ...keys, ...args);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new AirlockError(
        'REDIS_UNAVAILABLE',
        `Rate limit store unavailable: ${message}`,
        {},
        { cause: err },
      );
    }
    if (!Array.isArray(reply) || reply.length !== 2) {
      throw new AirlockError('INTERNAL', `Rate limit script returned ${JSON.stringify(reply)}`);
    }
    return [Number(reply[0]), Number(reply[1])];
  }
}

/** The key parts naming a limit's counter: the scope first, so scopes never share a key. */
function counterParts(limit: LimitSpec, ctx: RateLimitContext): string[] {
  switch (limit.scope) {
    case 'grant':
      return ['grant', ctx.agent, ctx.server, ctx.tool, limit.counter];
    case 'agent':
      return ['agent', ctx.agent, limit.counter];
    case 'global':
      return ['global', limit.counter];
  }
}
