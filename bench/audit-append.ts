// Audit append throughput: `node --import tsx bench/audit-append.ts [--no-fsync]`.
// Prints lines/s for 20,000 appends from one process and from two processes at once (10,000 each),
// with 256 appends in flight per process (a busy gateway) and with one at a time (worst case: one
// lock acquisition per line), then verifies each resulting chain.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AuditLog } from '../src/audit/audit-log.js';
import { verifyAuditFile } from '../src/audit/verify.js';

/** How one benchmark run appends. */
export interface AuditBenchOptions {
  /** Processes appending to the same file at once. @defaultValue 1 */
  processes?: number;
  /** Appends in flight per process. @defaultValue 256 */
  inFlight?: number;
  /** @defaultValue true */
  fsync?: boolean;
}

/** Appends `n` events in total (split across processes) to a fresh file and reports the rate; throws if the chain does not verify. */
export async function benchAuditAppend(
  n: number,
  options: AuditBenchOptions = {},
): Promise<{ linesPerSec: number }> {
  const { processes = 1, inFlight = 256, fsync = true } = options;
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-bench-'));
  const file = join(dir, 'audit.jsonl');
  try {
    let elapsedMs: number;
    if (processes === 1) {
      const start = performance.now();
      await appendMany(file, 'p0', n, inFlight, fsync);
      elapsedMs = performance.now() - start;
    } else {
      elapsedMs = await runChildren(file, processes, Math.ceil(n / processes), inFlight, fsync);
    }
    const result = await verifyAuditFile(file);
    if (!result.ok || result.lines !== n)
      throw new Error(`chain broken after bench: ${JSON.stringify(result)}`);
    return { linesPerSec: Math.round((n / elapsedMs) * 1000) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function appendMany(
  file: string,
  replica: string,
  n: number,
  inFlight: number,
  fsync: boolean,
): Promise<void> {
  const log = new AuditLog({ file, replica, fsync });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await log.append({
        event: 'decision',
        requestId: `ar_${replica}_${i}`,
        by: 'alice',
        via: 'console',
        decision: 'approve',
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  await log.close();
}

async function runChildren(
  file: string,
  count: number,
  each: number,
  inFlight: number,
  fsync: boolean,
): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const children = Array.from({ length: count }, (_, i) =>
    spawn(
      process.execPath,
      ['--import', 'tsx', self, '--child', file, `p${i}`, String(each), String(inFlight), String(fsync)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  );
  const lineReaders = children.map((child) =>
    createInterface({ input: child.stdout! })[Symbol.asyncIterator](),
  );
  const expect = async (i: number, want: string): Promise<void> => {
    const { value, done } = await lineReaders[i]!.next();
    if (done || value !== want)
      throw new Error(`bench child ${i}: expected "${want}", got ${done ? 'exit' : value}`);
  };
  // Measure appends only, not tsx start-up: children load, say "ready", and wait for "go".
  await Promise.all(children.map((_, i) => expect(i, 'ready')));
  const start = performance.now();
  for (const child of children) child.stdin!.write('go\n');
  await Promise.all(children.map((_, i) => expect(i, 'done')));
  const elapsed = performance.now() - start;
  for (const child of children) child.stdin!.end();
  return elapsed;
}

async function child(args: string[]): Promise<void> {
  const [file, replica, n, inFlight, fsync] = args;
  const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  process.stdout.write('ready\n');
  await input.next();
  await appendMany(file!, replica!, Number(n), Number(inFlight), fsync === 'true');
  process.stdout.write('done\n');
  process.exit(0);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv.slice(1));
  const fsync = !argv.includes('--no-fsync');
  console.log(`audit append, fsync ${fsync ? 'on' : 'off'}, files in ${tmpdir()}`);
  const runs: Array<[string, number, AuditBenchOptions]> = [
    ['1 process, 256 in flight', 20_000, { processes: 1, inFlight: 256 }],
    ['2 processes, 256 in flight each', 20_000, { processes: 2, inFlight: 256 }],
    ['1 process, 1 at a time', 2_000, { processes: 1, inFlight: 1 }],
    ['2 processes, 1 at a time each', 2_000, { processes: 2, inFlight: 1 }],
  ];
  for (const [label, n, options] of runs) {
    const { linesPerSec } = await benchAuditAppend(n, { ...options, fsync });
    console.log(
      `${label.padEnd(34)} ${String(n).padStart(6)} lines  ${String(linesPerSec).padStart(8)} lines/s`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
