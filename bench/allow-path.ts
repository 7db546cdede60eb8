// Section 1: the allow path. Closed-loop echo calls direct to the upstream, through a bare SDK proxy
// (the baseline) and through Airlock (policy + rate limit in Redis), at concurrency 1 and 16.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { closeClients, closedLoop, connectClients } from './mcp-load.js';
import { startAirlockProcess, startBareProxyProcess, startEchoProcess } from './procs.js';
import { fmt, median, quantile, round, table, type Row } from './stats.js';

/** Throughput and latency of one target at one concurrency (medians over repetitions). */
export interface TargetFigures {
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Per repetition: [calls/s, p50, p99]. */
  reps: [number, number, number][];
  errors: number;
}

/** What section 1 reports. */
export interface AllowPathResult {
  concurrency: Record<'c1' | 'c16', Record<'direct' | 'bare' | 'airlock', TargetFigures>>;
  ratios: {
    airlockVsDirectThroughputC1: number;
    airlockVsDirectThroughputC16: number;
    bareVsDirectThroughputC1: number;
    bareVsDirectThroughputC16: number;
    airlockVsBareThroughputC16: number;
    airlockAddedP50MsC1: number;
    bareAddedP50MsC1: number;
  };
  targets: { airlockThroughputC16AtLeast60PctOfDirect: boolean; airlockAddsAtMost1msP50C1: boolean };
  runMs: number;
  reps: number;
  cpuProfileDir?: string;
}

/** Options for {@link benchAllowPath}. */
export interface AllowPathOptions {
  redisUrl: string;
  /** Length of one measured run. @defaultValue 3000 */
  runMs?: number;
  /** Repetitions per target and concurrency (interleaved). @defaultValue 3 */
  reps?: number;
  /** When set, Airlock runs with `--cpu-prof` and writes its profile to this directory. */
  cpuProfileDir?: string;
}

const TARGETS = ['direct', 'bare', 'airlock'] as const;
type Target = (typeof TARGETS)[number];

/** Runs section 1 and returns its figures and its printed table. */
export async function benchAllowPath(o: AllowPathOptions): Promise<{ result: AllowPathResult; text: string }> {
  const runMs = o.runMs ?? 3000;
  const reps = o.reps ?? 3;
  const echo = await startEchoProcess();
  const bare = await startBareProxyProcess(echo.url);
  const airlock = await startAirlockProcess({
    label: 'allow',
    redisUrl: o.redisUrl,
    prefix: 'bench-allow',
    servers: { echo: { url: echo.url } },
    policies: {
      echo: {
        version: '1',
        default: 'deny',
        tools: { echo: { limits: [{ counter: 'echo', window: 'second', max: 1_000_000, scope: 'grant' }] } },
      },
    },
    ...(o.cpuProfileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`] } : {}),
  });
  const clients: Record<Target, Client[]> = {
    direct: await connectClients(echo.url, 16),
    bare: await connectClients(bare.url, 16),
    airlock: await connectClients(airlock.mcpUrl, 16),
  };
  try {
    // Warm up every path (JIT, connection pools, Redis scripts) before measuring anything.
    for (const t of TARGETS) {
      const w = await closedLoop(clients[t], 1500);
      if (w.calls === 0) throw new Error(`allow path: ${t} answered no call: ${w.firstError}`);
    }
    const samples: Record<string, Record<Target, [number, number, number][]>> = {};
    const errors: Record<string, Record<Target, number>> = {};
    for (const c of [1, 16] as const) {
      const key = `c${c}`;
      samples[key] = { direct: [], bare: [], airlock: [] };
      errors[key] = { direct: 0, bare: 0, airlock: 0 };
      for (let rep = 0; rep < reps; rep++) {
        // Rotate the order each repetition so no target always runs right after another.
        const order = TARGETS.map((_, i) => TARGETS[(i + rep) % TARGETS.length]!);
        for (const t of order) {
          const r = await closedLoop(clients[t].slice(0, c), runMs);
          samples[key]![t].push([r.callsPerSec, quantile(r.latencies, 0.5), quantile(r.latencies, 0.99)]);
          errors[key]![t] += r.errors;
        }
      }
    }
    const figures = (key: string, t: Target): TargetFigures => {
      const s = samples[key]![t];
      return {
        callsPerSec: round(median(s.map((x) => x[0])), 0),
        p50Ms: round(median(s.map((x) => x[1])), 3),
        p99Ms: round(median(s.map((x) => x[2])), 3),
        reps: s.map(([a, b, c]) => [round(a, 0), round(b, 3), round(c, 3)]),
        errors: errors[key]![t],
      };
    };
    const conc = {
      c1: { direct: figures('c1', 'direct'), bare: figures('c1', 'bare'), airlock: figures('c1', 'airlock') },
      c16: { direct: figures('c16', 'direct'), bare: figures('c16', 'bare'), airlock: figures('c16', 'airlock') },
    };
    const ratios = {
      airlockVsDirectThroughputC1: round(conc.c1.airlock.callsPerSec / conc.c1.direct.callsPerSec, 3),
      airlockVsDirectThroughputC16: round(conc.c16.airlock.callsPerSec / conc.c16.direct.callsPerSec, 3),
      bareVsDirectThroughputC1: round(conc.c1.bare.callsPerSec / conc.c1.direct.callsPerSec, 3),
      bareVsDirectThroughputC16: round(conc.c16.bare.callsPerSec / conc.c16.direct.callsPerSec, 3),
      airlockVsBareThroughputC16: round(conc.c16.airlock.callsPerSec / conc.c16.bare.callsPerSec, 3),
      airlockAddedP50MsC1: round(conc.c1.airlock.p50Ms - conc.c1.direct.p50Ms, 3),
      bareAddedP50MsC1: round(conc.c1.bare.p50Ms - conc.c1.direct.p50Ms, 3),
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
          label: `${c} ${t}`,
          value: `${fmt(f.callsPerSec, 0)} calls/s  p50 ${fmt(f.p50Ms, 2)} ms  p99 ${fmt(f.p99Ms, 2)} ms${f.errors ? `  ${f.errors} errors` : ''}`,
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
    );
    const text = table('1. Allow path (echo tool over Streamable HTTP)', rows, [
      `medians of ${reps} interleaved ${runMs / 1000}s closed-loop runs per target, after a 1.5s warm-up each`,
      'clients, gateway/proxy, upstream and Redis share the same 2 cores: ratios compare runs under equal conditions',
    ]);
    return { result, text };
  } finally {
    await Promise.all(TARGETS.map((t) => closeClients(clients[t])));
    await airlock.terminate();
    await bare.stop();
    await echo.stop();
  }
}
