// Section 4: 5,000 calls held at once. Gateway RSS growth and Redis memory per pending request.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis.js';
import { closeClients, connectClient, connectClients, resultText } from './mcp-load.js';
import { adopt, GC_PROBE_ARGS, gcProbe, rssKiB, startAirlockProcess, startEchoProcess } from './procs.js';
import { fmt, round, sleep, table, type Row } from './stats.js';

/** Calls sent but not yet pending, at most (keeps the gateway's accept queue from overflowing). */
const MAX_UNCONFIRMED = 200;

/** What section 4 reports. */
export interface HeldResult {
  clients: number;
  callsPerClient: number;
  held: number;
  /** Seconds from firing the calls until all of them were pending in Redis. */
  secondsToAllPending: number;
  rssIdleMiB: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  rssPeakMiB: number;
  rssGrowthMiB: number;
  /** RSS growth per held call, KiB. */
  rssPerCallKiB: number;
  /** VmRSS after a forced full GC (bench/gc-probe.mjs), all calls still held. */
  rssAfterFullGcMiB: number;
  /** V8 heap retained per held call (heapUsed after full GC, delta / held). */
  heapUsedAfterGcPerCallKiB: number;
  /** Memory outside the V8 heap (buffers) retained per held call after full GC. */
  externalAfterGcPerCallKiB: number;
  /** Growth of the V8 heap's reserved size (heapTotal) over the held calls. */
  heapTotalGrowthMiB: number;
  redisUsedBeforeBytes: number;
  redisUsedAfterBytes: number;
  redisBytesPerPending: number;
  /** Calls that failed before being measured (should be 0). */
  earlyFailures: number;
  targets: { rssGrowthAtMost200MiB: boolean; redisAtMost4KiBPerPending: boolean };
}

/** Options for {@link benchHeld}. */
export interface HeldOptions {
  /** @defaultValue 50 */
  clients?: number;
  /** @defaultValue 100 */
  callsPerClient?: number;
  /** Give up waiting for all calls to be pending after this long. @defaultValue 150000 */
  fillTimeoutMs?: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
}

/** Runs section 4 (its own redis-server, upstream and gateway) and returns its figures and table. */
export async function benchHeld(o: HeldOptions = {}): Promise<{ result: HeldResult; text: string }> {
  const nClients = o.clients ?? 50;
  const perClient = o.callsPerClient ?? 100;
  const total = nClients * perClient;
  const prefix = 'bench-held';
  const redis = await startRedis();
  adopt(redis.process);
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  const echo = await startEchoProcess();
  const airlock = await startAirlockProcess({
    label: 'held',
    redisUrl: redis.url,
    prefix,
    servers: { echo: { url: echo.url } },
    policies: {
      echo: {
        version: '1',
        default: 'deny',
        tools: { echo: { action: 'require_approval', approval: { wait: '5m', timeout: '10m' } } },
      },
    },
    nodeArgs: GC_PROBE_ARGS,
  });
  let clients: Client[] = [];
  let warm: Client | undefined;
  let firing = false; // held calls reject once the gateway is killed; only earlier failures count
  try {
    // Warm up the hold and release paths so lazily loaded code is in the "before" figures.
    warm = await connectClient(airlock.mcpUrl);
    const warmCalls = Array.from({ length: 20 }, (_, i) =>
      warm!.callTool({ name: 'echo', arguments: { message: `warm-${i}` } }, undefined, { timeout: 60_000 }),
    );
    for (;;) {
      const res = await fetch(`${airlock.url}/api/requests?status=pending`);
      const { requests } = (await res.json()) as { requests: { id: string }[] };
      if (requests.length === 20) {
        for (const r of requests) await fetch(`${airlock.url}/api/requests/${r.id}/approve`, { method: 'POST' });
        break;
      }
      await sleep(20);
    }
    const warmResults = await Promise.all(warmCalls);
    if (warmResults.some((r, i) => resultText(r) !== `warm-${i}`)) throw new Error('held: warm-up calls gave wrong results');
    await sleep(1000);
    const rssIdle = rssKiB(airlock.pid);

    clients = await connectClients(airlock.mcpUrl, nClients);
    await sleep(1000);
    const rssBefore = rssKiB(airlock.pid);
    const usedBefore = await usedMemory(admin);
    const gcBefore = await gcProbe(airlock);

    let earlyFailures = 0;
    let earlyAnswers = 0;
    const failureKinds = new Map<string, number>();
    const fillCurve: [number, number][] = [];
    firing = true;
    const t0 = performance.now();
    // Paced firing: at most MAX_UNCONFIRMED calls sent but not yet pending, so the gateway's accept
    // queue (Node's default listen backlog is 511) never overflows; each held call holds its own
    // HTTP connection open (its SSE response), so 5,000 held calls are 5,000 connections.
    let fired = 0;
    let pending = 0;
    let rssPeak = rssBefore;
    const deadline = t0 + (o.fillTimeoutMs ?? 150_000);
    const fire = (ci: number, j: number) => {
      fired++;
      clients[ci]!.callTool({ name: 'echo', arguments: { message: `held-${ci}-${j}` } }, undefined, { timeout: 900_000 }).then(
        () => {
          if (firing) earlyAnswers++;
        },
        (err: unknown) => {
          if (!firing) return;
          earlyFailures++;
          const e = err as Error & { cause?: { code?: string; message?: string } };
          const m = `${String(e?.message ?? err)}${e?.cause ? ` (${e.cause.code ?? ''} ${e.cause.message ?? ''})` : ''}`;
          failureKinds.set(m.slice(0, 200), (failureKinds.get(m.slice(0, 200)) ?? 0) + 1);
        },
      );
    };
    let lastRss = 0;
    while (pending + earlyFailures + earlyAnswers < total && performance.now() < deadline) {
      const room = MAX_UNCONFIRMED - (fired - pending - earlyFailures - earlyAnswers);
      for (let k = 0; k < room && fired < total; k++) fire(fired % nClients, Math.floor(fired / nClients));
      await sleep(50);
      pending = await admin.zcard(`${prefix}:pending`);
      if (performance.now() - lastRss > 250) {
        lastRss = performance.now();
        rssPeak = Math.max(rssPeak, rssKiB(airlock.pid));
      }
      const s = Math.floor((performance.now() - t0) / 1000);
      if (fillCurve.length === 0 || fillCurve[fillCurve.length - 1]![0] !== s) fillCurve.push([s, pending]);
    }
    if (process.env.BENCH_VERBOSE) {
      process.stderr.write(`held fill curve [s, pending]: ${JSON.stringify(fillCurve)}\n`);
      process.stderr.write(`held failures: ${JSON.stringify([...failureKinds])}\n`);
    }
    const secondsToAllPending = (performance.now() - t0) / 1000;
    await sleep(2000); // let the held calls settle (buffers flushed, no work in flight)
    const rssAfter = rssKiB(airlock.pid);
    rssPeak = Math.max(rssPeak, rssAfter);
    const usedAfter = await usedMemory(admin);
    pending = await admin.zcard(`${prefix}:pending`);
    const gcAfter = await gcProbe(airlock);
    const rssAfterGc = rssKiB(airlock.pid);
    firing = false;

    const mib = (kib: number) => round(kib / 1024, 1);
    const result: HeldResult = {
      clients: nClients,
      callsPerClient: perClient,
      held: pending,
      secondsToAllPending: round(secondsToAllPending, 1),
      rssIdleMiB: mib(rssIdle),
      rssBeforeMiB: mib(rssBefore),
      rssAfterMiB: mib(rssAfter),
      rssPeakMiB: mib(rssPeak),
      rssGrowthMiB: mib(rssAfter - rssBefore),
      rssPerCallKiB: round((rssAfter - rssBefore) / Math.max(1, pending), 1),
      rssAfterFullGcMiB: mib(rssAfterGc),
      heapUsedAfterGcPerCallKiB: round((gcAfter.heapUsed - gcBefore.heapUsed) / 1024 / Math.max(1, pending), 1),
      externalAfterGcPerCallKiB: round((gcAfter.external - gcBefore.external) / 1024 / Math.max(1, pending), 1),
      heapTotalGrowthMiB: round((gcAfter.heapTotal - gcBefore.heapTotal) / 1048576, 1),
      redisUsedBeforeBytes: usedBefore,
      redisUsedAfterBytes: usedAfter,
      redisBytesPerPending: Math.round((usedAfter - usedBefore) / Math.max(1, pending)),
      earlyFailures,
      targets: { rssGrowthAtMost200MiB: false, redisAtMost4KiBPerPending: false },
    };
    result.targets = {
      rssGrowthAtMost200MiB: pending === total && result.rssGrowthMiB <= 200,
      redisAtMost4KiBPerPending: pending === total && result.redisBytesPerPending <= 4096,
    };
    const rows: Row[] = [
      {
        label: 'calls held at once',
        value: `${pending} of ${total} (${nClients} clients x ${perClient})${earlyFailures ? `, ${earlyFailures} failed` : ''}`,
      },
      { label: 'time until all pending', value: fmt(result.secondsToAllPending, 1, 's') },
      { label: 'gateway RSS idle / sessions open', value: `${fmt(result.rssIdleMiB, 1)} / ${fmt(result.rssBeforeMiB, 1)} MiB` },
      { label: 'gateway RSS held / peak', value: `${fmt(result.rssAfterMiB, 1)} / ${fmt(result.rssPeakMiB, 1)} MiB` },
      {
        label: 'gateway RSS growth for the held calls',
        value: `${fmt(result.rssGrowthMiB, 1)} MiB (${fmt(result.rssPerCallKiB, 1)} KiB/call)`,
        target: '<= 200 MiB',
        pass: result.targets.rssGrowthAtMost200MiB,
      },
      {
        label: 'after a forced full GC: live heap / external',
        value: `${fmt(result.heapUsedAfterGcPerCallKiB, 1)} / ${fmt(result.externalAfterGcPerCallKiB, 1)} KiB per call; RSS ${fmt(result.rssAfterFullGcMiB, 1)} MiB`,
      },
      {
        label: 'Redis used_memory per pending request',
        value: `${result.redisBytesPerPending} B`,
        target: '<= 4096 B',
        pass: result.targets.redisAtMost4KiBPerPending,
      },
    ];
    const notes = [
      `RSS growth = VmRSS with all calls held - VmRSS with the ${nClients} sessions open and idle`,
      'Redis: dedicated redis-server, INFO memory used_memory delta / pending requests (records, indexes and BullMQ deadline jobs)',
    ];
    if (pending < total) notes.push(`only ${pending} of ${total} became pending within the time limit`);
    return { result, text: table(`4. ${total} calls held at once (HTTP)`, rows, notes) };
  } finally {
    firing = false;
    await airlock.stop();
    await closeClients(warm ? [warm, ...clients] : clients);
    admin.disconnect();
    await echo.stop();
    await redis.stop();
  }
}
