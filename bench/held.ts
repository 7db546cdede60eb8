// Section 4: 5,000 calls held at once over HTTP (long poll). Airlock's RSS growth and Redis memory per
// pending request, for 2025-era session clients and for 2026-07-28 clients that do not negotiate the
// tasks extension; baseline: the bare SDK proxy holding as many calls (to an upstream tool that never answers).
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis.js';
import { BENCH_TOKEN, closeClients, connectClients, resultText } from './mcp-load.js';
import {
  adopt,
  GC_PROBE_ARGS,
  gcProbe,
  rssKiB,
  startAirlockProcess,
  startBareProxyProcess,
  startEchoProcess,
  type BenchProcess,
} from './procs.js';
import { fmt, round, sleep, table, type Row } from './stats.js';

/** Calls sent but not yet held, at most: keeps the server's accept queue (Node default backlog 511) from overflowing. */
const MAX_UNCONFIRMED = 200;

/** Memory of one process holding many calls. */
export interface HoldFigures {
  held: number;
  /** Calls that failed before the measurement (should be 0). */
  failures: number;
  /** Failure messages and counts. */
  failureKinds: Record<string, number>;
  secondsToAllHeld: number;
  rssIdleMiB: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  rssPeakMiB: number;
  rssGrowthMiB: number;
  rssPerCallKiB: number;
  /** VmRSS after a forced full GC (bench/gc-probe.mjs), all calls still held. */
  rssAfterFullGcMiB: number;
  /** V8 heap retained per held call: heapUsed after full GC, delta / held. */
  heapUsedPerCallKiB: number;
  /** Memory outside the V8 heap (Buffers) retained per held call after full GC. */
  externalPerCallKiB: number;
}

/** What section 4 reports. */
export interface HeldResult {
  clients: number;
  callsPerClient: number;
  /** 2025-era session clients (SDK 1.x Client over Streamable HTTP). */
  airlock: HoldFigures;
  /** 2026-07-28 clients without the tasks extension: one stateless POST per call, held open. */
  airlockModern: HoldFigures;
  bareProxy: HoldFigures;
  /** Airlock RSS growth / bare proxy RSS growth. */
  rssGrowthVsBare: number;
  redisUsedBeforeBytes: number;
  redisUsedAfterBytes: number;
  redisBytesPerPending: number;
  targets: {
    rssGrowthAtMost200MiB: boolean;
    redisAtMost4KiBPerPending: boolean;
    /** Heap + external retained per held long-poll call after a full GC, at most 16 KiB, in both eras. */
    liveAtMost16KiBPerCall: boolean;
  };
}

/** Options for {@link benchHeld}. */
export interface HeldOptions {
  /** @defaultValue 50 */
  clients?: number;
  /** @defaultValue 100 */
  callsPerClient?: number;
  /** Give up waiting for all calls to be held after this long. @defaultValue 120000 */
  fillTimeoutMs?: number;
}

/** How a hold's calls are made: one tools/call of `tool`, number `i`; settles when answered or cut off. */
type HeldCaller = (i: number) => Promise<unknown>;

/** The clients a hold makes its calls with. */
interface HoldClients {
  call: HeldCaller;
  close(): Promise<void>;
}

/** 2025 era: `n` SDK clients, each with its session; call `i` goes on session `i mod n`. */
async function sessionClients(mcpUrl: string, tool: string, n: number): Promise<HoldClients> {
  const clients: Client[] = await connectClients(mcpUrl, n);
  return {
    call: (i) =>
      clients[Math.abs(i) % n]!.callTool({ name: tool, arguments: { message: `held-${i}` } }, undefined, {
        timeout: 900_000,
      }),
    close: () => closeClients(clients),
  };
}

/** 2026-07-28 without the tasks extension: no handshake, each call a POST that stays open while held. */
function modernClients(mcpUrl: string, tool: string): HoldClients {
  const MODERN = '2026-07-28';
  const calls = new Set<AbortController>();
  return {
    call: async (i) => {
      const abort = new AbortController();
      calls.add(abort);
      try {
        const res = await fetch(mcpUrl, {
          method: 'POST',
          signal: abort.signal,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            authorization: `Bearer ${BENCH_TOKEN}`,
            'mcp-protocol-version': MODERN,
            'mcp-method': 'tools/call',
            'mcp-name': tool,
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: i,
            method: 'tools/call',
            params: {
              name: tool,
              arguments: { message: `held-${i}` },
              _meta: {
                'io.modelcontextprotocol/protocolVersion': MODERN,
                'io.modelcontextprotocol/clientInfo': { name: 'bench-modern', version: '1' },
                'io.modelcontextprotocol/clientCapabilities': {},
              },
            },
          }),
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
        return text;
      } finally {
        calls.delete(abort);
      }
    },
    close: async () => {
      for (const c of calls) c.abort();
    },
  };
}

interface HoldTarget {
  proc: BenchProcess;
  /** Opens the clients (2025 sessions are opened before the "sessions open" figures). */
  open(): Promise<HoldClients>;
  /** How many calls the server holds right now. */
  countHeld(): Promise<number>;
}

/**
 * Opens the clients, measures, then holds `total` calls (paced so that at most MAX_UNCONFIRMED are in
 * transit) and measures again. The clients stay open; the caller kills the server, then closes them.
 */
async function holdMany(
  t: HoldTarget,
  total: number,
  fillTimeoutMs: number,
  between?: { before(): Promise<void>; after(): Promise<void> },
): Promise<{ figures: HoldFigures; clients: HoldClients; stop(): void }> {
  const rssIdle = rssKiB(t.proc.pid);
  const clients = await t.open();
  await sleep(1000);
  const rssBefore = rssKiB(t.proc.pid);
  await between?.before();
  const gcBefore = await gcProbe(t.proc);

  let firing = true; // held calls reject once the server is killed; only earlier failures count
  let failures = 0;
  let answers = 0;
  const failureKinds: Record<string, number> = {};
  let fired = 0;
  let held = 0;
  let rssPeak = rssBefore;
  let lastRss = 0;
  const fire = (i: number) => {
    fired++;
    clients.call(i).then(
      () => {
        if (firing) answers++;
      },
      (err: unknown) => {
        if (!firing) return;
        failures++;
        const e = err as Error & { cause?: { code?: string; message?: string } };
        const m =
          `${String(e?.message ?? err)}${e?.cause ? ` (${e.cause.code ?? ''} ${e.cause.message ?? ''})` : ''}`.slice(
            0,
            200,
          );
        failureKinds[m] = (failureKinds[m] ?? 0) + 1;
      },
    );
  };
  const t0 = performance.now();
  const deadline = t0 + fillTimeoutMs;
  while (held + failures + answers < total && performance.now() < deadline) {
    const room = MAX_UNCONFIRMED - (fired - held - failures - answers);
    for (let k = 0; k < room && fired < total; k++) fire(fired);
    await sleep(50);
    held = await t.countHeld();
    if (performance.now() - lastRss > 250) {
      lastRss = performance.now();
      rssPeak = Math.max(rssPeak, rssKiB(t.proc.pid));
    }
  }
  const secondsToAllHeld = (performance.now() - t0) / 1000;
  await sleep(2000); // let the held calls settle (buffers flushed, no work in flight)
  const rssAfter = rssKiB(t.proc.pid);
  rssPeak = Math.max(rssPeak, rssAfter);
  held = await t.countHeld();
  await between?.after();
  const gcAfter = await gcProbe(t.proc);
  const rssAfterGc = rssKiB(t.proc.pid);
  const mib = (kib: number) => round(kib / 1024, 1);
  const n = Math.max(1, held);
  return {
    clients,
    stop: () => {
      firing = false;
    },
    figures: {
      held,
      failures,
      failureKinds,
      secondsToAllHeld: round(secondsToAllHeld, 1),
      rssIdleMiB: mib(rssIdle),
      rssBeforeMiB: mib(rssBefore),
      rssAfterMiB: mib(rssAfter),
      rssPeakMiB: mib(rssPeak),
      rssGrowthMiB: mib(rssAfter - rssBefore),
      rssPerCallKiB: round((rssAfter - rssBefore) / n, 1),
      rssAfterFullGcMiB: mib(rssAfterGc),
      heapUsedPerCallKiB: round((gcAfter.heapUsed - gcBefore.heapUsed) / 1024 / n, 1),
      externalPerCallKiB: round((gcAfter.external - gcBefore.external) / 1024 / n, 1),
    },
  };
}

/** INFO used_memory of a Redis, in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
}

/**
 * A dedicated Redis (so its used_memory is only this gateway's), the echo upstream, and Airlock holding
 * every echo call for approval (`timeout` to decide, 5 min of long poll), with the GC probe loaded.
 * `stop` ends all but the gateway, which callers stop first.
 */
export async function startHoldingGateway(label: string, prefix: string, timeout: string) {
  const redis = await startRedis();
  adopt(redis.process);
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  const echo = await startEchoProcess();
  const airlock = await startAirlockProcess({
    label,
    redisUrl: redis.url,
    prefix,
    servers: { echo: { url: echo.url } },
    policies: {
      echo: {
        version: '1',
        default: 'deny',
        tools: { echo: { action: 'require_approval', approval: { wait: '5m', timeout } } },
      },
    },
    nodeArgs: GC_PROBE_ARGS,
  });
  return {
    airlock,
    admin,
    async stop() {
      admin.disconnect();
      await echo.stop();
      await redis.stop();
    },
  };
}

/** The 2025 or the 2026-07-28 clients of {@link airlockHeld}. */
type Era = '2025' | '2026-07-28';

async function airlockHeld(
  era: Era,
  nClients: number,
  total: number,
  fillTimeoutMs: number,
): Promise<{ figures: HoldFigures; usedBefore: number; usedAfter: number }> {
  const prefix = era === '2025' ? 'bench-held' : 'bench-held-modern';
  const { airlock, admin, stop } = await startHoldingGateway(`held-${era}`, prefix, '10m');
  const open = () =>
    era === '2025'
      ? sessionClients(airlock.mcpUrl, 'echo', nClients)
      : Promise.resolve(modernClients(airlock.mcpUrl, 'echo'));
  let run: Awaited<ReturnType<typeof holdMany>> | undefined;
  let warm: HoldClients | undefined;
  try {
    // Warm up the hold and release paths so lazily loaded code is in the "before" figures.
    warm = await open();
    const warmCalls = Array.from({ length: 20 }, (_, i) => warm!.call(-1 - i));
    for (;;) {
      const res = await fetch(`${airlock.url}/api/requests?status=pending`);
      const { requests } = (await res.json()) as { requests: { id: string }[] };
      if (requests.length === 20) {
        for (const r of requests) {
          const ok = await fetch(`${airlock.url}/api/requests/${r.id}/approve`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          });
          if (!ok.ok) throw new Error(`held: approve answered ${ok.status}: ${await ok.text()}`);
        }
        break;
      }
      await sleep(20);
    }
    const warmResults = await Promise.all(warmCalls);
    const answered = (r: unknown, i: number) =>
      typeof r === 'string' ? r.includes(`"held-${-1 - i}"`) : resultText(r) === `held-${-1 - i}`;
    if (!warmResults.every(answered)) throw new Error(`held (${era}): warm-up calls gave wrong results`);
    await sleep(500);
    let usedBefore = 0;
    let usedAfter = 0;
    run = await holdMany(
      { proc: airlock, open, countHeld: () => admin.zcard(`${prefix}:pending`) },
      total,
      fillTimeoutMs,
      {
        before: async () => void (usedBefore = await usedMemory(admin)),
        after: async () => void (usedAfter = await usedMemory(admin)),
      },
    );
    return { figures: run.figures, usedBefore, usedAfter };
  } finally {
    run?.stop();
    await airlock.stop();
    await warm?.close();
    await run?.clients.close();
    await stop();
  }
}

async function bareHeld(nClients: number, total: number, fillTimeoutMs: number): Promise<HoldFigures> {
  const echo = await startEchoProcess();
  const bare = await startBareProxyProcess(echo.url, GC_PROBE_ARGS);
  const holdingUrl = echo.url.replace(/\/mcp$/, '/holding');
  let run: Awaited<ReturnType<typeof holdMany>> | undefined;
  try {
    const warm = await connectClients(bare.url, 4);
    for (let i = 0; i < 200; i++) await warm[i % 4]!.callTool({ name: 'echo', arguments: { message: 'w' } });
    await closeClients(warm);
    await sleep(500);
    run = await holdMany(
      {
        proc: bare,
        open: () => sessionClients(bare.url, 'hold', nClients),
        countHeld: async () => Number(await (await fetch(holdingUrl)).text()),
      },
      total,
      fillTimeoutMs,
    );
    return run.figures;
  } finally {
    run?.stop();
    await bare.stop();
    await run?.clients.close();
    await echo.stop();
  }
}

/**
 * Runs section 4 (Airlock with its own redis-server for 2025 session clients, again for 2026-07-28
 * clients, then the bare-proxy baseline) and returns figures and table.
 */
export async function benchHeld(o: HeldOptions = {}): Promise<{ result: HeldResult; text: string }> {
  const nClients = o.clients ?? 50;
  const perClient = o.callsPerClient ?? 100;
  const total = nClients * perClient;
  const fillTimeoutMs = o.fillTimeoutMs ?? 120_000;
  const a = await airlockHeld('2025', nClients, total, fillTimeoutMs);
  const m = await airlockHeld('2026-07-28', nClients, total, fillTimeoutMs);
  const bare = await bareHeld(nClients, total, fillTimeoutMs);
  const pending = a.figures.held;
  // Every call held, and at most 16 KiB of heap + buffers retained per call after a full GC.
  const liveUnder16KiB = (f: HoldFigures) =>
    f.held === total && f.heapUsedPerCallKiB + f.externalPerCallKiB <= 16;
  const result: HeldResult = {
    clients: nClients,
    callsPerClient: perClient,
    airlock: a.figures,
    airlockModern: m.figures,
    bareProxy: bare,
    rssGrowthVsBare: round(a.figures.rssGrowthMiB / bare.rssGrowthMiB, 2),
    redisUsedBeforeBytes: a.usedBefore,
    redisUsedAfterBytes: a.usedAfter,
    redisBytesPerPending: Math.round((a.usedAfter - a.usedBefore) / Math.max(1, pending)),
    targets: {
      rssGrowthAtMost200MiB: false,
      redisAtMost4KiBPerPending: false,
      liveAtMost16KiBPerCall: false,
    },
  };
  result.targets = {
    rssGrowthAtMost200MiB: pending === total && a.figures.rssGrowthMiB <= 200,
    redisAtMost4KiBPerPending: pending === total && result.redisBytesPerPending <= 4096,
    liveAtMost16KiBPerCall: [a.figures, m.figures].every(liveUnder16KiB),
  };
  const rowsFor = (name: string, f: HoldFigures, target: boolean): Row[] => [
    {
      label: `${name}: calls held at once`,
      value: `${f.held} of ${total} in ${fmt(f.secondsToAllHeld, 1)} s${f.failures ? `, ${f.failures} failed` : ''}`,
    },
    {
      label: `${name}: RSS idle / sessions open / held`,
      value: `${fmt(f.rssIdleMiB, 1)} / ${fmt(f.rssBeforeMiB, 1)} / ${fmt(f.rssAfterMiB, 1)} MiB (peak ${fmt(f.rssPeakMiB, 1)})`,
    },
    {
      label: `${name}: RSS growth for the held calls`,
      value: `${fmt(f.rssGrowthMiB, 1)} MiB (${fmt(f.rssPerCallKiB, 1)} KiB/call)`,
      ...(target ? { target: '<= 200 MiB', pass: result.targets.rssGrowthAtMost200MiB } : {}),
    },
    {
      label: `${name}: live after full GC`,
      value: `heap ${fmt(f.heapUsedPerCallKiB, 1)} KiB/call, external ${fmt(f.externalPerCallKiB, 1)} KiB/call; RSS ${fmt(f.rssAfterFullGcMiB, 1)} MiB`,
      ...(target ? { target: '<= 16 KiB/call', pass: liveUnder16KiB(f) } : {}),
    },
  ];
  const rows: Row[] = [
    ...rowsFor('airlock', a.figures, true),
    ...rowsFor('airlock 2026-07-28', m.figures, true),
    {
      label: 'Redis used_memory per pending request',
      value: `${result.redisBytesPerPending} B`,
      target: '<= 4096 B',
      pass: result.targets.redisAtMost4KiBPerPending,
    },
    ...rowsFor('bare proxy', bare, false),
    { label: 'RSS growth airlock / bare proxy', value: fmt(result.rssGrowthVsBare, 2) },
  ];
  const notes = [
    `airlock: ${nClients} MCP SDK 1.x clients (2025 sessions) x ${perClient} concurrent tools/call each; every held call keeps its own HTTP connection (SSE response) open`,
    `airlock 2026-07-28: ${total} stateless enveloped POSTs without the tasks extension (long poll), each on its own connection; Redis figures are the 2025 run's`,
    `calls are paced (at most ${MAX_UNCONFIRMED} sent but not yet held): an unpaced burst of 5,000 connects overflows the gateway's listen backlog (511) and some fail with ECONNRESET`,
    'RSS growth = VmRSS with all calls held - VmRSS with the sessions open and idle; "live after full GC" from bench/gc-probe.mjs (--expose-gc, SIGUSR2)',
    'Redis: dedicated redis-server, INFO used_memory delta / pending requests (record, indexes, BullMQ deadline job)',
    'bare proxy baseline: the same calls to an upstream tool that never answers, so the proxy also holds an upstream request per call',
  ];
  for (const [name, f] of [
    ['airlock', a.figures],
    ['airlock 2026-07-28', m.figures],
    ['bare proxy', bare],
  ] as const) {
    if (f.held < total)
      notes.push(`${name}: only ${f.held} of ${total} calls were held within ${fillTimeoutMs / 1000}s`);
    for (const [m, c] of Object.entries(f.failureKinds)) notes.push(`${name}: ${c} x ${m}`);
  }
  return { result, text: table(`4. ${total} calls held at once (HTTP long poll)`, rows, notes) };
}
