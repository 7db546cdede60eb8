// History query latency at scale: `node --import tsx bench/history-query.ts [records]`.
// Loads records (default 1,000,000) into a dedicated redis-server through the history store's write
// path (the same Lua script and indexes the gateway uses), pipelined in batches: ~20 tools, 8 statuses,
// 10 agents, 2 servers, spread over 90 days. Then measures "tool X and status Y, newest first, page of
// 50" and the next page by cursor, for random (X, Y), plus a few other query shapes for context.
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis.js';
import { HistoryStore } from '../src/history/history-store.js';
import type { DecisionRecord, HistoryStatus } from '../src/history/history-record.js';
import type { HistoryFilter } from '../src/history/history-query.js';
import { newRequestId } from '../src/core/approval/request-id.js';
import { quantile, round } from './stats.js';

const TOOLS = Array.from({ length: 20 }, (_, i) => `tool_${String(i).padStart(2, '0')}`);
const STATUSES: HistoryStatus[] = [
  'allowed',
  'denied',
  'rate_limited',
  'error',
  'executed',
  'rejected',
  'expired',
  'pending',
];
const AGENTS = Array.from({ length: 10 }, (_, i) => `agent-${i}`);
const SERVERS = ['lab', 'virt'];
const DAY = 24 * 60 * 60 * 1000;

/** Options for {@link benchHistoryQuery}. */
export interface HistoryBenchOptions {
  /** Records to load. @defaultValue 1,000,000 */
  records?: number;
  /** Query runs per measured shape. @defaultValue 300 */
  runs?: number;
  /** Loading stops at this many ms and the bench measures what was loaded. @defaultValue 180,000 */
  loadBudgetMs?: number;
  /** Progress lines go here. @defaultValue stderr */
  log?: (line: string) => void;
}

/** What the bench measured. */
export interface HistoryBenchResult {
  /** Records actually loaded. */
  records: number;
  /** "tool X and status Y, newest first, page of 50": first page. */
  p50Ms: number;
  p99Ms: number;
  /** The same query's next page, by cursor. */
  nextPageP50Ms: number;
  nextPageP99Ms: number;
  loadSeconds: number;
  recordsPerSecond: number;
  redisUsedMemoryMb: number;
  bytesPerRecord: number;
  /** p50/p99 of other query shapes, for context. */
  others: Record<string, { p50Ms: number; p99Ms: number }>;
}

// Deterministic pseudo-random numbers, so runs are comparable.
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

function makeRecord(rand: () => number, now: number): DecisionRecord {
  const tool = TOOLS[Math.floor(rand() * TOOLS.length)]!;
  const server = SERVERS[Math.floor(rand() * SERVERS.length)]!;
  const args = { vm_name: `vm-${Math.floor(rand() * 500)}`, duration: Math.floor(rand() * 120) };
  const createdAt = now - Math.floor(rand() * 90 * DAY);
  const status = STATUSES[Math.floor(rand() * STATUSES.length)]!;
  return {
    id: newRequestId(),
    createdAt,
    server,
    tool,
    agent: AGENTS[Math.floor(rand() * AGENTS.length)]!,
    args,
    // Any 64 hex digits do for the store; computing real hashes would only slow the loading down.
    argsHash: Math.floor(rand() * 2 ** 52)
      .toString(16)
      .padStart(16, '0')
      .repeat(4),
    rule: `${server}/${tool}`,
    // The index layout is the same for every status; approval statuses are written through the direct path here.
    status: status as DecisionRecord['status'],
    responseMs: Math.floor(rand() * 50),
    execution: { startedAt: createdAt + 1, finishedAt: createdAt + 20, isError: false },
    version: 1,
  };
}

/** Loads `records` history records into a fresh redis-server and measures query latency. */
export async function benchHistoryQuery(options: HistoryBenchOptions = {}): Promise<HistoryBenchResult> {
  const target = options.records ?? 1_000_000;
  const runs = options.runs ?? 300;
  const budget = options.loadBudgetMs ?? 180_000;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const redis = await startRedis();
  const client = new Redis(redis.url);
  try {
    const store = new HistoryStore(client, 'bench');
    const rand = rng(7);
    const now = Date.now();
    const batch = 2000;
    const inFlight = 4;
    let loaded = 0;
    const loadStart = performance.now();
    let lastLog = loadStart;
    const worker = async () => {
      while (loaded < target && performance.now() - loadStart < budget) {
        const n = Math.min(batch, target - loaded);
        loaded += n;
        await store.writeMany(Array.from({ length: n }, () => makeRecord(rand, now)));
        if (performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          log(`  loaded ${loaded.toLocaleString('en-US')} records…`);
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const records = await client.zcard(store.keys.all);
    const info = await client.info('memory');
    const usedBytes = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
    log(`  loaded ${records.toLocaleString('en-US')} records in ${loadSeconds.toFixed(1)} s; measuring…`);

    const qrand = rng(11);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(qrand() * xs.length)]!;
    const time = async (f: HistoryFilter, cursor?: string) => {
      const t = performance.now();
      const page = await store.query(f, { limit: 50, ...(cursor ? { cursor } : {}) });
      return { ms: performance.now() - t, page };
    };
    // Warm up the connection and the script cache.
    for (let i = 0; i < 20; i++) await time({ tool: pick(TOOLS), statuses: [pick(STATUSES)] });

    const first: number[] = [];
    const next: number[] = [];
    for (let i = 0; i < runs; i++) {
      const f: HistoryFilter = { tool: pick(TOOLS), statuses: [pick(STATUSES)] };
      const a = await time(f);
      if (a.page.records.length !== 50 || !a.page.nextCursor)
        throw new Error(`short page for ${JSON.stringify(f)}`);
      first.push(a.ms);
      const b = await time(f, a.page.nextCursor);
      next.push(b.ms);
    }
    const shapes: Record<string, () => HistoryFilter> = {
      'no filter': () => ({}),
      'status only': () => ({ statuses: [pick(STATUSES)] }),
      'agent + status': () => ({ agent: pick(AGENTS), statuses: [pick(STATUSES)] }),
      'tool + agent + server': () => ({ tool: pick(TOOLS), agent: pick(AGENTS), server: pick(SERVERS) }),
      'tool + 3 statuses, last 7 days': () => ({
        tool: pick(TOOLS),
        statuses: [STATUSES[0]!, STATUSES[1]!, STATUSES[2]!],
        since: now - 7 * DAY,
      }),
    };
    const others: HistoryBenchResult['others'] = {};
    for (const [name, make] of Object.entries(shapes)) {
      const ms: number[] = [];
      for (let i = 0; i < Math.max(50, runs / 3); i++) ms.push((await time(make())).ms);
      others[name] = { p50Ms: round(quantile(ms, 0.5), 3), p99Ms: round(quantile(ms, 0.99), 3) };
    }
    return {
      records,
      p50Ms: round(quantile(first, 0.5), 3),
      p99Ms: round(quantile(first, 0.99), 3),
      nextPageP50Ms: round(quantile(next, 0.5), 3),
      nextPageP99Ms: round(quantile(next, 0.99), 3),
      loadSeconds: round(loadSeconds, 1),
      recordsPerSecond: Math.round(records / loadSeconds),
      redisUsedMemoryMb: round(usedBytes / 1024 / 1024, 1),
      bytesPerRecord: Math.round(usedBytes / records),
      others,
    };
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const records = process.argv[2] ? Number(process.argv[2]) : undefined;
  benchHistoryQuery(records ? { records } : {}).then(
    (r) => {
      console.log(
        `history query bench: ${r.records.toLocaleString('en-US')} records, loaded in ${r.loadSeconds} s (${r.recordsPerSecond.toLocaleString('en-US')}/s)`,
      );
      console.log(
        `  tool X + status Y, newest first, page of 50:  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms   (target p50 <= 20 ms)`,
      );
      console.log(
        `  same query, next page by cursor:              p50 ${r.nextPageP50Ms} ms  p99 ${r.nextPageP99Ms} ms`,
      );
      for (const [name, o] of Object.entries(r.others))
        console.log(`  ${name.padEnd(44)}  p50 ${o.p50Ms} ms  p99 ${o.p99Ms} ms`);
      console.log(
        `  redis used memory: ${r.redisUsedMemoryMb} MB (${r.bytesPerRecord} bytes/record incl. indexes)`,
      );
      console.log(JSON.stringify(r));
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
