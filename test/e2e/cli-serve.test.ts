import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, labServerCommand } from '../helpers/airlock-harness.js';
import { startRedis, freshPrefix } from '../helpers/redis.js';
import { startServe, writeDeployment } from '../helpers/serve-process.js';

const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const run = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, ...opts });

test('no redis-server on PATH: one clear message, exit 1', () => {
  const bin = mkdtempSync(join(tmpdir(), 'airlock-bin-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  const cwd = mkdtempSync(join(tmpdir(), 'airlock-nored-'));
  const r = run(['serve', '--demo'], { cwd, env: { PATH: bin, AIRLOCK_LOG_LEVEL: 'silent' } });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /redis-server was not found on PATH.*install it \(apt-get install redis-server.*or set redis\.url/s,
  );
});

test('a bad config is refused with the file and JSON path, exit 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-badcfg-'));
  writeFileSync(
    join(dir, 'airlock.config.json'),
    JSON.stringify({ listen: { port: 'x' }, servers: { lab: { comand: 'node' } } }),
  );
  const r = run(['serve'], { cwd: dir, env: { ...process.env, AIRLOCK_LOG_LEVEL: 'silent' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /airlock\.config\.json: .*\$\.listen\.port/s);
  assert.match(r.stderr, /\$\.servers\.lab/);
  const none = run(['serve'], { cwd: mkdtempSync(join(tmpdir(), 'airlock-nocfg-')) });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /No config file found/);
});

test('policy check names file and path and exits 1; a good directory passes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-pol-'));
  mkdirSync(join(dir, 'bad'));
  writeFileSync(
    join(dir, 'bad', 'lab.json'),
    JSON.stringify({ version: '1', tools: { start_vm: { action: 'maybe' } } }),
  );
  const bad = run(['policy', 'check', join(dir, 'bad')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /lab\.json: \$\.tools\.start_vm\.action/);
  const good = run(['policy', 'check', join(ROOT, 'policies')]);
  assert.equal(good.status, 0, good.stderr);
  const explain = run([
    'policy',
    'explain',
    '--dir',
    join(ROOT, 'policies'),
    '--server',
    'lab',
    '--tool',
    'capture_network_traffic',
    '--args',
    '{"duration": 30, "filter": "port 53"}',
  ]);
  assert.equal(explain.status, 0, explain.stderr);
  assert.match(explain.stdout, /allow/);
  const usage = run(['policy', 'explain', '--server', 'lab']);
  assert.equal(usage.status, 2);
});

test('serve prints the demo lab hints only when the demo lab runs under the bundled policies', async () => {
  const redis = await startRedis();
  const own = writeDeployment({
    redisUrl: redis.url,
    prefix: freshPrefix(),
    policies: { everything: { version: '1', tools: { echo: { action: 'allow' } } } },
    config: {
      servers: {
        everything: {
          command: process.execPath,
          args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
        },
      },
    },
  });
  const lab = writeDeployment({
    redisUrl: redis.url,
    prefix: freshPrefix(),
    policies: {},
    config: { policies: join(ROOT, 'policies'), servers: { lab: labServerCommand() } },
  });
  try {
    const mine = await startServe(own.configFor);
    await mine.stop();
    assert.match(mine.stdout(), /Upstream servers: +everything \(ready/);
    assert.doesNotMatch(mine.stdout(), /Try it|list_vms|start_vm/);
    const demo = await startServe(lab.configFor);
    await demo.stop();
    assert.match(demo.stdout(), /Try it:.*\n.*list_vms/);
  } finally {
    await redis.stop();
  }
});
