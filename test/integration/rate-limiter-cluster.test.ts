import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LimitSpec } from '../../src/core/policy/types.js';
import { silentLogger } from '../../src/log.js';
import { checkRedis, createRedis, type RedisClient } from '../../src/redis/connection.js';
import { hashTagOf, keyspace } from '../../src/redis/keyspace.js';
import { RateLimiter } from '../../src/redis/rate-limiter.js';
import { freshPrefix } from '../helpers/redis.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { eventually } from '../helpers/slack-rig.js';

const minute = (counter: string, max: number, scope: LimitSpec['scope']): LimitSpec => ({
  counter,
  max,
  scope,
  window: 'minute',
  windowMs: 60_000,
});

describe('hash tags', () => {
  test('hashTagOf follows Redis: first {, next }, not empty', () => {
    assert.equal(hashTagOf('{airlock}'), 'airlock');
    assert.equal(hashTagOf('prod:{airlock}:x'), 'airlock');
    assert.equal(hashTagOf('airlock'), undefined);
    assert.equal(hashTagOf('{}airlock'), undefined);
    assert.equal(hashTagOf('a{b'), undefined);
  });

  test('every key built under a tagged prefix carries the same tag first', () => {
    const { prefix, ...groups } = keyspace('{airlock}');
    assert.equal(prefix, '{airlock}');
    let checked = 0;
    // Walks the whole keyspace, so a key added later is checked without listing it here.
    for (const [group, builders] of Object.entries(groups)) {
      for (const [name, build] of Object.entries(builders)) {
        const key =
          typeof build === 'string'
            ? build
            : (build as (...parts: string[]) => string)('{evil}', 'a:b{c}', '}x{');
        assert.equal(hashTagOf(key), 'airlock', `${group}.${name}: ${key}`);
        checked++;
      }
    }
    assert.ok(checked >= 16, `only ${checked} keys checked`);
  });
});

describe('RateLimiter on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let redis: RedisClient;

  before(async () => {
    cluster = await startRedisCluster();
    redis = createRedis({ url: cluster.url, cluster: true, logger: silentLogger });
    await checkRedis(redis, silentLogger);
  });
  after(async () => {
    redis.disconnect();
    await cluster.stop();
  });

  test('the cluster enforces slots: a script over keys in two slots is refused', async () => {
    await assert.rejects(redis.eval('return 1', 2, 'airlock:a', 'airlock:b'), /CROSSSLOT/);
  });

  test('with a {hash-tagged} prefix, multi-limit checks run as one script', async () => {
    const limiter = new RateLimiter(redis, `{${freshPrefix('airlock')}}`);
    const limits = [minute('hc', 3, 'grant'), minute('ops', 2, 'agent'), minute('all', 5, 'global')];
    const ctx = { agent: 'ci-bot', server: 'lab', tool: 'health_checks' };
    assert.equal((await limiter.check(limits, ctx)).allowed, true);
    assert.equal((await limiter.check(limits, ctx)).allowed, true);
    const denied = await limiter.check(limits, ctx);
    assert.ok(!denied.allowed);
    assert.equal(denied.limit.counter, 'ops');
    assert.equal(denied.retryAfterSec, 60);
    // The refused call consumed nothing: the grant counter still has one call left.
    assert.equal((await limiter.check([limits[0]!], ctx)).allowed, true);
    assert.equal((await limiter.check([limits[0]!], ctx)).allowed, false);
  });

  test('a lease on a cluster: counted ahead in the tag’s slot, what it did not spend given back', async () => {
    const prefix = `{${freshPrefix('airlock')}}`;
    const limiter = new RateLimiter(redis, prefix);
    const limits = [minute('roomy', 10_000, 'grant'), minute('wide', 10_000, 'global')];
    const ctx = { agent: 'ci-bot', server: 'lab', tool: 'health_checks' };
    for (let i = 0; i < 3; i++) assert.equal((await limiter.check(limits, ctx)).allowed, true);
    const logs = [
      keyspace(prefix).rate.log('grant', 'ci-bot', 'lab', 'health_checks', 'roomy'),
      keyspace(prefix).rate.log('global', 'wide'),
    ];
    for (const log of logs) assert.equal(await redis.zcard(log), 8, `${log} holds the lease`);
    await eventually(
      async () => (await redis.zcard(logs[0]!)) === 3 && (await redis.zcard(logs[1]!)) === 3,
      5000,
    );
  });

  test('a prefix without a hash tag is refused up front with a clear message', () => {
    assert.throws(
      () => new RateLimiter(redis, 'airlock'),
      (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'CONFIG_INVALID');
        assert.match((err as Error).message, /hash tag.*"\{airlock\}"/);
        return true;
      },
    );
  });

  test('the cluster going down fails closed within 2 s', async () => {
    const limiter = new RateLimiter(redis, `{${freshPrefix('airlock')}}`);
    const ctx = { agent: 'a', server: 'lab', tool: 't' };
    assert.equal((await limiter.check([minute('x', 5, 'global')], ctx)).allowed, true);
    await cluster.stop();
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      await assert.rejects(limiter.check([minute('x', 5, 'global')], ctx), { code: 'REDIS_UNAVAILABLE' });
      assert.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms`);
    }
  });
});
