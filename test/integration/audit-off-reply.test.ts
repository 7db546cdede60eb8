// An allowed call is answered before its audit line is written, and the line is still written: the
// audit file's lock is held by the test while the call runs, so a reply that waited for the audit write
// could not arrive; history, which does not need the lock, has the call meanwhile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { ModernAgent } from '../helpers/modern-agent.js';
import { untilChanged, untilFile } from '../helpers/changes.js';
import { acquireFileLock } from '../../src/host/file-lock.js';
import { HistoryStore } from '../../src/history/history-store.js';
import { verifyAuditFile } from '../../src/audit/index.js';

let redis: TestRedis;
let gw: TestAirlock;
let auditFile: string;

before(async () => {
  redis = await startRedis();
  gw = await startTestAirlock({
    redisUrl: redis.url,
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: { list_vms: { limits: [{ counter: 'lv', window: 'minute', max: 100, scope: 'grant' }] } },
      },
    },
  });
  auditFile = join(gw.dataDir, 'audit.jsonl');
});

after(async () => {
  await gw?.stop();
  await redis?.stop();
});

const allowedLines = () =>
  readFileSync(auditFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"policy.allowed"') && l.includes('"tool":"list_vms"'));

test('an allowed call is answered while its audit line cannot be written yet, and the line follows', async () => {
  await untilFile(
    auditFile,
    () => (readFileSync(auditFile, 'utf8').includes('airlock.started') ? true : undefined),
    'the start line',
  );
  const lock = await acquireFileLock(`${auditFile}.lock`);
  let released = false;
  try {
    const answer = await new ModernAgent(gw.url).callTool('list_vms', {});
    assert.equal(answer.status, 200);
    assert.ok(answer.result, JSON.stringify(answer.body));
    assert.equal(answer.result.isError ?? false, false);
    // History has the call (rate-limited, policy-checked, recorded) while the audit writer still waits.
    const conn = new Redis(redis.url);
    try {
      const store = new HistoryStore(conn, gw.prefix);
      const found = await untilChanged(
        { redisUrl: redis.url, prefix: gw.prefix },
        async () => {
          const page = await store.query({ tool: 'list_vms' }, { limit: 10 });
          return page.records.length ? page.records : undefined;
        },
        'the history record',
      );
      assert.equal(found.length, 1);
    } finally {
      conn.disconnect();
    }
    assert.equal(allowedLines().length, 0, 'the audit line cannot be on disk while the lock is held');
    await lock.release();
    released = true;
    const lines = await untilFile(
      auditFile,
      () => (allowedLines().length ? allowedLines() : undefined),
      'the audit line',
    );
    assert.equal(lines.length, 1);
    assert.equal((await verifyAuditFile(auditFile)).ok, true);
  } finally {
    if (!released) await lock.release();
  }
});
