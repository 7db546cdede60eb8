import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/log.js';
import { checkRedis, createRedis, type RedisClient } from '../../src/redis/connection.js';
import {
  REQUEST_STATE_TTL_MS,
  RequestStates,
  argsDigest,
  type StateBinding,
} from '../../src/agent/request-state.js';
import { freshPrefix, startRedis, type TestRedis } from '../helpers/redis.js';

let server: TestRedis;
let redis: RedisClient;
const prefix = freshPrefix('rs');
const call: StateBinding = {
  agent: 'ci-bot',
  server: 'files',
  tool: 'files__write',
  args: { path: '/a', n: { x: 1, y: 2 } },
};

before(async () => {
  server = await startRedis();
  redis = createRedis({ url: server.url, cluster: false, logger: silentLogger });
  await checkRedis(redis, silentLogger);
});
after(async () => {
  redis?.disconnect();
  await server?.stop();
});

test('a state sealed on one replica opens on another and gives back the upstream state', async () => {
  const sealed = await new RequestStates(redis, prefix).seal(call, 'upstream-opaque "state"');
  const reordered = { ...call, args: { n: { y: 2, x: 1 }, path: '/a' } };
  assert.deepEqual(await new RequestStates(redis, prefix).open(sealed, reordered), {
    ok: true,
    upstreamState: 'upstream-opaque "state"',
  });
  const bare = await new RequestStates(redis, prefix).seal(call);
  assert.deepEqual(await new RequestStates(redis, prefix).open(bare, call), { ok: true });
});

test('an altered state, a forged one, and one sealed with another key are refused', async () => {
  const states = new RequestStates(redis, prefix);
  const sealed = await states.seal(call, 'up');
  const [body, tag] = sealed.split('.') as [string, string];
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
  const altered = Buffer.from(JSON.stringify({ ...payload, agent: 'other' })).toString('base64url');
  for (const bad of [`${altered}.${tag}`, `${body}.${tag.slice(1)}x`, 'garbage', `${body}.${tag}.x`]) {
    const opened = await states.open(bad, call);
    assert.equal(opened.ok, false, bad);
  }
  const elsewhere = await new RequestStates(redis, freshPrefix('rs-other')).seal(call);
  assert.deepEqual(await states.open(elsewhere, call), {
    ok: false,
    reason: 'requestState was not issued by Airlock or was altered',
  });
});

test('a state is bound to its agent, tool and arguments, and expires', async () => {
  let now = 1_000_000;
  const states = new RequestStates(redis, prefix, () => now);
  const sealed = await states.seal(call);
  const reason = async (other: StateBinding) => {
    const opened = await states.open(sealed, other);
    return opened.ok ? 'ok' : opened.reason;
  };
  assert.equal(await reason({ ...call, agent: 'intruder' }), 'requestState belongs to another agent');
  assert.equal(await reason({ ...call, tool: 'files__delete' }), 'requestState belongs to another tool');
  assert.equal(await reason({ ...call, server: 'other' }), 'requestState belongs to another tool');
  assert.equal(await reason({ ...call, args: { path: '/b' } }), 'requestState belongs to other arguments');
  now += REQUEST_STATE_TTL_MS - 1;
  assert.equal(await reason(call), 'ok');
  now += 1;
  assert.equal(await reason(call), 'requestState has expired; call the tool again');
});

test('the arguments digest ignores key order but not values', () => {
  assert.equal(argsDigest({ a: 1, b: [1, { c: 2, d: 3 }] }), argsDigest({ b: [1, { d: 3, c: 2 }], a: 1 }));
  assert.notEqual(argsDigest({ a: 1 }), argsDigest({ a: '1' }));
  assert.notEqual(argsDigest({ a: [1, 2] }), argsDigest({ a: [2, 1] }));
});
