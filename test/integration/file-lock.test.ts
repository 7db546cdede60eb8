import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { AirlockError } from '../../src/core/errors.js';
import {
  acquireFileLock,
  readLockOwner,
  tryAcquireFileLock,
  tryCreateFileLockSync,
} from '../../src/host/file-lock.js';

const here = dirname(fileURLToPath(import.meta.url));

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  // A failed assertion must not leave a holder running (and the test runner waiting on it).
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempLock(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-lock-'));
  dirs.push(dir);
  return join(dir, 'audit.jsonl.lock');
}

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  return Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function child(...args: string[]): ChildProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'file-lock-child.ts'), ...args], {
    cwd: join(here, '..', '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(proc);
  return proc;
}

/** Resolves when the child prints `line`. */
async function lineFrom(proc: ChildProcess, line: string): Promise<void> {
  for await (const text of createInterface({ input: proc.stdout! })) if (text === line) return;
  throw new Error(`child exited before printing "${line}"`);
}

test('holders in several processes are never inside at once, and no update is lost', async () => {
  const path = await tempLock();
  const counter = join(dirname(path), 'counter');
  await writeFile(counter, '0');
  const rounds = 40;
  const counters = Array.from({ length: 4 }, () => child('count', path, counter, String(rounds)));
  await Promise.all(counters.map((c) => lineFrom(c, 'ready')));
  const exits = counters.map((c) => once(c, 'exit'));
  for (const c of counters) c.stdin!.end('go\n');
  const codes = (await Promise.all(exits)).map(([code]) => code as number | null);
  assert.deepEqual(codes, [0, 0, 0, 0], 'a child saw another holder inside the lock');
  assert.equal(await readFile(counter, 'utf8'), String(counters.length * rounds));
  assert.equal(await exists(path), false, 'the last release leaves no lock behind');
});

test('a lock left by a killed process is taken over at once', async () => {
  const path = await tempLock();
  const holder = child('hold', path);
  await lineFrom(holder, 'locked');
  assert.equal(await tryAcquireFileLock(path), undefined, 'a live holder keeps its lock');
  const exited = once(holder, 'exit');
  holder.kill('SIGKILL');
  await exited;
  // Fresh by age, so only the dead pid can make it stale.
  const held = await tryAcquireFileLock(path, { staleMs: 60_000 });
  assert.ok(held, 'the dead holder’s lock was not taken over');
  assert.equal((await readLockOwner(path))?.pid, process.pid);
  await held.release();
  assert.equal(await exists(path), false);
});

test('a lock is exclusive until released', async () => {
  const path = await tempLock();
  const held = await acquireFileLock(path);
  assert.equal((await readLockOwner(path))?.pid, process.pid);
  assert.equal(await held.isHeld(), true);
  await assert.rejects(acquireFileLock(path, { timeoutMs: 30 }), (err: unknown) => {
    return (
      err instanceof AirlockError && err.code === 'INTERNAL' && err.message.includes(`pid ${process.pid}`)
    );
  });
  await held.release();
  assert.equal(await exists(path), false);
  const again = await acquireFileLock(path, { timeoutMs: 30 });
  await again.release();
});

test('a waiter gets the lock only once the holder releases it', async () => {
  const path = await tempLock();
  const held = await acquireFileLock(path);
  let waiterHasIt = false;
  const waiting = acquireFileLock(path, { timeoutMs: 5_000 }).then((lock) => {
    waiterHasIt = true;
    return lock;
  });
  // Several polls of the waiter happen while the holder still has it.
  for (let i = 0; i < 5; i++) assert.equal(await tryAcquireFileLock(path), undefined);
  assert.equal(waiterHasIt, false);
  assert.equal(await held.isHeld(), true);
  await held.release();
  const next = await waiting;
  assert.equal(await next.isHeld(), true);
  assert.equal((await readLockOwner(path))?.pid, process.pid);
  await next.release();
});

test('a lock whose holder pid is dead is taken over at once', async () => {
  const path = await tempLock();
  await writeFile(
    path,
    JSON.stringify({ pid: deadPid(), host: hostname(), token: 'old', at: new Date().toISOString() }),
  );
  const held = await acquireFileLock(path, { timeoutMs: 2_000 });
  assert.equal((await readLockOwner(path))?.pid, process.pid);
  await held.release();
});

test('a lock older than staleMs is taken over even if its holder looks alive', async () => {
  const path = await tempLock();
  await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), token: 'old', at: 'x' }));
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
  assert.equal(await tryAcquireFileLock(path, { staleMs: 120_000 }), undefined, 'not stale yet');
  const held = await acquireFileLock(path, { staleMs: 10_000, timeoutMs: 2_000 });
  assert.notEqual((await readLockOwner(path))?.token, 'old');
  assert.equal(await held.isHeld(), true);
  await held.release();
  assert.equal(await exists(path), false);
});

test('a fresh lock from another host, or an empty one, is not taken over', async () => {
  const path = await tempLock();
  await writeFile(path, JSON.stringify({ pid: deadPid(), host: 'some-other-host', token: 'x', at: 'x' }));
  await assert.rejects(acquireFileLock(path, { timeoutMs: 30 }), AirlockError);
  await writeFile(path, '');
  await assert.rejects(acquireFileLock(path, { timeoutMs: 30 }), AirlockError);
});

test('a take-over guard left by a dead process is cleared', async () => {
  const path = await tempLock();
  const owner = (pid: number) => JSON.stringify({ pid, host: hostname(), token: 'x', at: 'x' });
  await writeFile(path, owner(deadPid()));
  await writeFile(`${path}.steal`, owner(deadPid()));
  const held = await acquireFileLock(path, { timeoutMs: 2_000 });
  assert.equal(await exists(`${path}.steal`), false);
  await held.release();
});

test('a holder whose lock was taken over does not delete the new holder’s lock', async () => {
  const path = await tempLock();
  const first = await acquireFileLock(path);
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
  const second = await acquireFileLock(path, { staleMs: 1_000, timeoutMs: 2_000 });
  assert.equal(await first.isHeld(), false);
  await first.release();
  assert.equal(await second.isHeld(), true);
  await second.release();
});

test('the synchronous try takes a free lock, excludes the asynchronous path, and leaves a held one alone', async () => {
  const path = await tempLock();
  const quick = tryCreateFileLockSync(path);
  assert.ok(quick);
  assert.equal((await readLockOwner(path))?.pid, process.pid);
  assert.equal(quick.isHeldNow(), true);
  assert.equal(await tryAcquireFileLock(path), undefined);
  assert.equal(tryCreateFileLockSync(path), undefined);
  quick.releaseNow();
  assert.equal(quick.isHeldNow(), false);
  assert.equal(await exists(path), false);
  const slow = await acquireFileLock(path, { timeoutMs: 30 });
  assert.equal(tryCreateFileLockSync(path), undefined, 'a lock taken the asynchronous way is respected');
  slow.releaseNow();
  assert.equal(await exists(path), false);
  // A missing directory is left to the asynchronous path, which creates it.
  assert.equal(tryCreateFileLockSync(join(path, 'sub', 'x.lock')), undefined);
});

test('a synchronous holder whose lock was taken over does not delete the new holder’s lock', async () => {
  const path = await tempLock();
  const first = tryCreateFileLockSync(path)!;
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
  const second = await acquireFileLock(path, { staleMs: 1_000, timeoutMs: 2_000 });
  assert.equal(first.isHeldNow(), false);
  first.releaseNow();
  assert.equal(second.isHeldNow(), true);
  assert.equal(await exists(path), true);
  await second.release();
});
