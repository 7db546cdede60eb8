// Child process for audit-concurrency.test.ts: appends COUNT events as one replica, starting only when
// the parent writes "go", so every child hits the (possibly not yet existing) file at the same moment.
import { createInterface } from 'node:readline';
import { AuditLog } from '../../src/audit/audit-log.js';

async function main(): Promise<void> {
  const [file, replica, countText, progressText] = process.argv.slice(2);
  if (!file || !replica || !countText) throw new Error('usage: audit-append-child FILE REPLICA COUNT');
  const count = Number(countText);
  const log = new AuditLog({ file, replica, fsync: false });
  const input = createInterface({ input: process.stdin });
  const go = new Promise<void>((resolve) => input.on('line', (line) => line === 'go' && resolve()));
  process.stdout.write('ready\n');
  await go;
  input.close();
  // Optional: say "progress" after that many appends, so the parent can kill this child mid-stream.
  const progressAt = progressText === undefined ? -1 : Number(progressText);
  const append = async (i: number) => {
    await log.append({ event: 'request.expired', requestId: `${replica}:${i}` });
    if (i === progressAt) process.stdout.write('progress\n');
  };
  // Half one at a time (a lock acquisition per line, the most contention), half in bursts (batches).
  const half = Math.floor(count / 2);
  for (let i = 0; i < half; i++) await append(i);
  for (let i = half; i < count; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, k) => append(i + k)));
  }
  await log.close();
  if (log.failures > 0) throw new Error(`${log.failures} failed write attempts`);
  process.stdout.write('done\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
