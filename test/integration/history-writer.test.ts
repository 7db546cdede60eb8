import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, freshPrefix, freePort, type TestRedis } from '../helpers/redis.js';
import { HistoryStore } from '../../src/history/history-store.js';
import { HistoryWriter } from '../../src/history/history-writer.js';
import { MAX_DISPLAY_ARGS_CHARS, TRUNCATED_ARGS_KEY } from '../../src/history/decision-record.js';
import { argumentHash } from '../../src/core/approval/canonical.js';
import { newRequestId } from '../../src/core/approval/request-id.js';
import { createRedis } from '../../src/redis/connection.js';
import { silentLogger } from '../../src/log.js';
import type { CallOutcome } from '../../src/gateway/gateway.js';
import type { DecisionRecord } from '../../src/history/history-record.js';

let redis: TestRedis;
let client: Redis;

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
after(async () => {
  client?.disconnect();
  await redis?.stop();
});

const outcome = (extra: Partial<CallOutcome> = {}): CallOutcome => ({
  requestId: newRequestId(),
  agent: 'ci-bot',
  server: 'lab',
  tool: 'start_vm',
  rule: 'lab/start_vm',
  outcome: 'allowed',
  durationMs: 12.4,
  ...extra,
});

test('direct decisions become history records with a redacted display copy, hash and execution', async () => {
  const store = new HistoryStore(client, freshPrefix('w'));
  const writer = new HistoryWriter(store, { logger: silentLogger, now: () => 1_000_000 });
  const args = { vm_name: 'kali-01', password: 'hunter2', nested: { apiKey: 'k' } };
  const allowed = outcome({ args, isError: false, upstreamMs: 8 });
  const denied = outcome({
    outcome: 'denied',
    code: 'POLICY_DENIED',
    reason: 'people delete, not agents',
    tool: 'delete_vm',
    rule: 'lab/delete_*',
    args: {},
  });
  const limited = outcome({
    outcome: 'rate_limited',
    code: 'RATE_LIMITED',
    counter: 'hc',
    retryAfter: 30,
    reason: 'limit hc',
  });
  const unknown = outcome({
    outcome: 'denied',
    code: 'UNKNOWN_TOOL',
    server: '',
    rule: '',
    tool: 'x'.repeat(5000),
  });
  const held = outcome({ outcome: 'held' });
  const heldAnswer = outcome({ outcome: 'error', code: 'APPROVAL_PENDING', held: true });
  for (const o of [allowed, denied, limited, unknown, held, heldAnswer]) writer.record(o);
  await writer.flush();
  assert.deepEqual(writer.stats, { written: 4, failed: 0, dropped: 0 });

  const a = (await store.get(allowed.requestId)) as DecisionRecord;
  assert.equal(a.status, 'allowed');
  assert.deepEqual(a.args, { vm_name: 'kali-01', password: '[REDACTED]', nested: { apiKey: '[REDACTED]' } });
  assert.equal(a.argsHash, argumentHash('lab', 'start_vm', args));
  assert.equal(a.createdAt, 1_000_000 - 12);
  assert.equal(a.responseMs, 12);
  assert.deepEqual(a.execution, { startedAt: 1_000_000 - 8, finishedAt: 1_000_000, isError: false });
  assert.equal(JSON.stringify(a).includes('hunter2'), false);

  const d = (await store.get(denied.requestId)) as DecisionRecord;
  assert.equal(d.status, 'denied');
  assert.equal(d.code, 'POLICY_DENIED');
  assert.equal(d.reason, 'people delete, not agents');
  assert.equal(d.execution, undefined);
  const l = (await store.get(limited.requestId)) as DecisionRecord;
  assert.deepEqual([l.status, l.counter, l.retryAfter], ['rate_limited', 'hc', 30]);
  const u = (await store.get(unknown.requestId)) as DecisionRecord;
  assert.ok(u.tool.length <= 201, 'an unknown tool name is capped');
  assert.equal(
    await store.get(held.requestId),
    undefined,
    'held calls are history through their approval record',
  );
  assert.equal(await store.get(heldAnswer.requestId), undefined);
});

test('huge arguments are kept as a capped preview', async () => {
  const store = new HistoryStore(client, freshPrefix('w'));
  const writer = new HistoryWriter(store, { logger: silentLogger });
  const big = outcome({ args: { blob: 'z'.repeat(1_000_000), token: 'secret-value' } });
  writer.record(big);
  await writer.flush();
  const r = (await store.get(big.requestId)) as DecisionRecord;
  assert.equal(r.argsTruncated, true);
  const preview = r.args[TRUNCATED_ARGS_KEY] as string;
  assert.ok(preview.length <= MAX_DISPLAY_ARGS_CHARS + 1);
  assert.ok(JSON.stringify(r).length < MAX_DISPLAY_ARGS_CHARS + 2000);
  assert.equal(JSON.stringify(r).includes('secret-value'), false);
});

test('record() never throws or waits; Redis failures are counted, and a full buffer drops and counts', async () => {
  const port = await freePort();
  const dead = createRedis({
    url: `redis://127.0.0.1:${port}`,
    cluster: false,
    logger: silentLogger,
    connectTimeoutMs: 200,
  });
  try {
    const store = new HistoryStore(dead, freshPrefix('w'));
    const warnings: unknown[] = [];
    const logger = {
      ...silentLogger,
      warn: (...a: unknown[]) => void warnings.push(a),
    } as unknown as typeof silentLogger;
    const writer = new HistoryWriter(store, { logger, maxBuffered: 100, batchSize: 50 });
    for (let i = 0; i < 150; i++) writer.record(outcome());
    await writer.flush();
    assert.equal(writer.stats.written, 0);
    assert.equal(writer.stats.failed, 100);
    assert.equal(writer.stats.dropped, 50);
    assert.equal(warnings.length, 1, 'one warning for the whole outage, not one per batch');
    assert.equal((warnings[0] as [{ records: number }])[0].records, 50);
  } finally {
    dead.disconnect();
  }
});

test('many outcomes are written in pipelined batches', async () => {
  const store = new HistoryStore(client, freshPrefix('w'));
  const writer = new HistoryWriter(store, { logger: silentLogger, batchSize: 100 });
  const all = Array.from({ length: 1000 }, (_, i) => outcome({ tool: `t${i % 7}` }));
  for (const o of all) writer.record(o);
  await writer.flush();
  assert.equal(writer.stats.written, 1000);
  const page = await store.query({ tool: 't3', statuses: ['allowed'] }, { limit: 500 });
  assert.equal(page.records.length, all.filter((o) => o.tool === 't3').length);
});
