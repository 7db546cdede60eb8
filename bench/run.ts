// `npm run bench`: Airlock's performance report. Every figure and its baseline are measured in this run,
// on 127.0.0.1 only, against redis-servers and processes the bench starts and stops itself.
// Prints one table per section (with targets and PASS/MISS) and a JSON document last, also written to
// bench/results/latest.json. Exits 0 even when a target is missed; non-zero only when the bench fails.
// `npm run bench -- --only allow-path,held` runs only the named sections (allow-path, policy-eval,
// release, held, held-tasks, audit, history). Env: BENCH_CPU_PROF=DIR writes CPU profiles of the allow-path
// gateways to DIR; BENCH_HELD_CALLS sets how many calls section 4 holds; BENCH_VERBOSE=1 echoes the
// children's stderr.
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { startRedis, type TestRedis } from '../test/helpers/redis.js';
import { benchPolicyEval } from './policy-eval.js';
import { benchAuditAppend } from './audit-append.js';
import { countAuditFsOps } from './audit-fs-ops.js';
import { benchAllowPath } from './allow-path.js';
import { benchRelease } from './release.js';
import { benchHeld } from './held.js';
import { benchHeldTasks } from './held-tasks.js';
import { benchHistoryQuery } from './history-query.js';
import { adopt, killAll, ROOT } from './procs.js';
import { fmt, round, table } from './stats.js';

const WATCHDOG_MS = 12 * 60 * 1000;

const SECTIONS = ['allow-path', 'policy-eval', 'release', 'held', 'held-tasks', 'audit', 'history'] as const;
type Section = (typeof SECTIONS)[number];

/** The sections `--only a,b` (or `--only=a,b`) names; all of them without the flag. */
function selectedSections(argv: readonly string[]): Set<Section> {
  const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return new Set(SECTIONS);
  const raw = argv[i]!.includes('=') ? argv[i]!.slice('--only='.length) : (argv[i + 1] ?? '');
  const names = raw.split(',').filter(Boolean);
  const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) {
    throw new Error(`--only takes a comma-separated list of: ${SECTIONS.join(', ')} (got "${raw}")`);
  }
  return new Set(names as Section[]);
}

// This process is the load generator. The MCP SDK client passes its transport's AbortSignal to every
// fetch, and undici drops a fetch's abort listener only when the request is garbage-collected, so at
// thousands of calls/s the signal passes undici's own limit (1500) and Node warns about a leak. That
// one warning is dropped; every other warning is printed as usual.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name === 'MaxListenersExceededWarning' && w.message.includes('[AbortSignal]')) return;
  process.stderr.write(`${w.name}: ${w.message}\n`);
});

/** JSON with arrays of numbers kept on one line. */
function compactJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g,
    (_, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`,
  );
}

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const meta = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadavgStart: loadavg().map((x) => round(x, 2)),
    loadavgEnd: [] as number[],
    startedAt: new Date().toISOString(),
    totalSeconds: 0,
  };
  console.log(
    `Airlock benchmark — node ${meta.node}, ${meta.cpus} x ${meta.cpuModel}, load average ${meta.loadavgStart.join(' ')}\n`,
  );
  const only = selectedSections(process.argv.slice(2));
  const doc: Record<string, unknown> = {};
  let redis: TestRedis | undefined;
  try {
    redis = await startRedis();
    adopt(redis.process);

    if (only.has('allow-path')) {
      progress('allow path: direct, floor, bare proxy, airlock; both client eras; c=1 and c=16');
      const cpuProfileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
      if (cpuProfileDir) mkdirSync(cpuProfileDir, { recursive: true });
      const allow = await benchAllowPath({
        redisUrl: redis.url,
        ...(cpuProfileDir ? { cpuProfileDir } : {}),
      });
      console.log(allow.text);
      doc.allowPath = allow.result;
    }

    if (only.has('policy-eval')) {
      progress('policy evaluation');
      const pe = await benchPolicyEval();
      const policyEval = { ...pe, targetNs: 5000, pass: pe.nsPerDecision < 5000 };
      console.log(
        table(
          '2. Policy evaluation (in process)',
          [
            {
              label: `decision, ${pe.tools} tools x ${pe.rulesPerTool} rules`,
              value: fmt(pe.nsPerDecision / 1000, 3, 'µs'),
              target: '< 5 µs',
              pass: policyEval.pass,
            },
          ],
          ['best of 5 rounds of 1,000,000 decisions after a 200,000-decision warm-up'],
        ),
      );
      doc.policyEval = policyEval;
    }

    if (only.has('release')) {
      progress('release latency (approve -> result)');
      const release = await benchRelease({ redisUrl: redis.url });
      console.log(release.text);
      doc.release = release.result;
    }

    if (only.has('held')) {
      const heldCalls = Number(process.env.BENCH_HELD_CALLS ?? 2000);
      progress(`${heldCalls} calls held at once (long poll)`);
      const held = await benchHeld({ clients: 50, callsPerClient: Math.max(1, Math.round(heldCalls / 50)) });
      console.log(held.text);
      doc.held = held.result;
    }

    if (only.has('held-tasks')) {
      const heldTasks = Number(process.env.BENCH_HELD_CALLS ?? 2000);
      progress(`${heldTasks} calls held at once as tasks`);
      const tasks = await benchHeldTasks(heldTasks);
      console.log(tasks.text);
      doc.heldTasks = tasks.result;
    }

    if (only.has('audit')) {
      progress('audit append');
      const auditOptions = { processes: 1, inFlight: 256, fsync: true };
      const audit = {
        lines: 20_000,
        ...auditOptions,
        ...(await benchAuditAppend(20_000, auditOptions)),
        // Worst case, as a gateway at concurrency 1 sees it: one lock + write + fsync per line.
        oneAtATime: { lines: 1_000, inFlight: 1, ...(await benchAuditAppend(1_000, { inFlight: 1 })) },
        // Counted by strace (absent: not installed), steady state: file open, tail remembered.
        fsOpsPerBatch: await countAuditFsOps(),
      };
      const ops = audit.fsOpsPerBatch;
      console.log(
        table(
          '5. Audit append (hash-chained JSONL)',
          [
            { label: '20,000 lines, 1 process, 256 in flight, fsync', value: `${audit.linesPerSec} lines/s` },
            {
              label: '1,000 lines, 1 process, 1 at a time, fsync',
              value: `${audit.oneAtATime.linesPerSec} lines/s (${fmt(1000 / audit.oneAtATime.linesPerSec, 2)} ms/line)`,
            },
            {
              label: 'file-system calls per batch (strace)',
              value: ops
                ? `${ops.total} (${Object.entries(ops.byCall)
                    .map(([name, n]) => `${name} ${n}`)
                    .join(', ')})`
                : 'strace not installed',
            },
          ],
          ['each batch takes the cross-process lock file, appends, fsyncs and releases the lock'],
        ),
      );
      doc.audit = audit;
    }

    // 1,000,000 records take ~1.5 GB of Redis and ~100 s to load; BENCH_HISTORY_RECORDS=0 skips it.
    const historyRecords = Number(process.env.BENCH_HISTORY_RECORDS ?? 1_000_000);
    if (only.has('history') && historyRecords > 0) {
      const history = await benchHistoryQuery({ records: historyRecords });
      console.log(
        table(
          '6. History query (tool + status, newest first, page of 50)',
          [
            { label: 'records loaded', value: `${history.records} in ${fmt(history.loadSeconds, 1)} s` },
            {
              label: 'first page p50 / p99',
              value: `${fmt(history.p50Ms, 2)} / ${fmt(history.p99Ms, 2)} ms`,
              target: '<= 20 ms p50',
              pass: history.p50Ms <= 20,
            },
            {
              label: 'next page (cursor) p50 / p99',
              value: `${fmt(history.nextPageP50Ms, 2)} / ${fmt(history.nextPageP99Ms, 2)} ms`,
            },
            {
              label: 'redis memory',
              value: `${fmt(history.redisUsedMemoryMb, 0)} MB (${fmt(history.bytesPerRecord, 0)} B/record)`,
            },
          ],
          [
            "records written through the history store's own write path; BENCH_HISTORY_RECORDS sets the count",
          ],
        ),
      );
      doc.history = history;
    }

    meta.loadavgEnd = loadavg().map((x) => round(x, 2));
    meta.totalSeconds = round((performance.now() - started) / 1000, 1);
    doc.meta = { ...meta, sections: [...only] };
    const json = compactJson(doc);
    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'latest.json');
    writeFileSync(file, `${json}\n`);
    console.log(
      `Finished in ${meta.totalSeconds}s (load average at end ${meta.loadavgEnd.join(' ')}). JSON written to ${file}\n`,
    );
    console.log(json);
  } finally {
    await redis?.stop();
    killAll();
  }
}

const watchdog = setTimeout(() => {
  console.error(`bench: still running after ${WATCHDOG_MS / 60_000} minutes; giving up`);
  killAll();
  process.exit(2);
}, WATCHDOG_MS);
watchdog.unref();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench failed:', err);
    killAll();
    process.exit(1);
  },
);
