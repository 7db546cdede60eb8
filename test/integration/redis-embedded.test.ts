import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AirlockError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/log.js';
import { checkRedis, createRedis } from '../../src/redis/connection.js';
import { startEmbeddedRedis } from '../../src/redis/embedded-redis.js';
import { embeddedRedisLayout, readKeeperPid } from '../../src/redis/embedded-redis-layout.js';
import { isProcessAlive } from '../../src/host/process-alive.js';
import { pingSocket } from '../../src/redis/redis-socket-probe.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];

/** A fresh, short data directory (unix socket paths are limited to ~104 bytes). */
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'al-emb-'));
  dirs.push(dir);
  return dir;
}

after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  // Whatever a failed test left running: its keeper stops the server on SIGTERM.
  for (const dir of dirs) {
    const keeper = readKeeperPid(embeddedRedisLayout(dir));
    if (keeper !== undefined && isProcessAlive(keeper)) process.kill(keeper, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

async function runId(url: string): Promise<string> {
  const redis = createRedis({ url, cluster: false, logger: silentLogger });
  try {
    await checkRedis(redis, silentLogger);
    const info = await redis.info('server');
    return /run_id:(\w+)/.exec(info)?.[1] ?? '';
  } finally {
    redis.disconnect();
  }
}

/** Waits for the keeper to stop the server; there is no event to wait on from here, so poll. */
async function waitUntilDown(socketPath: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await pingSocket(socketPath, 200)) {
    if (Date.now() > deadline)
      throw new Error(`embedded Redis at ${socketPath} still up after ${timeoutMs} ms`);
    await delay(25);
  }
}

const USER_SCRIPT = `
const { startEmbeddedRedis } = await import(process.env.EMBEDDED_MODULE);
const { silentLogger } = await import(process.env.LOG_MODULE);
await startEmbeddedRedis({ dataDir: process.env.DATA_DIR, logger: silentLogger });
process.stdout.write('ready\\n');
setInterval(() => {}, 1 << 30);
`;

/** Another process (think `airlock stdio`) holding a lease on the embedded Redis of `dir`; resolves once it holds it. */
async function spawnUser(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', USER_SCRIPT], {
    env: {
      ...process.env,
      EMBEDDED_MODULE: new URL('../../src/redis/embedded-redis.ts', import.meta.url).href,
      LOG_MODULE: new URL('../../src/log.ts', import.meta.url).href,
      DATA_DIR: dir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      if (c.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`user process exited (${code}): ${stderr}`)));
  });
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('embedded Redis', () => {
  test('runs redis-server on a unix socket only, AOF everysec, noeviction; stops on release', async () => {
    const dir = dataDir();
    const embedded = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    assert.equal(embedded.socketPath, join(dir, 'redis', 'redis.sock'));
    assert.equal(embedded.url, `unix://${embedded.socketPath}`);
    const redis = createRedis({ url: embedded.url, cluster: false, logger: silentLogger });
    try {
      await checkRedis(redis, silentLogger);
      const config = async (name: string) => ((await redis.config('GET', name)) as string[])[1];
      assert.equal(await config('port'), '0', 'no TCP listener');
      assert.equal(await config('appendonly'), 'yes');
      assert.equal(await config('appendfsync'), 'everysec');
      assert.equal(await config('maxmemory-policy'), 'noeviction');
      assert.equal(await config('dir'), join(dir, 'redis'));
      assert.equal(await config('unixsocketperm'), '700');
    } finally {
      redis.disconnect();
    }
    await embedded.release();
    assert.equal(await pingSocket(embedded.socketPath), false, 'stopped once release() resolved');
    assert.equal(existsSync(embedded.socketPath), false);
    await embedded.release(); // idempotent
  });

  test('a second user reuses the server; releasing one keeps it; releasing the last stops it', async () => {
    const dir = dataDir();
    const a = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    const b = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    assert.equal(b.url, a.url);
    const id = await runId(a.url);
    assert.equal(await runId(b.url), id, 'the same server, not a second one');
    await a.release();
    assert.equal(await runId(b.url), id, 'still up for b');
    await b.release();
    assert.equal(await pingSocket(b.socketPath), false);
  });

  test('data survives a stop and a restart (AOF)', async () => {
    const dir = dataDir();
    const first = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    const redis = createRedis({ url: first.url, cluster: false, logger: silentLogger });
    await checkRedis(redis, silentLogger);
    await redis.set('approval', 'ar_1');
    redis.disconnect();
    await first.release();
    const second = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    const again = createRedis({ url: second.url, cluster: false, logger: silentLogger });
    try {
      await checkRedis(again, silentLogger);
      assert.equal(await again.get('approval'), 'ar_1');
    } finally {
      again.disconnect();
      await second.release();
    }
  });

  test('outlives the process that started it; a SIGKILLed user then does not keep it alive', async () => {
    const dir = dataDir();
    const starter = await spawnUser(dir);
    const mine = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    const id = await runId(mine.url);
    await kill9(starter);
    assert.equal(await runId(mine.url), id, 'the server outlived its starter');
    await mine.release();
    assert.equal(await pingSocket(mine.socketPath), false, "the dead starter's lease did not count");
  });

  test('stops when its only user is killed with SIGKILL', async () => {
    const dir = dataDir();
    const user = await spawnUser(dir);
    const { socketPath } = embeddedRedisLayout(dir);
    assert.equal(await pingSocket(socketPath), true);
    await kill9(user);
    await waitUntilDown(socketPath);
    assert.equal(readdirSync(join(dir, 'redis', 'leases')).length, 0, 'the dead lease was swept');
  });

  test('processes starting at once share one server', async () => {
    const dir = dataDir();
    const users = await Promise.all([spawnUser(dir), spawnUser(dir), spawnUser(dir)]);
    const layout = embeddedRedisLayout(dir);
    const started = readFileSync(layout.keeperLogPath, 'utf8').match(/redis-server started/g) ?? [];
    assert.equal(started.length, 1, 'exactly one redis-server was started');
    await Promise.all(users.map(kill9));
    await waitUntilDown(layout.socketPath);
  });

  test('a lock left behind by a dead process is taken over', async () => {
    const dir = dataDir();
    const layout = embeddedRedisLayout(dir);
    const dead = spawn(process.execPath, ['-e', '']);
    await once(dead, 'exit');
    mkdirSync(layout.leasesDir, { recursive: true });
    writeFileSync(
      layout.lockPath,
      JSON.stringify({ pid: dead.pid, host: hostname(), token: 'abandoned', at: new Date().toISOString() }),
    );
    const embedded = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger, startTimeoutMs: 5000 });
    assert.equal(await pingSocket(embedded.socketPath), true);
    assert.equal(existsSync(layout.lockPath), false, 'unlocked after start');
    await embedded.release();
  });

  test('a server whose keeper was SIGKILLed is restarted under a new keeper, data intact', async () => {
    const dir = dataDir();
    const layout = embeddedRedisLayout(dir);
    const first = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    const redis = createRedis({ url: first.url, cluster: false, logger: silentLogger });
    await checkRedis(redis, silentLogger);
    await redis.set('k', 'kept');
    redis.disconnect();
    const oldId = await runId(first.url);
    const keeper = readKeeperPid(layout)!;
    process.kill(keeper, 'SIGKILL');
    // This process spawned the keeper, so it is a zombie until node reaps it on SIGCHLD.
    while (isProcessAlive(keeper)) await delay(10);
    assert.equal(await pingSocket(first.socketPath), true, 'the orphaned server still runs');
    const second = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    const again = createRedis({ url: second.url, cluster: false, logger: silentLogger });
    try {
      await checkRedis(again, silentLogger);
      assert.notEqual(await runId(second.url), oldId, 'a new server under a new keeper');
      assert.equal(await again.get('k'), 'kept');
    } finally {
      again.disconnect();
    }
    await first.release();
    await second.release();
    assert.equal(await pingSocket(second.socketPath), false);
  });

  test('an orphaned server is stopped by the last user to release', async () => {
    const dir = dataDir();
    const layout = embeddedRedisLayout(dir);
    const embedded = await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    const keeper = readKeeperPid(layout)!;
    process.kill(keeper, 'SIGKILL');
    while (isProcessAlive(keeper)) await delay(10);
    assert.equal(await pingSocket(embedded.socketPath), true, 'the orphaned server still runs');
    await embedded.release();
    assert.equal(await pingSocket(embedded.socketPath), false);
  });

  test('no redis-server on PATH: one clear error, and nothing left behind', async () => {
    const dir = dataDir();
    const path = process.env.PATH;
    process.env.PATH = '';
    let error: unknown;
    try {
      await startEmbeddedRedis({ dataDir: dir, logger: silentLogger });
    } catch (err) {
      error = err;
    } finally {
      process.env.PATH = path;
    }
    assert.ok(error instanceof AirlockError);
    assert.equal(error.code, 'REDIS_UNAVAILABLE');
    assert.match(error.message, /redis-server was not found on PATH/);
    assert.match(error.message, /apt-get install redis-server/);
    assert.match(error.message, /brew install redis/);
    assert.match(error.message, /redis\.url/);
    const layout = embeddedRedisLayout(dir);
    assert.deepEqual(readdirSync(layout.leasesDir), []);
    assert.equal(existsSync(layout.lockPath), false);
  });

  test('a redis-server that cannot start: the error says so and carries the logs', async () => {
    const dir = dataDir();
    await assert.rejects(
      startEmbeddedRedis({
        dataDir: dir,
        logger: silentLogger,
        redisServer: '/bin/false',
        startTimeoutMs: 10_000,
      }),
      (err: unknown) => {
        assert.ok(err instanceof AirlockError);
        assert.equal(err.code, 'REDIS_UNAVAILABLE');
        assert.match(err.message, /did not start: its keeper exited/);
        assert.match(err.message, /redis-server exited/, 'the keeper log tail is included');
        return true;
      },
    );
    assert.deepEqual(readdirSync(embeddedRedisLayout(dir).leasesDir), [], 'no lease left behind');
  });

  test('a data directory too deep for a unix socket is a config error', async () => {
    await assert.rejects(
      startEmbeddedRedis({ dataDir: join(dataDir(), 'x'.repeat(120)), logger: silentLogger }),
      {
        code: 'CONFIG_INVALID',
      },
    );
  });
});
