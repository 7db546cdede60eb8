// CPU per audit batch of one line, the batch an allowed call at concurrency 1 leaves behind: appends one
// event at a time with a 3 ms pause between (so every batch is one line), and subtracts the pauses' own CPU.
// Run: `node --import tsx bench/audit-batch-cpu.ts [batches] [--no-fsync] [--blocking]`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/audit/index.js';
import { sleep } from './stats.js';

const n = Number(process.argv[2] ?? 600);
const fsync = !process.argv.includes('--no-fsync');
const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-cpu-'));
const blocking = process.argv.includes('--blocking');
const log = new AuditLog({ file: join(dir, 'audit.jsonl'), replica: 'bench', fsync, blocking });
const ms = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
for (let i = 0; i < 50; i++) await log.append({ event: 'request.expired', requestId: `warm_${i}` });
const cpu0 = process.cpuUsage();
for (let i = 0; i < n; i++) {
  await log.append({ event: 'request.expired', requestId: `ar_${i}` });
  await sleep(3);
}
const withAudit = ms(process.cpuUsage(cpu0));
const pause0 = process.cpuUsage();
for (let i = 0; i < n; i++) await sleep(3);
const pauses = ms(process.cpuUsage(pause0));
await log.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  `audit batch of one line${fsync ? '' : ' (no fsync)'}: ${((withAudit - pauses) / n).toFixed(3)} ms CPU`,
);
