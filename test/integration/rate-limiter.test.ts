import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { AirlockError } from '../../src/core/errors.js';
import type { LimitScope, LimitSpec } from '../../src/core/policy/types.js';
import { silentLogger } from '../../src/log.js';
import { checkRedis, createRedis, type RedisClient } from '../../src/redis/connection.js';
import { RateLimiter, type RateLimitContext, type RateLimitResult } from '../../src/redis/rate-limiter.js';
import { freshPrefix, startRedis, type TestRedis } from '../helpers/redis.js';

function limit(counter: string, max: number, windowMs: number, scope: LimitScope = 'grant'): LimitSpec {
  return { counter, max, windowMs, scope, window: `${windowMs / 1000}s` };
}

const ctx = (agent: string, tool = 'health_checks', server = 'lab'): RateLimitContext => ({
  agent,
  server,
  tool,
});

/** Calls `fn` until it reports true; for waiting on wall-clock time to slide a window, nothing else. */
async function pollUntil(fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await delay(20);
  }
}

describe('RateLimiter', () => {
  let server: TestRedis;
  let redis: RedisClient;

  before(async () => {
    server = await startRedis();
    redis = createRedis({ url: server.url, cluster: false, logger: silentLogger });
    await checkRedis(redis, silentLogger);
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  test('no limits: allowed without touching Redis', async () => {
    const limiter = new RateLimiter(redis, freshPrefix());
    assert.deepEqual(await limiter.check([], ctx('a')), { allowed: true });
  });

  test('grant scope counts per agent, server and tool', async () => {
    const limiter = new RateLimiter(redis, freshPrefix());
    const l = limit('hc', 2, 60_000, 'grant');
    assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    const denied = await limiter.check([l], ctx('a'));
    assert.equal(denied.allowed, false);
    assert.equal((await limiter.check([l], ctx('b'))).allowed, true, 'another agent has its own counter');
    assert.equal(
      (await limiter.check([l], ctx('a', 'start_vm'))).allowed,
      true,
      'another tool has its own counter',
    );
    assert.equal(
      (await limiter.check([l], ctx('a', 'health_checks', 'virt'))).allowed,
      true,
      'another server too',
    );
  });

  test('agent scope is shared by every tool naming the counter, per agent', async () => {
    const limiter = new RateLimiter(redis, freshPrefix());
    const l = limit('vm_ops', 2, 60_000, 'agent');
    assert.equal((await limiter.check([l], ctx('a', 'start_vm'))).allowed, true);
    assert.equal((await limiter.check([l], ctx('a', 'stop_vm'))).allowed, true);
    assert.equal((await limiter.check([l], ctx('a', 'vm_management'))).allowed, false);
    assert.equal(
      (await limiter.check([l], ctx('b', 'start_vm'))).allowed,
      true,
      'another agent has its own counter',
    );
  });

  test('global scope is shared by every agent', async () => {
    const limiter = new RateLimiter(redis, freshPrefix());
    const l = limit('all', 2, 60_000, 'global');
    assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    assert.equal((await limiter.check([l], ctx('b', 'start_vm'))).allowed, true);
    assert.equal((await limiter.check([l], ctx('c'))).allowed, false);
  });

  test('when the max is reached: denied with the limit and the seconds until the oldest call leaves', async () => {
    const limiter = new RateLimiter(redis, freshPrefix());
    const l = limit('hc', 3, 60_000);
    for (let i = 0; i < 3; i++) assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    const denied = await limiter.check([l], ctx('a'));
    assert.equal(denied.allowed, false);
    assert.ok(!denied.allowed);
    assert.deepEqual(denied.limit, l);
    // The oldest call was a few ms ago, so it leaves in just under 60 s; ceil gives 60.
    assert.equal(denied.retryAfterSec, 60);
  });

  test('a lowered max counts from the call that has to leave, not the oldest', async () => {
    const limiter = new RateLimiter(redis, freshPrefix());
    for (let i = 0; i < 3; i++) await limiter.check([limit('hc', 3, 60_000)], ctx('a'));
    const denied = await limiter.check([limit('hc', 1, 60_000)], ctx('a'));
    assert.ok(!denied.allowed);
    assert.equal(denied.retryAfterSec, 60);
  });

  test('the window slides: a call leaves exactly one window after it was made', async () => {
    const limiter = new RateLimiter(redis, freshPrefix());
    const l = limit('fast', 2, 1000);
    assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    const first = Date.now();
    await delay(400); // space the two calls so that only the first one has left when we retry
    assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    const denied = await limiter.check([l], ctx('a'));
    assert.ok(!denied.allowed);
    assert.equal(denied.retryAfterSec, 1, 'sub-second waits round up to 1 s');
    await pollUntil(async () => (await limiter.check([l], ctx('a'))).allowed, 3000);
    assert.ok(Date.now() - first >= 900, 'allowed again only once the first call left the window');
    // A fixed window would have reset entirely; the second call is still inside this one.
    assert.equal((await limiter.check([l], ctx('a'))).allowed, false);
  });

  test('all or nothing: a call refused by one limit consumes none of the others', async () => {
    const limiter = new RateLimiter(redis, freshPrefix());
    const roomy = limit('roomy', 2, 60_000, 'agent');
    const tight = limit('tight', 1, 60_000, 'global');
    assert.equal((await limiter.check([roomy, tight], ctx('a'))).allowed, true);
    const denied = await limiter.check([roomy, tight], ctx('a'));
    assert.ok(!denied.allowed);
    assert.equal(denied.limit.counter, 'tight', 'names the limit that is full, not the first');
    // `roomy` still has exactly one call left: the refused call did not count.
    assert.equal((await limiter.check([roomy], ctx('a'))).allowed, true);
    assert.equal((await limiter.check([roomy], ctx('a'))).allowed, false);
  });

  test('two limits on one counter with different windows see each other’s calls', async () => {
    const limiter = new RateLimiter(redis, freshPrefix());
    const hourly = limit('vm_ops', 4, 3_600_000, 'agent');
    const perSecond = limit('vm_ops', 3, 1000, 'agent');
    assert.equal((await limiter.check([hourly], ctx('a', 'start_vm'))).allowed, true);
    assert.equal((await limiter.check([perSecond], ctx('a', 'stop_vm'))).allowed, true);
    assert.equal((await limiter.check([perSecond], ctx('a', 'stop_vm'))).allowed, true);
    // Once the per-second window has slid, its check trims the log, but only by the longest window.
    await pollUntil(async () => (await limiter.check([perSecond], ctx('a', 'stop_vm'))).allowed, 3000);
    const denied = await limiter.check([hourly], ctx('a', 'start_vm'));
    assert.ok(!denied.allowed, 'the hourly limit counts the 4 calls made under either rule');
  });

  test('keys live under the prefix and expire', async () => {
    const prefix = freshPrefix();
    const limiter = new RateLimiter(redis, prefix);
    await limiter.check([limit('hc', 5, 30_000, 'grant'), limit('g', 5, 10_000, 'global')], ctx('a:b{x}'));
    const keys = await redis.keys(`${prefix}*`);
    assert.equal(keys.length, 4, 'a log and a retention key per counter');
    for (const key of keys) {
      assert.ok(key.startsWith(`${prefix}:`));
      assert.ok(!key.includes('{'), 'user-supplied braces are escaped');
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= 30_000, `${key} expires (pttl ${ttl})`);
    }
  });

  /** `n` checks of one global limit at once, alternating between two replicas (two connections). */
  async function burstOnTwoReplicas(prefix: string, l: LimitSpec, n: number): Promise<RateLimitResult[]> {
    const second = createRedis({ url: server.url, cluster: false, logger: silentLogger });
    try {
      await checkRedis(second, silentLogger);
      const replicas = [new RateLimiter(redis, prefix), new RateLimiter(second, prefix)];
      return await Promise.all(
        Array.from({ length: n }, (_, i) => replicas[i % 2]!.check([l], ctx(`agent-${i % 5}`))),
      );
    } finally {
      second.disconnect();
    }
  }

  test('50 concurrent checks from two replicas with max 10: exactly 10 allowed', async () => {
    const results = await burstOnTwoReplicas(freshPrefix(), limit('burst', 10, 60_000, 'global'), 50);
    assert.equal(results.filter((r) => r.allowed).length, 10);
  });

  /** Lua script runs the server has served so far (EVALSHA and its EVAL fallback). */
  async function scriptRuns(): Promise<number> {
    const stats = await redis.info('commandstats');
    let runs = 0;
    for (const m of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) runs += Number(m[1]);
    return runs;
  }

  /** Entries in the one log under `prefix` (its retention key aside). */
  async function logSize(prefix: string): Promise<number> {
    const logs = (await redis.keys(`${prefix}:rate:*`)).filter((k) => !k.includes(':retention'));
    assert.equal(logs.length, 1, `one log under ${prefix}: ${logs.join(', ')}`);
    return redis.zcard(logs[0]!);
  }

  test('a roomy limit is leased: 500 calls take a few script runs, and the log ends with exactly 500', async () => {
    const prefix = freshPrefix();
    const limiter = new RateLimiter(redis, prefix);
    const l = limit('roomy', 100_000, 60_000);
    const before = await scriptRuns();
    for (let i = 0; i < 500; i++) assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    const runs = (await scriptRuns()) - before;
    assert.ok(runs >= 10 && runs < 50, `500 calls in leases of 8, 16, 32, then 64: ${runs} script runs`);
    assert.ok((await logSize(prefix)) >= 500, 'every call made is counted while its lease lasts');
    await pollUntil(async () => (await logSize(prefix)) === 500, 5000);
  });

  test('a lease counts ahead, gives back what it did not spend, and the next asks for what was used', async () => {
    const prefix = freshPrefix();
    const limiter = new RateLimiter(redis, prefix);
    const l = limit('roomy', 1000, 60_000);
    assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    assert.equal(await logSize(prefix), 8, 'the first lease of a counter is 8 calls');
    await pollUntil(async () => (await logSize(prefix)) === 1, 5000);
    assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    assert.equal(await logSize(prefix), 3, 'one call was spent of the last lease: this one asks for 2');
    await pollUntil(async () => (await logSize(prefix)) === 2, 5000);
    for (let i = 0; i < 40; i++) assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
    assert.ok((await logSize(prefix)) >= 42, 'used up, leases double: 2, 4, 8, 16, 32 for 40 calls');
    await pollUntil(async () => (await logSize(prefix)) === 42, 5000);
  });

  test('near the max a limit is counted call by call: all 40 of max 40 pass, the 41st is refused', async () => {
    const prefix = freshPrefix();
    const limiter = new RateLimiter(redis, prefix);
    const l = limit('forty', 40, 60_000);
    const before = await scriptRuns();
    for (let i = 0; i < 40; i++)
      assert.equal((await limiter.check([l], ctx('a'))).allowed, true, `call ${i + 1}`);
    const runs = (await scriptRuns()) - before;
    assert.ok(runs > 10 && runs < 40, `leases shrink to one call as the room runs out: ${runs} runs`);
    const denied = await limiter.check([l], ctx('a'));
    assert.ok(!denied.allowed);
    assert.ok(
      denied.retryAfterSec >= 60 && denied.retryAfterSec <= 61,
      `retry after ${denied.retryAfterSec} s`,
    );
    assert.equal(await logSize(prefix), 40);
  });

  test('a window too short for a lease is counted call by call', async () => {
    const prefix = freshPrefix();
    const limiter = new RateLimiter(redis, prefix);
    assert.equal((await limiter.check([limit('short', 1000, 150)], ctx('a'))).allowed, true);
    assert.equal(await logSize(prefix), 1);
  });

  test('leases on two replicas never pass the max: 600 concurrent checks with max 200, exactly 200 allowed', async () => {
    const prefix = freshPrefix();
    const results = await burstOnTwoReplicas(prefix, limit('leased', 200, 60_000, 'global'), 600);
    assert.equal(results.filter((r) => r.allowed).length, 200);
    assert.equal(await logSize(prefix), 200);
    for (const r of results) if (!r.allowed) assert.ok(r.retryAfterSec >= 60 && r.retryAfterSec <= 61);
  });
});

describe('RateLimiter with Redis down', () => {
  test('fails closed with REDIS_UNAVAILABLE within 2 s', async () => {
    const server = await startRedis();
    const redis = createRedis({ url: server.url, cluster: false, logger: silentLogger });
    let stopped = false;
    try {
      await checkRedis(redis, silentLogger);
      const limiter = new RateLimiter(redis, freshPrefix());
      const l = limit('hc', 5, 60_000);
      assert.equal((await limiter.check([l], ctx('a'))).allowed, true);
      await server.stop();
      stopped = true;
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        await assert.rejects(limiter.check([l], ctx('a')), (err: unknown) => {
          assert.ok(err instanceof AirlockError);
          assert.equal(err.code, 'REDIS_UNAVAILABLE');
          assert.match(err.message, /^Rate limit store unavailable: /);
          assert.equal(err.retryable, true);
          return true;
        });
        assert.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms`);
      }
    } finally {
      redis.disconnect();
      // TestRedis.stop() must run only once: a second call waits for an exit that already happened.
      if (!stopped) await server.stop();
    }
  });

  test('a Redis that never came up fails at once too', async () => {
    const server = await startRedis();
    await server.stop(); // a port that was just free and now has nobody listening
    const redis = createRedis({ url: server.url, cluster: false, logger: silentLogger });
    try {
      const started = Date.now();
      await assert.rejects(new RateLimiter(redis, freshPrefix()).check([limit('hc', 1, 1000)], ctx('a')), {
        code: 'REDIS_UNAVAILABLE',
      });
      assert.ok(Date.now() - started < 2000);
    } finally {
      redis.disconnect();
    }
  });
});
