import { mkdtemp, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { AirlockError } from '../../src/core/errors.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { resolveAuditFile } from '../../src/audit/audit-log-options.js';
import { GENESIS_HASH } from '../../src/audit/audit-chain.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { formatVerifyResult, verifyAuditFile } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/audit-events.js';
import { capturingLogger, waitForLog } from '../helpers/capture-logger.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-'));
  dirs.push(dir);
  return join(dir, 'audit.jsonl');
}

function expired(i: number): AuditEvent {
  return { event: 'request.expired', requestId: `ar_${i}` };
}

/** Writes `n` events with a fresh AuditLog and closes it. */
async function writeEvents(file: string, n: number, replica = 'r1'): Promise<void> {
  const log = new AuditLog({ file, replica });
  for (let i = 1; i <= n; i++) await log.append(expired(i));
  await log.close();
}

async function readLines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').slice(0, -1);
}

async function writeLines(file: string, lines: string[]): Promise<void> {
  await writeFile(file, lines.map((l) => l + '\n').join(''));
}

/** A logger whose records arrive as 'record' events, so a test can wait for a specific log line. */
test('lines carry seq, at, event, replica, fields, prev and hash, chained from the genesis hash', async () => {
  const file = await tempFile();
  const log = new AuditLog({ file, replica: 'replica-a', now: () => Date.parse('2026-01-02T03:04:05.000Z') });
  await log.append({
    event: 'request.created',
    requestId: 'ar_1',
    server: 'lab',
    tool: 'start_vm',
    agent: 'ci-bot',
    argsHash: 'ab'.repeat(32),
    rule: 'lab/start_vm',
    action: 'require_approval',
  });
  await log.append({ event: 'decision', requestId: 'ar_1', by: 'alice', via: 'slack', decision: 'approve' });
  await log.close();

  const [first, second] = (await readLines(file)).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(Object.keys(first!), [
    'seq',
    'at',
    'event',
    'replica',
    'requestId',
    'server',
    'tool',
    'agent',
    'argsHash',
    'rule',
    'action',
    'prev',
    'hash',
  ]);
  assert.equal(first!.seq, 1);
  assert.equal(first!.at, '2026-01-02T03:04:05.000Z');
  assert.equal(first!.replica, 'replica-a');
  assert.equal(first!.prev, GENESIS_HASH);
  const { hash, ...rest } = first!;
  assert.equal(hash, createHash('sha256').update(canonicalJson(rest)).digest('hex'));
  assert.equal(second!.seq, 2);
  assert.equal(second!.prev, first!.hash);
  assert.equal('reason' in second!, false, 'an undefined optional field is left out');
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 2 });
});

test('a chain written in many batches, across reopenings, verifies', async () => {
  const file = await tempFile();
  await writeEvents(file, 5);
  const log = new AuditLog({ file, replica: 'r2', fsync: false });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => log.append(expired(100 + i))));
  await log.close();
  await writeEvents(file, 5, 'r3');
  const result = await verifyAuditFile(file);
  assert.deepEqual(result, { ok: true, lines: 3010 });
  assert.match(formatVerifyResult(result, file), /OK — 3010 lines, hash chain intact$/);
});

test('an empty file verifies with 0 lines; a missing one is NOT_FOUND', async () => {
  const file = await tempFile();
  await writeFile(file, '');
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 0 });
  await assert.rejects(verifyAuditFile(file + '.missing'), (err: unknown) => {
    return err instanceof AirlockError && err.code === 'NOT_FOUND';
  });
});

test('editing a field in the middle names that line', async () => {
  const file = await tempFile();
  await writeEvents(file, 10);
  const lines = await readLines(file);
  const edited = JSON.parse(lines[4]!) as Record<string, unknown>;
  edited.requestId = 'ar_forged';
  lines[4] = JSON.stringify(edited);
  await writeLines(file, lines);
  const result = await verifyAuditFile(file);
  assert.deepEqual(result, { ok: false, line: 5, reason: 'hash mismatch: line was edited', lines: 10 });
  assert.equal(
    formatVerifyResult(result, file),
    `${file}: BROKEN at line 5 of 10: hash mismatch: line was edited`,
  );
});

test('an edit with a recomputed hash is caught by the next line', async () => {
  const file = await tempFile();
  await writeEvents(file, 10);
  const lines = await readLines(file);
  const { hash: _old, ...edited } = JSON.parse(lines[4]!) as Record<string, unknown>;
  edited.requestId = 'ar_forged';
  lines[4] = JSON.stringify({
    ...edited,
    hash: createHash('sha256').update(canonicalJson(edited)).digest('hex'),
  });
  await writeLines(file, lines);
  const result = await verifyAuditFile(file);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.line, 6);
  assert.equal(
    !result.ok && result.reason,
    "prev does not match line 5's hash: a line was removed or reordered",
  );
});

test('an edit that keeps the parsed content (duplicate key, spacing) is still caught', async () => {
  const file = await tempFile();
  await writeEvents(file, 3);
  const lines = await readLines(file);
  // A naive reader (grep) would see ar_forged; JSON.parse keeps the last value, so the hash still matches.
  lines[1] = lines[1]!.replace('"requestId":', '"requestId":"ar_forged","requestId":');
  await writeLines(file, lines);
  const result = await verifyAuditFile(file);
  assert.equal(!result.ok && result.line, 2);
  assert.match(!result.ok ? result.reason : '', /not in the exact form Airlock writes/);
});

test('deleting a line names the line after it', async () => {
  const file = await tempFile();
  await writeEvents(file, 10);
  const lines = await readLines(file);
  lines.splice(4, 1);
  await writeLines(file, lines);
  assert.deepEqual(await verifyAuditFile(file), {
    ok: false,
    line: 5,
    reason: "prev does not match line 4's hash: a line was removed or reordered",
    lines: 9,
  });
});

test('deleting the first line, reordering and inserting are caught', async () => {
  const file = await tempFile();
  await writeEvents(file, 6);
  const original = await readLines(file);

  await writeLines(file, original.slice(1));
  let result = await verifyAuditFile(file);
  assert.equal(!result.ok && result.line, 1);
  assert.match(!result.ok ? result.reason : '', /genesis/);

  await writeLines(file, [original[0]!, original[2]!, original[1]!, ...original.slice(3)]);
  result = await verifyAuditFile(file);
  assert.equal(!result.ok && result.line, 2);

  await writeLines(file, [...original.slice(0, 3), original[2]!, ...original.slice(3)]);
  result = await verifyAuditFile(file);
  assert.equal(!result.ok && result.line, 4);

  await writeLines(file, [...original.slice(0, 3), '', ...original.slice(3)]);
  result = await verifyAuditFile(file);
  assert.deepEqual(result, {
    ok: false,
    line: 4,
    reason: 'empty line: a line was blanked or a newline inserted',
    lines: 7,
  });
});

test('a truncated last line is reported', async () => {
  const file = await tempFile();
  await writeEvents(file, 10);
  await truncate(file, (await stat(file)).size - 30);
  const result = await verifyAuditFile(file);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.line, 10);
  assert.match(!result.ok ? result.reason : '', /^truncated: the last line is incomplete/);
});

test('appending after a torn write keeps the broken bytes and records audit.recovered', async () => {
  const file = await tempFile();
  await writeEvents(file, 10);
  const intact = await readLines(file);
  await truncate(file, (await stat(file)).size - 30);
  const torn = (await readFile(file, 'utf8')).split('\n').at(-1)!;

  const { logger, all } = capturingLogger();
  const log = new AuditLog({ file, replica: 'r2', logger });
  await log.append(expired(11));
  await log.close();

  const lines = await readLines(file);
  assert.equal(lines.length, 12);
  assert.equal(lines[9], torn, 'the torn bytes are left untouched');
  const recovered = JSON.parse(lines[10]!) as Record<string, unknown>;
  assert.equal(recovered.event, 'audit.recovered');
  assert.equal(recovered.truncatedBytes, Buffer.byteLength(torn));
  assert.equal(recovered.seq, 10);
  assert.equal(recovered.prev, (JSON.parse(intact[8]!) as { hash: string }).hash);
  assert.ok(all.some((r) => r.level === 40 && String(r.msg).includes('broken line')));

  const result = await verifyAuditFile(file);
  assert.equal(!result.ok && result.line, 10);
  assert.match(
    !result.ok ? result.reason : '',
    /line 11 records the recovery and the chain continues from line 9/,
  );

  // Removing the torn bytes is all it takes for the rest of the chain to verify.
  lines.splice(9, 1);
  await writeLines(file, lines);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 11 });
});

test('a last line that lost only its newline is completed, not treated as broken', async () => {
  const file = await tempFile();
  await writeEvents(file, 4);
  await truncate(file, (await stat(file)).size - 1);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 4 });
  await writeEvents(file, 1);
  const lines = await readLines(file);
  assert.equal(lines.length, 5);
  assert.equal(
    lines.some((l) => l.includes('audit.recovered')),
    false,
  );
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 5 });
});

test('a 1 MB field is capped with a note of its size and sha256; the line stays one line', async () => {
  const file = await tempFile();
  const summary = 'é'.repeat(512 * 1024) + 'END';
  const bytes = Buffer.byteLength(summary);
  await writeEvents(file, 2);
  const log = new AuditLog({ file, replica: 'r1' });
  await log.append({
    event: 'execution.finished',
    requestId: 'ar_big',
    isError: false,
    durationMs: 12,
    summary,
  });
  await log.close();
  await writeEvents(file, 1);

  const lines = await readLines(file);
  assert.equal(lines.length, 4);
  const big = JSON.parse(lines[2]!) as { summary: string };
  const digest = createHash('sha256').update(summary).digest('hex');
  assert.ok(big.summary.endsWith(`… [truncated by Airlock: ${bytes} bytes, sha256 ${digest}]`));
  assert.ok(big.summary.startsWith('éé'));
  assert.ok(!big.summary.includes('\uFFFD'), 'the cut falls on a character boundary');
  assert.ok(Buffer.byteLength(lines[2]!) < 17_000);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 4 });
});

test('with a larger maxStringBytes a 1 MB field is written whole, and the next writer chains on it', async () => {
  const file = await tempFile();
  const summary = 'x'.repeat(1024 * 1024);
  const log = new AuditLog({ file, replica: 'r1', maxStringBytes: 2 * 1024 * 1024 });
  await log.append({
    event: 'execution.finished',
    requestId: 'ar_big',
    isError: true,
    durationMs: 1,
    summary,
  });
  await log.close();
  // A fresh writer must find the start of a last line far longer than its first 64 KB tail read.
  await writeEvents(file, 2);
  const lines = await readLines(file);
  assert.equal(lines.length, 3);
  assert.equal((JSON.parse(lines[0]!) as { summary: string }).summary, summary);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 3 });
});

test('a write failure is logged, counted and retried until the file is writable again', async () => {
  const file = await tempFile();
  // The audit file's directory is a regular file for now: every attempt fails.
  const blocker = join(file, '..', 'blocked');
  await writeFile(blocker, 'not a directory');
  const { logger, records } = capturingLogger();
  const log = new AuditLog({ file: join(blocker, 'audit.jsonl'), replica: 'r1', logger, retryDelayMs: 5 });

  let settled = false;
  const appended = log.append(expired(1)).then(() => (settled = true));
  const record = await waitForLog(records, 'audit append failed; retrying');
  assert.equal(record.level, 50);
  assert.equal(settled, false);
  assert.ok(log.failures >= 1);
  assert.equal(log.pending, 1);

  await unlink(blocker);
  await appended;
  await log.close();
  assert.equal(log.pending, 0);
  assert.deepEqual(await verifyAuditFile(join(blocker, 'audit.jsonl')), { ok: true, lines: 1 });
});

test('close gives up after closeTimeoutMs: the event is logged in full and its promise rejects', async () => {
  const file = await tempFile();
  const blocker = join(file, '..', 'blocked');
  await writeFile(blocker, 'not a directory');
  const { logger, all } = capturingLogger();
  const log = new AuditLog({ file: join(blocker, 'a.jsonl'), replica: 'r1', logger, closeTimeoutMs: 50 });
  const appended = log.append(expired(7));
  await log.close();
  await assert.rejects(appended, (err: unknown) => err instanceof AirlockError && err.code === 'INTERNAL');
  assert.equal(log.lost, 1);
  const lost = all.find((r) => String(r.msg).startsWith('audit event lost'));
  assert.deepEqual(lost?.audit, expired(7));
});

test('append after close rejects without crashing fire-and-forget callers', async () => {
  const file = await tempFile();
  const log = new AuditLog({ file, replica: 'r1' });
  await log.close();
  // Not awaited on purpose: an unhandled rejection here would fail the test run.
  void log.append(expired(1));
  await assert.rejects(log.append(expired(2)), /closed/);
  assert.equal(log.lost, 2);
});

test('an event that cannot be serialised is rejected alone; the rest are written', async () => {
  const file = await tempFile();
  const log = new AuditLog({ file, replica: 'r1' });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const bad = { event: 'policy.invalid', file: 'x.json', issues: [circular] } as unknown as AuditEvent;
  const results = await Promise.allSettled([log.append(expired(1)), log.append(bad), log.append(expired(2))]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  await log.close();
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 2 });
});

test('a file removed under a running writer is reopened and a new chain starts', async () => {
  const file = await tempFile();
  const { logger, all } = capturingLogger();
  const log = new AuditLog({ file, replica: 'r1', logger });
  await log.append(expired(1));
  await rm(file);
  await log.append(expired(2));
  await log.close();
  const lines = await readLines(file);
  assert.equal(lines.length, 1);
  assert.equal((JSON.parse(lines[0]!) as { prev: string }).prev, GENESIS_HASH);
  assert.ok(all.some((r) => String(r.msg).includes('replaced or removed')));
});

test('a lock left by a dead process does not block appends', async () => {
  const file = await tempFile();
  const { execFileSync } = await import('node:child_process');
  const deadPid = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
  await writeFile(
    `${file}.lock`,
    JSON.stringify({ pid: deadPid, host: (await import('node:os')).hostname(), token: 't', at: 'x' }),
  );
  const { logger, all } = capturingLogger();
  const log = new AuditLog({ file, replica: 'r1', logger, lockTimeoutMs: 5_000 });
  await log.append(expired(1));
  await log.close();
  assert.equal(log.failures, 0);
  assert.ok(all.some((r) => r.msg === 'took over a stale lock'));
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 1 });
});

test('resolveAuditFile: audit.file, else <dataDir>/audit.jsonl', () => {
  assert.equal(resolveAuditFile({ dataDir: '.airlock', audit: {} }), join('.airlock', 'audit.jsonl'));
  assert.equal(
    resolveAuditFile({ dataDir: '.airlock', audit: { file: '/var/log/a.jsonl' } }),
    '/var/log/a.jsonl',
  );
});
