// Section 4: 5,000 calls held at once. Gateway RSS growth and Redis memory per pending request.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis.js';
import { closeClients, connectClient, connectClients, resultText } from './mcp-load.js';
import { adopt, rssKiB, startAirlockProcess, startEchoProcess } from './procs.js';
import { fmt, round, sleep, table, type Row } from './stats.js';

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

    let earlyFailures = 0;
    const failureKinds = new Map<string, number>();
    const fillCurve: [number, number][] = [];
    firing = true;
    const t0 = performance.now();
    clients.forEach((c, ci) => {
      for (let j = 0; j < perClient; j++) {
        c.callTool({ name: 'echo', arguments: { message: `held-${ci}-${j}` } }, undefined, { timeout: 900_000 }).catch(
          (err: unknown) => {
            if (!firing) return;
            earlyFailures++;
            const m = String((err as Error)?.message ?? err).slice(0, 160);
            failureKinds.set(m, (failureKinds.get(m) ?? 0) + 1);
          },
        );
      }
    });
    let pending = 0;
    let rssPeak = rssBefore;
    const deadline = t0 + (o.fillTimeoutMs ?? 150_000);
    while (pending < total && performance.now() < deadline) {
      await sleep(200);
      pending = await admin.zcard(`${prefix}:pending`);
      rssPeak = Math.max(rssPeak, rssKiB(airlock.pid));
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
