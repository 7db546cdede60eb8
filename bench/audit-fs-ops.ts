// File-system calls per audit batch, counted by strace: `node --import tsx bench/audit-fs-ops.ts`.
// A child appends `batches` lines one at a time (one batch each) between two markers; strace -f -y
// names the file behind every descriptor, so the calls that touch the audit file or its lock are
// counted exactly. Undefined when strace is not installed.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AuditLog } from '../src/audit/audit-log.js';

const START = 'audit-fs-ops:start';
const END = 'audit-fs-ops:end';

/** Calls per batch in steady state (file open, tail remembered), by syscall name and in total. */
export interface FsOpsPerBatch {
  total: number;
  byCall: Record<string, number>;
}

/** Counts the file-system calls of `batches` one-line batches with fsync on; undefined without strace. */
export async function countAuditFsOps(batches = 100): Promise<FsOpsPerBatch | undefined> {
  if (spawnSync('strace', ['-V']).status !== 0) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-fsops-'));
  const file = join(dir, 'audit.jsonl');
  const trace = join(dir, 'trace.txt');
  try {
    const run = spawnSync(
      'strace',
      [
        '-f',
        '-y',
        '-qq',
        '-e',
        'trace=file,desc',
        '-o',
        trace,
        process.execPath,
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--child',
        file,
        String(batches),
      ],
      { encoding: 'utf8' },
    );
    if (run.status !== 0) throw new Error(`strace run failed (${run.status}): ${run.stderr}`);
    const byCall: Record<string, number> = {};
    let on = false;
    for (const line of (await readFile(trace, 'utf8')).split('\n')) {
      if (line.includes(START)) on = true;
      else if (line.includes(END)) on = false;
      // A call strace split in two is counted once, at its start.
      else if (on && line.includes(file) && !line.includes('resumed>')) {
        const name = /^\d+\s+(\w+)\(/.exec(line)?.[1];
        if (name) byCall[name] = (byCall[name] ?? 0) + 1;
      }
    }
    const perBatch = Object.fromEntries(
      Object.entries(byCall).map(([name, n]) => [name, Math.round((n / batches) * 100) / 100]),
    );
    const total = Object.values(perBatch).reduce((a, b) => a + b, 0);
    return { total: Math.round(total * 100) / 100, byCall: perBatch };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function child(file: string, batches: number): Promise<void> {
  const log = new AuditLog({ file, replica: 'p0', fsync: true });
  // Warm up: the first batch opens the file and reads its tail; steady state is what is counted.
  for (let i = 0; i < 3; i++) await log.append({ event: 'request.expired', requestId: `warm:${i}` });
  process.stderr.write(`${START}\n`);
  for (let i = 0; i < batches; i++) await log.append({ event: 'request.expired', requestId: `r:${i}` });
  process.stderr.write(`${END}\n`);
  await log.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [flag, file, batches] = process.argv.slice(2);
  const work =
    flag === '--child'
      ? child(file!, Number(batches))
      : countAuditFsOps().then((r) => console.log(JSON.stringify(r)));
  work.catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
