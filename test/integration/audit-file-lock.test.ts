import { execFileSync } from 'node:child_process';
import { access, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { AirlockError } from '../../src/core/errors.js';
import { acquireFileLock, readLockOwner } from '../../src/audit/file-lock.js';

const dirs: string[] = [];
after(async () => {
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

test('a waiter gets the lock as soon as the holder releases it', async () => {
  const path = await tempLock();
  const held = await acquireFileLock(path);
  const waiting = acquireFileLock(path, { timeoutMs: 5_000 });
  await held.release();
  const next = await waiting;
  assert.equal(await next.isHeld(), true);
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
  const held = await acquireFileLock(path, { staleMs: 10_000, timeoutMs: 2_000 });
  await held.release();
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
