import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AirlockError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/log.js';
import { checkRedis, createRedis, type RedisClient } from '../../src/redis/connection.js';
import { queueScript, runScript, scriptPipeline, SCRIPT_NAMES } from '../../src/redis/lua-scripts.js';
import { freshPrefix, startRedis, type TestRedis } from '../helpers/redis.js';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const luaFiles = (dir: string) =>
  readdirSync(here(dir))
    .filter((f) => f.endsWith('.lua'))
    .map((f) => f.slice(0, -'.lua'.length))
    .sort();

describe('Lua scripts', () => {
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

  test('every script file is listed, and the build ships the same files', () => {
    assert.deepEqual(luaFiles('../../src/redis/scripts/'), [...SCRIPT_NAMES].sort());
    // The test run builds first; dist/ is what `airlock serve` and the package load.
    assert.deepEqual(luaFiles('../../dist/redis/scripts/'), [...SCRIPT_NAMES].sort());
  });

  test('the built loader reads its scripts from dist/', async () => {
    const url = pathToFileURL(here('../../dist/redis/lua-scripts.js')).href;
    const built = (await import(url)) as typeof import('../../src/redis/lua-scripts.js');
    const own = createRedis({ url: server.url, cluster: false, logger: silentLogger });
    try {
      await checkRedis(own, silentLogger);
      const lock = `${freshPrefix('lua')}:lock`;
      await own.set(lock, 'token');
      assert.equal(await built.runScript(own, 'release-lock-1', [lock], ['token']), 1);
      assert.equal(await own.exists(lock), 0);
    } finally {
      own.disconnect();
    }
  });

  test('a script the server forgot (restart, failover) is sent again, also in a pipeline', async () => {
    const lock = `${freshPrefix('lua')}:lock`;
    assert.equal(await runScript(redis, 'release-lock-1', [lock], ['t']), 0);
    await redis.script('FLUSH');
    await redis.set(lock, 't');
    assert.equal(await runScript(redis, 'release-lock-1', [lock], ['t']), 1);

    await redis.script('FLUSH');
    await redis.set(lock, 't');
    const pipe = scriptPipeline(redis);
    queueScript(pipe, 'release-lock-1', [lock], ['other']);
    queueScript(pipe, 'release-lock-1', [lock], ['t']);
    assert.deepEqual(await pipe.exec(), [
      [null, 0],
      [null, 1],
    ]);
  });

  test('a wrong key count, or a pipeline without the scripts, is an internal error', () => {
    const internal = (err: unknown) => err instanceof AirlockError && err.code === 'INTERNAL';
    assert.throws(() => runScript(redis, 'trim-index-2', ['only-one'], ['0', '1']), internal);
    const unloaded = createRedis({ url: server.url, cluster: false, logger: silentLogger });
    try {
      assert.throws(() => queueScript(unloaded.pipeline(), 'release-lock-1', ['k'], ['t']), internal);
    } finally {
      unloaded.disconnect();
    }
  });
});
