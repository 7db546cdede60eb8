import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyAuditFile } from '../../src/audit/verify.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function spawnChild(file: string, replica: string, count: number, progressAt?: number) {
  const args = [join(here, 'audit-append-child.ts'), file, replica, String(count)];
  if (progressAt !== undefined) args.push(String(progressAt));
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

/** Resolves when the child prints `line`. */
async function lineFrom(child: ReturnType<typeof spawn>, line: string): Promise<void> {
  for await (const text of createInterface({ input: child.stdout! })) if (text === line) return;
  throw new Error(`child exited before printing "${line}"`);
}

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-conc-'));
  dirs.push(dir);
  return join(dir, 'nested', 'audit.jsonl');
}

/** Lines grouped by replica, in file order. */
async function requestIdsByReplica(file: string): Promise<Map<string, string[]>> {
  const byReplica = new Map<string, string[]>();
  for (const text of (await readFile(file, 'utf8')).trimEnd().split('\n')) {
    const line = JSON.parse(text) as { replica: string; requestId: string };
    byReplica.set(line.replica, [...(byReplica.get(line.replica) ?? []), line.requestId]);
  }
  return byReplica;
}

test('4 processes appending 500 events each at the same moment produce one valid chain of 2000 lines', async () => {
  const file = await tempFile();
  // All four find a lock left by a dead process when they start: exactly one may take it over.
  const deadPid = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.lock`, JSON.stringify({ pid: deadPid, host: hostname(), token: 'dead', at: 'x' }));
  const replicas = ['r1', 'r2', 'r3', 'r4'];
  const children = replicas.map((replica) => spawnChild(file, replica, 500));
  const exits = children.map((child) => once(child, 'exit') as Promise<[number | null]>);
  // Start them together: each says "ready" once loaded, then all get "go".
  await Promise.all(children.map((child) => lineFrom(child, 'ready')));
  for (const child of children) child.stdin!.write('go\n');
  const codes = (await Promise.all(exits)).map(([code]) => code);
  assert.deepEqual(codes, [0, 0, 0, 0]);

  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 2000 });
  const byReplica = await requestIdsByReplica(file);
  for (const replica of replicas) {
    // Every event of every replica, each once, in the order that replica appended them.
    assert.deepEqual(
      byReplica.get(replica),
      Array.from({ length: 500 }, (_, i) => `${replica}:${i}`),
    );
  }
});

test('two AuditLog instances in one process share the chain', async () => {
  const file = await tempFile();
  const a = new AuditLog({ file, replica: 'a', fsync: false });
  const b = new AuditLog({ file, replica: 'b', fsync: false });
  await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      (i % 2 ? a : b).append({ event: 'request.expired', requestId: `${i % 2 ? 'a' : 'b'}:${i}` }),
    ),
  );
  await Promise.all([a.close(), b.close()]);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 200 });
});

test('a writer killed mid-stream (maybe holding the lock) leaves a chain the others continue', async () => {
  const file = await tempFile();
  const victim = spawnChild(file, 'victim', 5000, 150);
  const survivors = [spawnChild(file, 's1', 300), spawnChild(file, 's2', 300)];
  const all = [victim, ...survivors];
  const exits = survivors.map((child) => once(child, 'exit') as Promise<[number | null]>);
  await Promise.all(all.map((child) => lineFrom(child, 'ready')));
  for (const child of all) child.stdin!.write('go\n');
  await lineFrom(victim, 'progress');
  victim.kill('SIGKILL');
  assert.deepEqual(
    (await Promise.all(exits)).map(([code]) => code),
    [0, 0],
  );

  const result = await verifyAuditFile(file);
  assert.equal(result.ok, true, JSON.stringify(result));
  const byReplica = await requestIdsByReplica(file);
  for (const replica of ['s1', 's2']) {
    assert.deepEqual(
      byReplica.get(replica),
      Array.from({ length: 300 }, (_, i) => `${replica}:${i}`),
    );
  }
  // The victim's lines are an unbroken prefix of what it meant to write.
  const victimIds = byReplica.get('victim') ?? [];
  assert.ok(victimIds.length > 150);
  assert.deepEqual(
    victimIds,
    Array.from({ length: victimIds.length }, (_, i) => `victim:${i}`),
  );
});
