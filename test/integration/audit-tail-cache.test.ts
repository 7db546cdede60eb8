// The shortcuts a batch takes (a handle kept open, the tail remembered instead of re-read) meet the
// file changing between two of our batches: another process appending, the file rotated or replaced,
// the file truncated. Real files, a real second process, checked with `airlock audit verify`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rename, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { AuditLog } from '../../src/audit/audit-log.js';
import type { AuditChainFields } from '../../src/audit/audit-events.js';
import type { Logger } from '../../src/log.js';
import { runCli } from '../helpers/run-cli.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-cache-'));
  dirs.push(dir);
  return join(dir, 'audit.jsonl');
}

function recordingLogger(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (text: string) => messages.push(String((JSON.parse(text) as { msg: unknown }).msg)) },
  );
  return { logger, messages };
}

/** Another replica, as its own process, appends `count` lines to `file` and exits. */
async function appendFromChild(file: string, replica: string, count: number): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'audit-append-child.ts'), file, replica, String(count)],
    { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exit = once(child, 'exit') as Promise<[number | null]>;
  for await (const text of createInterface({ input: child.stdout })) {
    if (text === 'ready') child.stdin.write('go\n');
  }
  const [code] = await exit;
  assert.equal(code, 0, `child ${replica} failed`);
}

/** A parsed line of the file; every line these tests write has a requestId, except audit.recovered. */
type Line = AuditChainFields & { event: string; requestId?: string; truncatedBytes?: number };

async function readLines(file: string): Promise<Line[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as Line);
}

async function assertVerifies(file: string, lines: number): Promise<void> {
  const r = await runCli(['audit', 'verify', file]);
  assert.equal(r.stdout, `${file}: OK — ${lines} lines, hash chain intact\n`, r.stderr);
  assert.equal(r.code, 0);
}

function expired(id: string) {
  return { event: 'request.expired', requestId: id } as const;
}

test('another process appending between two of our batches: our next line chains on its last line', async () => {
  const file = await tempFile();
  const log = new AuditLog({ file, replica: 'us' });
  await log.append(expired('us:1'));
  await log.append(expired('us:2'));
  await appendFromChild(file, 'other', 20);
  await log.append(expired('us:3'));
  await log.close();

  const lines = await readLines(file);
  assert.equal(lines.length, 23);
  assert.deepEqual(
    lines.map((l) => l.seq),
    Array.from({ length: 23 }, (_, i) => i + 1),
  );
  assert.equal(lines[22]!.prev, lines[21]!.hash);
  assert.equal(lines[21]!.replica, 'other');
  await assertVerifies(file, 23);
});

test('a file rotated between our batches is noticed; we write to the new file, chained on what another process put there', async () => {
  const file = await tempFile();
  const { logger, messages } = recordingLogger();
  const log = new AuditLog({ file, replica: 'us', logger });
  await log.append(expired('us:1'));
  await log.append(expired('us:2'));
  await rename(file, `${file}.1`);
  await appendFromChild(file, 'other', 10);
  await log.append(expired('us:3'));
  await log.close();

  assert.ok(messages.some((m) => m.includes('replaced or removed')));
  await assertVerifies(`${file}.1`, 2);
  const lines = await readLines(file);
  assert.equal(lines.length, 11);
  assert.equal(lines[10]!.requestId, 'us:3');
  assert.equal(lines[10]!.prev, lines[9]!.hash);
  await assertVerifies(file, 11);
});

test('a file replaced by a copy of the same size is noticed by its identity, not its size', async () => {
  const file = await tempFile();
  const { logger, messages } = recordingLogger();
  const log = new AuditLog({ file, replica: 'us', logger });
  await log.append(expired('us:1'));
  await log.append(expired('us:2'));
  const before = await stat(file);
  await copyFile(file, `${file}.tmp`);
  await rename(`${file}.tmp`, file);
  const after = await stat(file);
  assert.equal(after.size, before.size);
  assert.notEqual(after.ino, before.ino);
  await log.append(expired('us:3'));
  await log.close();

  assert.ok(messages.some((m) => m.includes('replaced or removed')));
  const lines = await readLines(file);
  assert.deepEqual(
    lines.map((l) => l.requestId),
    ['us:1', 'us:2', 'us:3'],
  );
  await assertVerifies(file, 3);
});

test('a file truncated at a line boundary between our batches is noticed; the next line chains on what is left', async () => {
  const file = await tempFile();
  const { logger, messages } = recordingLogger();
  const log = new AuditLog({ file, replica: 'us', logger });
  for (let i = 1; i <= 3; i++) await log.append(expired(`us:${i}`));
  const firstLine = (await readFile(file, 'utf8')).indexOf('\n') + 1;
  await truncate(file, firstLine);
  await log.append(expired('us:4'));
  await log.close();

  assert.ok(messages.some((m) => m.includes('it was truncated')));
  const lines = await readLines(file);
  assert.deepEqual(
    lines.map((l) => [l.seq, l.requestId]),
    [
      [1, 'us:1'],
      [2, 'us:4'],
    ],
  );
  await assertVerifies(file, 2);
});

test('a file truncated mid-line between our batches is noticed and the torn bytes are recorded', async () => {
  const file = await tempFile();
  const { logger, messages } = recordingLogger();
  const log = new AuditLog({ file, replica: 'us', logger });
  for (let i = 1; i <= 3; i++) await log.append(expired(`us:${i}`));
  const size = (await stat(file)).size;
  await truncate(file, size - 10);
  await log.append(expired('us:4'));
  await log.close();

  assert.ok(messages.some((m) => m.includes('it was truncated')));
  const lines = (await readFile(file, 'utf8')).split('\n');
  const recovered = JSON.parse(lines[3]!) as Line;
  assert.equal(recovered.event, 'audit.recovered');
  assert.equal(recovered.seq, 3);
  assert.equal((JSON.parse(lines[4]!) as Line).requestId, 'us:4');
  // The cut line stays as evidence, so verify names it; the chain continues after it.
  const r = await runCli(['audit', 'verify', file]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /line 3/);
});
