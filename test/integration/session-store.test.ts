import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/log.js';
import { checkRedis, createRedis, type RedisClient } from '../../src/redis/connection.js';
import { SessionStore } from '../../src/agent/session-store.js';
import { freshPrefix, startRedis, type TestRedis } from '../helpers/redis.js';

let server: TestRedis;
let redis: RedisClient;
const prefix = freshPrefix('ss');
const init = {
  agent: 'ci-bot',
  protocolVersion: '2025-11-25',
  clientCapabilities: { sampling: {} },
  clientInfo: { name: 'claude-code', version: '2.1.0' },
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

/** How many commands Redis has run so far (INFO counts them server-side). */
async function commandsRun(): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

test('a session record: any store instance reads it, the idle time restarts, DELETE ends it', async () => {
  const one = new SessionStore(redis, prefix, 60_000);
  const two = new SessionStore(redis, prefix, 60_000);
  const created = await one.create(init);
  assert.match(created.id, /^s_[\w-]{22}\.[\w-]{22}$/);
  const read = await two.touch(created.id, 'ci-bot');
  assert.deepEqual(
    { ...read, lastSeen: 0 },
    { ...created, lastSeen: 0 },
    'a second replica finds the same record',
  );
  const ttl = await redis.pttl(`${prefix}:sess:${encodeURIComponent(created.id)}`);
  assert.ok(ttl > 0 && ttl <= 60_000, `expires when idle (pttl ${ttl})`);

  await two.setLogLevel(created.id, 'warning');
  await two.setSubscribed(created.id, 'test://a', true);
  const subs = `${prefix}:sess:${encodeURIComponent(created.id)}:subs`;
  await redis.pexpire(subs, 5000);
  assert.equal((await one.touch(created.id, 'ci-bot'))?.logLevel, 'warning');
  const subsTtl = await redis.pttl(subs);
  assert.ok(
    subsTtl > 5000 && subsTtl <= 60_000,
    `a request restarts its subscriptions' idle time too (pttl ${subsTtl})`,
  );
  assert.equal(await one.isSubscribed(created.id, 'test://a'), true);
  await one.setSubscribed(created.id, 'test://a', false);
  assert.equal(await two.isSubscribed(created.id, 'test://a'), false);

  assert.equal(read?.tasks, undefined, 'no tasks unless the session negotiated them');
  const withTasks = await one.create({ ...init, tasks: true });
  assert.equal(
    (await two.touch(withTasks.id, 'ci-bot'))?.tasks,
    true,
    'every replica knows it negotiated tasks',
  );

  await two.delete(created.id);
  assert.equal(await one.touch(created.id, 'ci-bot'), undefined);
  assert.equal(await redis.exists(`${prefix}:sess:${encodeURIComponent(created.id)}`), 0, 'no stub is left');
});

test("forged ids and another agent's id fail on their tag, without a Redis round trip", async () => {
  const store = new SessionStore(redis, prefix, 60_000);
  const { id } = await store.create(init);
  const forged = [
    `${id.slice(0, -2)}${id.endsWith('AA') ? 'BB' : 'AA'}`,
    's_AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA',
    'not-a-session',
    `${id}x`,
  ];
  const before = await commandsRun();
  for (const f of forged) assert.equal(await store.touch(f, 'ci-bot'), undefined, f);
  assert.equal(
    await store.touch(id, 'other-agent'),
    undefined,
    'the id of ci-bot with the token of another agent',
  );
  // The INFO call itself is the one command in between.
  assert.equal((await commandsRun()) - before, 1);
  assert.equal((await store.touch(id, 'ci-bot'))?.agent, 'ci-bot');
});
