import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { AirlockError } from '../../src/core/errors.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { checkRedis, createRedis, parseRedisUrl, redactUrl } from '../../src/redis/connection.js';
import { pingSocket } from '../../src/redis/redis-socket-probe.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/** A logger whose JSON lines land in `lines`, to assert on warnings. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** A redis-server on a unix socket only, returned once it answers PING. */
async function startSocketRedis(socketPath: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socketPath, '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 10_000;
  while (!(await pingSocket(socketPath, 200))) {
    if (Date.now() > deadline) throw new Error('socket redis did not start');
    await delay(20);
  }
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('parseRedisUrl', () => {
  test('redis:// with credentials and db', () => {
    assert.deepEqual(parseRedisUrl('redis://bob:s%40cret@redis.internal:6380/2'), {
      username: 'bob',
      password: 's@cret',
      host: 'redis.internal',
      port: 6380,
      db: 2,
    });
  });

  test('rediss:// turns TLS on; port defaults to 6379', () => {
    assert.deepEqual(parseRedisUrl('rediss://:pw@example.com'), {
      password: 'pw',
      host: 'example.com',
      port: 6379,
      tls: {},
    });
  });

  test('unix:///path with db and password; a bare absolute path works too', () => {
    assert.deepEqual(parseRedisUrl('unix:///var/run/redis.sock?db=3&password=pw'), {
      password: 'pw',
      path: '/var/run/redis.sock',
      db: 3,
    });
    assert.deepEqual(parseRedisUrl('/tmp/r.sock'), { path: '/tmp/r.sock' });
  });

  test('unknown schemes and socket URLs without a path are config errors', () => {
    assert.throws(() => parseRedisUrl('http://x'), { code: 'CONFIG_INVALID' });
    assert.throws(() => parseRedisUrl('unix://'), { code: 'CONFIG_INVALID' });
    assert.throws(() => parseRedisUrl('not a url'), { code: 'CONFIG_INVALID' });
    assert.throws(() => parseRedisUrl('redis://h/abc'), { code: 'CONFIG_INVALID' });
  });

  test('a cluster needs TCP', () => {
    assert.throws(() => createRedis({ url: 'unix:///tmp/x.sock', cluster: true, logger: silentLogger }), {
      code: 'CONFIG_INVALID',
    });
  });

  test('redactUrl hides passwords', () => {
    assert.equal(redactUrl('redis://bob:secret@h:1'), 'redis://bob:***@h:1');
    assert.equal(redactUrl('unix:///s.sock?password=secret&db=1'), 'unix:///s.sock?password=***&db=1');
  });
});

describe('checkRedis', () => {
  let server: TestRedis;
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server.stop();
  });

  test('passes quietly on a noeviction Redis', async () => {
    const { logger, lines } = capturingLogger();
    const redis = createRedis({ url: server.url, cluster: false, name: 'airlock-test', logger });
    try {
      await checkRedis(redis, logger);
      assert.deepEqual(lines, []);
      assert.equal(await redis.client('GETNAME'), 'airlock-test');
    } finally {
      redis.disconnect();
    }
  });

  test('warns when maxmemory-policy is not noeviction', async () => {
    const { logger, lines } = capturingLogger();
    const redis = createRedis({ url: server.url, cluster: false, logger });
    try {
      await checkRedis(redis, silentLogger);
      await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await checkRedis(redis, logger);
      const warning = lines.find((l) => l.level === 40);
      assert.ok(warning, 'a warning was logged');
      assert.equal(warning.maxmemoryPolicy, 'allkeys-lru');
      assert.match(String(warning.msg), /noeviction/);
    } finally {
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      redis.disconnect();
    }
  });

  test('tolerates CONFIG being forbidden (managed Redis)', async () => {
    const admin = new Redis(server.url);
    await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-pw', '~*', '+@all', '-config');
    admin.disconnect();
    const { logger, lines } = capturingLogger();
    const redis = createRedis({
      url: server.url.replace('//', '//limited:limited-pw@'),
      cluster: false,
      logger,
    });
    try {
      await checkRedis(redis, logger);
      assert.equal(lines.filter((l) => l.level === 40).length, 0, 'no warning');
      assert.ok(
        lines.some((l) => /maxmemory-policy/.test(String(l.msg))),
        'a note about the unchecked policy',
      );
    } finally {
      redis.disconnect();
    }
  });

  test('an unreachable Redis is REDIS_UNAVAILABLE, naming the cause', async () => {
    const gone = await startRedis();
    await gone.stop();
    const redis = createRedis({ url: gone.url, cluster: false, logger: silentLogger });
    try {
      await assert.rejects(checkRedis(redis, silentLogger, 500), (err: unknown) => {
        assert.ok(err instanceof AirlockError);
        assert.equal(err.code, 'REDIS_UNAVAILABLE');
        assert.match(err.message, /ECONNREFUSED/);
        return true;
      });
    } finally {
      redis.disconnect();
    }
  });
});

describe('createRedis over a unix socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-conn-'));
  const socketPath = join(dir, 'r.sock');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('fails fast while Redis is down, and reconnects on its own when it is back', async () => {
    let server = await startSocketRedis(socketPath);
    const { logger, lines } = capturingLogger();
    const redis = createRedis({ url: `unix://${socketPath}`, cluster: false, logger });
    try {
      await checkRedis(redis, logger);
      await redis.set('k', 'v');
      await kill(server);
      const started = Date.now();
      await assert.rejects(redis.get('k'));
      assert.ok(Date.now() - started < 500, 'rejected at once, not queued');
      const back = once(redis, 'ready');
      server = await startSocketRedis(socketPath);
      await back;
      assert.equal(await redis.ping(), 'PONG');
      assert.ok(
        lines.some((l) => l.level === 40 && /unreachable/.test(String(l.msg))),
        'the outage was logged',
      );
      assert.ok(
        lines.some((l) => /reachable again/.test(String(l.msg))),
        'so was the recovery',
      );
    } finally {
      redis.disconnect();
      await kill(server);
    }
  });

  test('a frozen Redis fails after the command timeout instead of hanging', async () => {
    const server = await startSocketRedis(socketPath);
    const redis = createRedis({
      url: `unix://${socketPath}`,
      cluster: false,
      logger: silentLogger,
      commandTimeoutMs: 300,
    });
    try {
      await checkRedis(redis, silentLogger);
      server.kill('SIGSTOP');
      const started = Date.now();
      await assert.rejects(redis.ping(), /timed out/i);
      assert.ok(Date.now() - started < 1500);
    } finally {
      server.kill('SIGCONT');
      redis.disconnect();
      await kill(server);
    }
  });
});
