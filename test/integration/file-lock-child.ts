// Child process for file-lock.test.ts. `count LOCK COUNTER ROUNDS`: after the parent writes "go", takes
// the lock ROUNDS times and, inside, marks itself as the one inside and increments COUNTER by read,
// yield, write, so any overlap with another holder shows as a clash or a lost update.
// `hold LOCK`: takes the lock, says "locked" and keeps it until killed.
import { open, readFile, unlink, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { acquireFileLock } from '../../src/host/file-lock.js';

async function count(lock: string, counter: string, rounds: number): Promise<void> {
  const input = createInterface({ input: process.stdin });
  const go = new Promise<void>((resolve) => input.on('line', (line) => line === 'go' && resolve()));
  process.stdout.write('ready\n');
  await go;
  input.close();
  for (let i = 0; i < rounds; i++) {
    const held = await acquireFileLock(lock, { timeoutMs: 60_000 });
    // O_EXCL: fails if another holder is inside at the same time.
    const inside = await open(`${counter}.inside`, 'wx');
    await inside.close();
    const n = Number(await readFile(counter, 'utf8'));
    await yieldTurn();
    await writeFile(counter, String(n + 1));
    await unlink(`${counter}.inside`);
    await held.release();
  }
  process.stdout.write('done\n');
}

async function hold(lock: string): Promise<void> {
  await acquireFileLock(lock);
  process.stdout.write('locked\n');
  // Keeps the event loop alive until the parent kills this process.
  setInterval(() => {}, 60_000);
}

async function main(): Promise<void> {
  const [mode, lock, counter, rounds] = process.argv.slice(2);
  if (mode === 'count' && lock && counter && rounds) return count(lock, counter, Number(rounds));
  if (mode === 'hold' && lock) return hold(lock);
  throw new Error('usage: file-lock-child count LOCK COUNTER ROUNDS | hold LOCK');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
