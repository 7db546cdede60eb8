// Section 1: the allow path. Closed-loop echo calls direct to the upstream, through a bare SDK proxy
// (the baseline) and through Airlock (policy + rate limit in Redis), at concurrency 1 and 16. A fourth
// target, Airlock allowing the tool with no limit, shows what the Redis rate-limit check costs.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { closeClients, closedLoop, connectClients } from './mcp-load.js';
import {
  cpuMs,
  startAirlockProcess,
  startBareProxyProcess,
  startEchoProcess,
  type AirlockProcess,
} from './procs.js';
import { fmt, median, quantile, round, table, type Row } from './stats.js';

/** Throughput and latency of one target at one concurrency (medians over repetitions). */
export interface TargetFigures {
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of the proxy/gateway process per call, ms (null for direct). */
  proxyCpuMsPerCall: number | null;
  /** CPU time of the upstream process per call, ms. */
  upstreamCpuMsPerCall: number;
  /** Per repetition: [calls/s, p50, p99]. */
  reps: [number, number, number][];
  errors: number;
}

const TARGETS = ['direct', 'bare', 'airlock', 'airlockNoLimit'] as const;
/** One measured path: direct, bare SDK proxy, Airlock, Airlock without a rate limit. */
export type Target = (typeof TARGETS)[number];

const LABELS: Record<Target, string> = {
  direct: 'direct',
  bare: 'bare proxy',
  airlock: 'airlock',
  airlockNoLimit: 'airlock, no limit',
};

/** What section 1 reports. */
export interface AllowPathResult {
  concurrency: Record<'c1' | 'c16', Record<Target, TargetFigures>>;
  ratios: {
    airlockVsDirectThroughputC1: number;
    airlockVsDirectThroughputC16: number;
    bareVsDirectThroughputC1: number;
    bareVsDirectThroughputC16: number;
    airlockVsBareThroughputC16: number;
    airlockAddedP50MsC1: number;
    bareAddedP50MsC1: number;
    /** Airlock p50 − bare proxy p50 at c=1: what Airlock adds over a minimal proxy. */
    airlockOverBareP50MsC1: number;
    /** Airlock p50 − Airlock-without-limit p50 at c=1: the rate-limit check in Redis. */
    rateLimitP50MsC1: number;
    /** Gateway CPU per call / bare proxy CPU per call, at c=16. */
    airlockVsBareCpuPerCallC16: number;
  };
  targets: { airlockThroughputC16AtLeast60PctOfDirect: boolean; airlockAddsAtMost1msP50C1: boolean };
  runMs: number;
  reps: number;
  cpuProfileDir?: string;
}

/** Options for {@link benchAllowPath}. */
export interface AllowPathOptions {
  redisUrl: string;
  /** Length of one measured run. @defaultValue 2500 */
  runMs?: number;
  /** Repetitions per target and concurrency (interleaved). @defaultValue 3 */
  reps?: number;
  /** When set, the rate-limited Airlock runs with `--cpu-prof` and writes its profile to this directory. */
  cpuProfileDir?: string;
}

const echoPolicy = (limited: boolean) => ({
  version: '1',
  default: 'deny',
  tools: {
    echo: limited ? { limits: [{ counter: 'echo', window: 'second', max: 1_000_000, scope: 'grant' }] } : {},
  },
});

/** Runs section 1 and returns its figures and its printed table. */
export async function benchAllowPath(
  o: AllowPathOptions,
): Promise<{ result: AllowPathResult; text: string }> {
  const runMs = o.runMs ?? 2500;
  const reps = o.reps ?? 3;
  const echo = await startEchoProcess();
  const bare = await startBareProxyProcess(echo.url);
  const gateways: AirlockProcess[] = [];
  const clients: Partial<Record<Target, Client[]>> = {};
  try {
    const airlock = await startAirlockProcess({
      label: 'allow',
      redisUrl: o.redisUrl,
      prefix: 'bench-allow',
      servers: { echo: { url: echo.url } },
      policies: { echo: echoPolicy(true) },
      ...(o.cpuProfileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`] } : {}),
    });
    gateways.push(airlock);
    const noLimit = await startAirlockProcess({
      label: 'allow-nolimit',
      redisUrl: o.redisUrl,
      prefix: 'bench-allow-nolimit',
      servers: { echo: { url: echo.url } },
      policies: { echo: echoPolicy(false) },
    });
    gateways.push(noLimit);
    clients.direct = await connectClients(echo.url, 16);
    clients.bare = await connectClients(bare.url, 16);
    clients.airlock = await connectClients(airlock.mcpUrl, 16);
    clients.airlockNoLimit = await connectClients(noLimit.mcpUrl, 16);

    // Warm up every path (JIT, connection pools, Redis scripts) before measuring anything.
    for (const t of TARGETS) {
      const w = await closedLoop(clients[t]!, 1500);
      if (w.calls === 0) throw new Error(`allow path: ${t} answered no call: ${w.firstError}`);
    }
    const middle: Record<Target, number | undefined> = {
      direct: undefined,
      bare: bare.pid,
      airlock: airlock.pid,
      airlockNoLimit: noLimit.pid,
    };
    const samples = { c1: {}, c16: {} } as Record<'c1' | 'c16', Record<Target, number[][]>>;
    const errors = { c1: {}, c16: {} } as Record<'c1' | 'c16', Record<Target, number>>;
    for (const c of [1, 16] as const) {
      const key = c === 1 ? 'c1' : 'c16';
      for (const t of TARGETS) {
        samples[key][t] = [];
        errors[key][t] = 0;
      }
      for (let rep = 0; rep < reps; rep++) {
        // Rotate the order each repetition so no target always runs right after another.
        const order = TARGETS.map((_, i) => TARGETS[(i + rep) % TARGETS.length]!);
        for (const t of order) {
          const pid = middle[t];
          const cpu0 = [pid ? cpuMs(pid) : 0, cpuMs(echo.pid)];
          const r = await closedLoop(clients[t]!.slice(0, c), runMs);
          const n = Math.max(1, r.calls + r.errors);
          samples[key][t].push([
            r.callsPerSec,
            quantile(r.latencies, 0.5),
            quantile(r.latencies, 0.99),
            pid ? (cpuMs(pid) - cpu0[0]!) / n : NaN,
            (cpuMs(echo.pid) - cpu0[1]!) / n,
          ]);
          errors[key][t] += r.errors;
        }
      }
    }
    const figures = (key: 'c1' | 'c16', t: Target): TargetFigures => {
      const s = samples[key][t];
      return {
        callsPerSec: round(median(s.map((x) => x[0]!)), 0),
        p50Ms: round(median(s.map((x) => x[1]!)), 3),
        p99Ms: round(median(s.map((x) => x[2]!)), 3),
        proxyCpuMsPerCall: t === 'direct' ? null : round(median(s.map((x) => x[3]!)), 3),
        upstreamCpuMsPerCall: round(median(s.map((x) => x[4]!)), 3),
        reps: s.map(([a, b, c]) => [round(a!, 0), round(b!, 3), round(c!, 3)]),
        errors: errors[key][t],
      };
    };
    const byTarget = (key: 'c1' | 'c16') =>
      Object.fromEntries(TARGETS.map((t) => [t, figures(key, t)])) as Record<Target, TargetFigures>;
    const conc = { c1: byTarget('c1'), c16: byTarget('c16') };
    const ratios = {
      airlockVsDirectThroughputC1: round(conc.c1.airlock.callsPerSec / conc.c1.direct.callsPerSec, 3),
      airlockVsDirectThroughputC16: round(conc.c16.airlock.callsPerSec / conc.c16.direct.callsPerSec, 3),
      bareVsDirectThroughputC1: round(conc.c1.bare.callsPerSec / conc.c1.direct.callsPerSec, 3),
      bareVsDirectThroughputC16: round(conc.c16.bare.callsPerSec / conc.c16.direct.callsPerSec, 3),
      airlockVsBareThroughputC16: round(conc.c16.airlock.callsPerSec / conc.c16.bare.callsPerSec, 3),
      airlockAddedP50MsC1: round(conc.c1.airlock.p50Ms - conc.c1.direct.p50Ms, 3),
      bareAddedP50MsC1: round(conc.c1.bare.p50Ms - conc.c1.direct.p50Ms, 3),
      airlockOverBareP50MsC1: round(conc.c1.airlock.p50Ms - conc.c1.bare.p50Ms, 3),
      rateLimitP50MsC1: round(conc.c1.airlock.p50Ms - conc.c1.airlockNoLimit.p50Ms, 3),
      airlockVsBareCpuPerCallC16: round(
        conc.c16.airlock.proxyCpuMsPerCall! / conc.c16.bare.proxyCpuMsPerCall!,
        2,
      ),
    };
    const targets = {
      airlockThroughputC16AtLeast60PctOfDirect: ratios.airlockVsDirectThroughputC16 >= 0.6,
      airlockAddsAtMost1msP50C1: ratios.airlockAddedP50MsC1 <= 1,
    };
    const result: AllowPathResult = {
      concurrency: conc,
      ratios,
      targets,
      runMs,
      reps,
      ...(o.cpuProfileDir ? { cpuProfileDir: o.cpuProfileDir } : {}),
    };
    const rows: Row[] = [];
    for (const c of ['c1', 'c16'] as const) {
      for (const t of TARGETS) {
        const f = conc[c][t];
        rows.push({
          label: `${c} ${LABELS[t]}`,
          value: `${fmt(f.callsPerSec, 0).padStart(5)} calls/s  p50 ${fmt(f.p50Ms, 2).padStart(5)} ms  p99 ${fmt(f.p99Ms, 2).padStart(6)} ms  cpu/call ${f.proxyCpuMsPerCall === null ? `upstream ${fmt(f.upstreamCpuMsPerCall, 2)}` : `proxy ${fmt(f.proxyCpuMsPerCall, 2)}`} ms${f.errors ? `  ${f.errors} errors` : ''}`,
        });
      }
    }
    rows.push(
      { label: 'c1 throughput airlock/direct', value: fmt(ratios.airlockVsDirectThroughputC1, 3) },
      { label: 'c1 throughput bare/direct', value: fmt(ratios.bareVsDirectThroughputC1, 3) },
      {
        label: 'c16 throughput airlock/direct',
        value: fmt(ratios.airlockVsDirectThroughputC16, 3),
        target: '>= 0.60',
        pass: targets.airlockThroughputC16AtLeast60PctOfDirect,
      },
      { label: 'c16 throughput bare/direct', value: fmt(ratios.bareVsDirectThroughputC16, 3) },
      { label: 'c16 throughput airlock/bare', value: fmt(ratios.airlockVsBareThroughputC16, 3) },
      {
        label: 'c1 p50 added by airlock',
        value: fmt(ratios.airlockAddedP50MsC1, 3, 'ms'),
        target: '<= 1 ms',
        pass: targets.airlockAddsAtMost1msP50C1,
      },
      { label: 'c1 p50 added by bare proxy', value: fmt(ratios.bareAddedP50MsC1, 3, 'ms') },
      { label: 'c1 p50 airlock - bare proxy', value: fmt(ratios.airlockOverBareP50MsC1, 3, 'ms') },
      { label: 'c1 p50 of the rate-limit check', value: fmt(ratios.rateLimitP50MsC1, 3, 'ms') },
      { label: 'c16 CPU per call airlock/bare', value: fmt(ratios.airlockVsBareCpuPerCallC16, 2) },
    );
    const notes = [
      `medians of ${reps} interleaved ${runMs / 1000}s closed-loop runs per target, after a 1.5s warm-up each`,
      "load generator, proxy/gateway, upstream and Redis share the machine's cores: a proxy adds a whole process hop per call, so compare airlock with the bare proxy",
      '"airlock, no limit": same gateway with the tool allowed and no rate limit (no Redis on the call path)',
      'cpu/call: user+system CPU of the proxy/gateway process (or, for direct, the upstream) per call, from /proc/<pid>/stat',
    ];
    if (o.cpuProfileDir) notes.push(`CPU profile of the rate-limited gateway written to ${o.cpuProfileDir}`);
    return { result, text: table('1. Allow path (echo tool over Streamable HTTP)', rows, notes) };
  } finally {
    await Promise.all(TARGETS.map((t) => closeClients(clients[t] ?? [])));
    for (const g of gateways) await g.terminate();
    await bare.stop();
    await echo.stop();
  }
}
