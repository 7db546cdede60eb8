// The audit writer on a thread of its own: the same lines and chain as AuditLog, counters and logs
// reaching the main thread, a clean close, and the main thread taking over if the thread dies.
import { once } from 'node:events';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { AirlockError } from '../../src/core/errors.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuditThread, startAuditWriter } from '../../src/audit/audit-thread.js';
import { verifyAuditFile } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/audit-events.js';
import { capturingLogger, waitForLog } from '../helpers/capture-logger.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-thread-'));
  dirs.push(dir);
  return join(dir, 'audit.jsonl');
}

const expired = (id: string): AuditEvent => ({ event: 'request.expired', requestId: id });

async function lines(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, 'utf8');
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('lines recorded on the main thread are written by the writer thread in order, chained, and counted', async () => {
  const file = await tempFile();
  const audit = await AuditThread.start({
    file,
    replica: 'r1',
    now: () => Date.parse('2026-02-03T04:05:06.000Z'),
  });
  assert.notEqual(audit.worker.threadId, -1);
  for (let i = 0; i < 300; i++) audit.record(expired(`ar_${i}`));
  // An awaited append resolves once its line (and every one before it) is on disk.
  await audit.append({
    event: 'decision',
    requestId: 'ar_x',
    by: 'alice',
    via: 'slack',
    decision: 'approve',
  });
  assert.equal(audit.written, 301);
  assert.equal(audit.pending, 0);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 301 });
  const written = await lines(file);
  assert.deepEqual(
    written.slice(0, 300).map((l) => l.requestId),
    Array.from({ length: 300 }, (_, i) => `ar_${i}`),
  );
  // `at` comes from the main thread's clock, the replica from the options given there.
  assert.equal(written[0]!.at, '2026-02-03T04:05:06.000Z');
  assert.equal(written[300]!.replica, 'r1');
  await audit.close();
  assert.equal(audit.failures, 0);
  assert.equal(audit.lost, 0);
});

test('close writes what is queued, ends the thread, and later events are refused and counted as lost', async () => {
  const file = await tempFile();
  const audit = await AuditThread.start({ file, replica: 'r1', lingerMs: 50 });
  for (let i = 0; i < 20; i++) audit.record(expired(`ar_${i}`));
  const exited = once(audit.worker, 'exit');
  await audit.close();
  await exited;
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 20 });
  assert.equal(audit.written, 20);
  await assert.rejects(
    audit.append(expired('late')),
    (err: unknown) => err instanceof AirlockError && err.code === 'INTERNAL',
  );
  audit.record(expired('later'));
  assert.equal(audit.lost, 2);
  assert.equal((await lines(file)).length, 20);
});

test('events that can never be written are refused, counted, and do not stop the next ones', async () => {
  const file = await tempFile();
  const { logger, all } = capturingLogger();
  const audit = await AuditThread.start({ file, replica: 'r1', logger });
  // Not structured-cloneable: refused before it leaves the main thread.
  const withFunction = { event: 'request.expired', requestId: 'f', fn: () => 1 } as unknown as AuditEvent;
  await assert.rejects(audit.append(withFunction), /cannot be serialised/);
  // Cloneable, but the chain cannot hold it: refused by the writer thread, with its reason.
  const reserved = { event: 'request.expired', requestId: 'r', seq: 5 } as unknown as AuditEvent;
  await assert.rejects(audit.append(reserved), /reserved field name "seq"/);
  const big = { event: 'request.expired', requestId: 'b', n: 1n } as unknown as AuditEvent;
  audit.record(big);
  await audit.append(expired('ok'));
  assert.equal(audit.lost, 3);
  assert.deepEqual(
    (await lines(file)).map((l) => l.requestId),
    ['ok'],
  );
  await audit.close();
  // The thread's own log records arrive through the main thread's logger, marked as the thread's.
  const refusals = all.filter((r) => r.msg === 'audit event cannot be written');
  assert.deepEqual(
    refusals.map((r) => [r.level, r.thread]),
    [
      [50, undefined],
      [50, 'audit'],
      [50, 'audit'],
    ],
  );
});

test('a failing write is retried on the thread: the failure is logged here and counted until it succeeds', async () => {
  const file = await tempFile();
  const blocker = join(file, '..', 'blocked');
  await writeFile(blocker, 'not a directory');
  const { logger, records } = capturingLogger();
  const target = join(blocker, 'audit.jsonl');
  const audit = await AuditThread.start({ file: target, replica: 'r1', logger, retryDelayMs: 5 });
  const appended = audit.append(expired('ar_1'));
  const record = await waitForLog(records, 'audit append failed; retrying');
  assert.equal(record.thread, 'audit');
  assert.ok(audit.failures >= 1);
  assert.equal(audit.pending, 1);
  await unlink(blocker);
  await appended;
  await audit.close();
  assert.equal(audit.pending, 0);
  assert.deepEqual(await verifyAuditFile(target), { ok: true, lines: 1 });
});

test('two writer threads and an AuditLog on the main thread share one chain', async () => {
  const file = await tempFile();
  const a = await AuditThread.start({ file, replica: 'a', fsync: false });
  const b = await AuditThread.start({ file, replica: 'b', fsync: false });
  const c = new AuditLog({ file, replica: 'c', fsync: false });
  const n = 400;
  for (let i = 0; i < n; i++) {
    a.record(expired(`a:${i}`));
    b.record(expired(`b:${i}`));
    c.record(expired(`c:${i}`));
  }
  await Promise.all([a.close(), b.close(), c.close()]);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 3 * n });
  const byReplica = new Map<string, unknown[]>();
  for (const line of await lines(file)) {
    byReplica.set(line.replica as string, [...(byReplica.get(line.replica as string) ?? []), line.requestId]);
  }
  for (const replica of ['a', 'b', 'c']) {
    assert.deepEqual(
      byReplica.get(replica),
      Array.from({ length: n }, (_, i) => `${replica}:${i}`),
    );
  }
});

test('if the writer thread dies, the error is logged and later lines are written on the main thread', async () => {
  const file = await tempFile();
  const { logger, all } = capturingLogger();
  const audit = await AuditThread.start({ file, replica: 'r1', logger });
  await audit.append(expired('before'));
  await audit.worker.terminate();
  assert.ok(all.some((r) => String(r.msg).startsWith('audit writer thread exited')));
  await audit.append(expired('after'));
  audit.record(expired('after-2'));
  await audit.close();
  assert.equal(audit.written, 3);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 3 });
  assert.deepEqual(
    (await lines(file)).map((l) => l.requestId),
    ['before', 'after', 'after-2'],
  );
});

test('startAuditWriter gives a thread when it can start one', async () => {
  const file = await tempFile();
  const audit = await startAuditWriter({ file, replica: 'r1' });
  assert.ok(audit instanceof AuditThread);
  await audit.append(expired('x'));
  await audit.close();
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 1 });
});
