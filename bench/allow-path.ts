// Section 1: the allow path. Closed-loop echo calls for two client eras — a 2025 session client (SDK
// Client over Streamable HTTP, initialize first) and a 2026-07-28 client (stateless enveloped POSTs) —
// direct to the upstream, through the raw Node proxy floor, through the bare SDK proxy (2025 only), and
// through Airlock (policy + rate limit in Redis, history, audit), with an HTTP and a stdio upstream.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  BENCH_TOKEN,
  closeClients,
  closedLoop,
  connectClients,
  modernCaller,
  sessionCaller,
  type EchoCaller,
} from './mcp-load.js';
import {
  cpuMs,
  startAirlockProcess,
  startBareProxyProcess,
  startEchoProcess,
  startFloorProxyProcess,
  startModernEchoProcess,
  stdioEchoServer,
  type AirlockProcess,
  type BenchProcess,
} from './procs.js';
import { fmt, median, quantile, round, table, type Row } from './stats.js';

/** Throughput and latency of one target at one concurrency (medians over repetitions). */
export interface TargetFigures {
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of the proxy/gateway process per call, ms (null for direct). */
  proxyCpuMsPerCall: number | null;
  /** CPU time of the upstream process per call, ms (null when Airlock spawned it over stdio). */
  upstreamCpuMsPerCall: number | null;
  /** calls/s ÷ direct's calls/s. */
  vsDirect: number;
  /** calls/s ÷ the floor's calls/s. */
  vsFloor: number;
  /** p50 − direct's p50, ms. */
  addedP50Ms: number;
  /** Per repetition: [calls/s, p50, p99]. */
  reps: [number, number, number][];
  errors: number;
}

/** The client eras measured. */
export const ERAS = ['2025', '2026-07-28'] as const;
/** One client era. */
export type Era = (typeof ERAS)[number];

/** One measured path. */
export type Target = 'direct' | 'floor' | 'bare' | 'airlock' | 'airlockStdio';

const TARGETS: Record<Era, readonly Target[]> = {
  '2025': ['direct', 'floor', 'bare', 'airlock', 'airlockStdio'],
  // The bare SDK v1 proxy cannot serve the stateless revision.
  '2026-07-28': ['direct', 'floor', 'airlock', 'airlockStdio'],
};

const LABELS: Record<Target, string> = {
  direct: 'direct',
  floor: 'raw node proxy (floor)',
  bare: 'bare SDK proxy',
  airlock: 'airlock, http upstream',
  airlockStdio: 'airlock, stdio upstream',
};

type Conc = 'c1' | 'c16';

/** What section 1 reports. */
export interface AllowPathResult {
  eras: Record<Era, Record<Conc, Partial<Record<Target, TargetFigures>>>>;
  targets: Record<Era, { airlockC16AtLeast80PctOfFloor: boolean; airlockAddsAtMostHalfMsP50C1: boolean }>;
  runMs: number;
  reps: number;
  cpuProfileDir?: string;
}

/** Options for {@link benchAllowPath}. */
export interface AllowPathOptions {
  redisUrl: string;
  /** Length of one measured run. @defaultValue 2000 */
  runMs?: number;
  /** Repetitions per target and concurrency (interleaved). @defaultValue 3 */
  reps?: number;
  /** When set, the HTTP-upstream gateways run with `--cpu-prof` and write their profiles to this directory. */
  cpuProfileDir?: string;
}

const echoPolicy = {
  version: '1',
  default: 'deny',
  tools: { echo: { limits: [{ counter: 'echo', window: 'second', max: 1_000_000, scope: 'grant' }] } },
};

/** Runs section 1 and returns its figures and its printed table. */
export async function benchAllowPath(
  o: AllowPathOptions,
): Promise<{ result: AllowPathResult; text: string }> {
  const runMs = o.runMs ?? 2000;
  const reps = o.reps ?? 3;
  const procs: BenchProcess[] = [];
  const gateways: AirlockProcess[] = [];
  const clients: Client[] = [];
  const prof = o.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`] : [];
  const airlock = async (label: string, server: Record<string, unknown>, nodeArgs: string[] = []) => {
    const g = await startAirlockProcess({
      label,
      redisUrl: o.redisUrl,
      prefix: `bench-${label}`,
      servers: { echo: server },
      policies: { echo: echoPolicy },
      agents: { bench: BENCH_TOKEN },
      nodeArgs,
    });
    gateways.push(g);
    return g;
  };
  try {
    const echo = await startEchoProcess();
    const modernEcho = await startModernEchoProcess();
    const floor = await startFloorProxyProcess(echo.url);
    const modernFloor = await startFloorProxyProcess(modernEcho.url);
    const bare = await startBareProxyProcess(echo.url);
    procs.push(echo, modernEcho, floor, modernFloor, bare);
    const a25 = await airlock('allow-2025', { url: echo.url }, prof);
    const aModern = await airlock('allow-modern', { url: modernEcho.url }, prof);
    const aStdio = await airlock('allow-stdio', stdioEchoServer());

    const sessions = async (url: string) => {
      const cs = await connectClients(url, 16);
      clients.push(...cs);
      return cs.map(sessionCaller);
    };
    const stateless = (url: string) => Array.from({ length: 16 }, () => modernCaller(url));
    // What each target runs, which process is its middle (CPU per call) and which its upstream.
    type Path = { callers: EchoCaller[]; middle?: number; upstream?: number };
    const paths: Record<Era, Partial<Record<Target, Path>>> = {
      '2025': {
        direct: { callers: await sessions(echo.url), upstream: echo.pid },
        floor: { callers: await sessions(floor.url), middle: floor.pid, upstream: echo.pid },
        bare: { callers: await sessions(bare.url), middle: bare.pid, upstream: echo.pid },
        airlock: { callers: await sessions(a25.mcpUrl), middle: a25.pid, upstream: echo.pid },
        airlockStdio: { callers: await sessions(aStdio.mcpUrl), middle: aStdio.pid },
      },
      '2026-07-28': {
        direct: { callers: stateless(modernEcho.url), upstream: modernEcho.pid },
        floor: { callers: stateless(modernFloor.url), middle: modernFloor.pid, upstream: modernEcho.pid },
        airlock: { callers: stateless(aModern.mcpUrl), middle: aModern.pid, upstream: modernEcho.pid },
        airlockStdio: { callers: stateless(aStdio.mcpUrl), middle: aStdio.pid },
      },
    };

    // Warm up every path (JIT, connection pools, Redis scripts) before measuring anything.
    for (const era of ERAS) {
      for (const t of TARGETS[era]) {
        const w = await closedLoop(paths[era][t]!.callers, 1000);
        if (w.calls === 0) throw new Error(`allow path: ${era} ${t} answered no call: ${w.firstError}`);
      }
    }
    type Sample = [number, number, number, number, number];
    const samples = {} as Record<Era, Record<Conc, Partial<Record<Target, Sample[]>>>>;
    const errors = {} as Record<Era, Record<Conc, Partial<Record<Target, number>>>>;
    for (const era of ERAS) {
      samples[era] = { c1: {}, c16: {} };
      errors[era] = { c1: {}, c16: {} };
      const list = TARGETS[era];
      for (const c of [1, 16] as const) {
        const key: Conc = c === 1 ? 'c1' : 'c16';
        for (let rep = 0; rep < reps; rep++) {
          // Rotate the order each repetition so no target always runs right after another.
          const order = list.map((_, i) => list[(i + rep) % list.length]!);
          for (const t of order) {
            const p = paths[era][t]!;
            const cpu0 = [p.middle ? cpuMs(p.middle) : 0, p.upstream ? cpuMs(p.upstream) : 0];
            const r = await closedLoop(p.callers.slice(0, c), runMs);
            const n = Math.max(1, r.calls + r.errors);
            (samples[era][key][t] ??= []).push([
              r.callsPerSec,
              quantile(r.latencies, 0.5),
              quantile(r.latencies, 0.99),
              p.middle ? (cpuMs(p.middle) - cpu0[0]!) / n : NaN,
              p.upstream ? (cpuMs(p.upstream) - cpu0[1]!) / n : NaN,
            ]);
            errors[era][key][t] = (errors[era][key][t] ?? 0) + r.errors;
          }
        }
      }
    }

    const eras = {} as AllowPathResult['eras'];
    const targets = {} as AllowPathResult['targets'];
    const rows: Row[] = [];
    for (const era of ERAS) {
      eras[era] = { c1: {}, c16: {} };
      for (const key of ['c1', 'c16'] as const) {
        const med = (t: Target, i: number) => median(samples[era][key][t]!.map((x) => x[i]!));
        for (const t of TARGETS[era]) {
          const s = samples[era][key][t]!;
          const cps = med(t, 0);
          const cpuOrNull = (v: number) => (Number.isNaN(v) ? null : round(v, 3));
          eras[era][key][t] = {
            callsPerSec: round(cps, 0),
            p50Ms: round(med(t, 1), 3),
            p99Ms: round(med(t, 2), 3),
            proxyCpuMsPerCall: cpuOrNull(med(t, 3)),
            upstreamCpuMsPerCall: cpuOrNull(med(t, 4)),
            vsDirect: round(cps / med('direct', 0), 3),
            vsFloor: round(cps / med('floor', 0), 3),
            addedP50Ms: round(med(t, 1) - med('direct', 1), 3),
            reps: s.map(([a, b, c]) => [round(a, 0), round(b, 3), round(c, 3)]),
            errors: errors[era][key][t] ?? 0,
          };
        }
      }
      const a16 = eras[era].c16.airlock!;
      const a1 = eras[era].c1.airlock!;
      targets[era] = {
        airlockC16AtLeast80PctOfFloor: a16.vsFloor >= 0.8,
        airlockAddsAtMostHalfMsP50C1: a1.addedP50Ms <= 0.5,
      };
      for (const key of ['c1', 'c16'] as const) {
        for (const t of TARGETS[era]) {
          const f = eras[era][key][t]!;
          const cpu =
            f.proxyCpuMsPerCall === null
              ? `upstream ${fmt(f.upstreamCpuMsPerCall ?? NaN, 3)}`
              : `proxy ${fmt(f.proxyCpuMsPerCall, 3)}`;
          rows.push({
            label: `${era} ${key} ${LABELS[t]}`,
            value: [
              `${fmt(f.callsPerSec, 0).padStart(5)}/s`,
              `p50 ${fmt(f.p50Ms, 2).padStart(5)} ms`,
              `p99 ${fmt(f.p99Ms, 2).padStart(6)} ms`,
              `x direct ${fmt(f.vsDirect, 2)}`,
              `x floor ${fmt(f.vsFloor, 2)}`,
              `+p50 ${fmt(f.addedP50Ms, 2).padStart(5)} ms`,
              `cpu/call ${cpu} ms`,
              ...(f.errors ? [`${f.errors} errors`] : []),
            ].join('  '),
          });
        }
      }
      rows.push(
        {
          label: `${era} c16 airlock / floor`,
          value: fmt(a16.vsFloor, 3),
          target: '>= 0.80',
          pass: targets[era].airlockC16AtLeast80PctOfFloor,
        },
        {
          label: `${era} c1 p50 added by airlock`,
          value: fmt(a1.addedP50Ms, 3, 'ms'),
          target: '<= 0.5 ms',
          pass: targets[era].airlockAddsAtMostHalfMsP50C1,
        },
      );
    }
    const result: AllowPathResult = {
      eras,
      targets,
      runMs,
      reps,
      ...(o.cpuProfileDir ? { cpuProfileDir: o.cpuProfileDir } : {}),
    };
    const notes = [
      `medians of ${reps} interleaved ${runMs / 1000}s closed-loop runs per target, after a 1s warm-up each`,
      '2025: SDK Client sessions (initialize first); 2026-07-28: stateless enveloped POSTs over fetch',
      'upstreams: 2025 echo = SDK v1 sessions with JSON answers; 2026-07-28 echo = SDK v2 createMcpHandler; stdio echo = SDK v1 over stdio (spawned by airlock)',
      'floor: node:http in, JSON.parse of every body, undici keep-alive pool out (bench/floor-proxy.ts)',
      'airlock: bearer token, policy with a rate limit counted in Redis, history and audit log on every call',
      "load generator, proxies, upstreams and Redis share the machine's cores: compare within one run",
      'cpu/call: user+system CPU of the proxy/gateway process (or, for direct, the upstream) per call',
    ];
    if (o.cpuProfileDir)
      notes.push(`CPU profiles of the HTTP-upstream gateways written to ${o.cpuProfileDir}`);
    return { result, text: table('1. Allow path (echo tool)', rows, notes) };
  } finally {
    await closeClients(clients);
    for (const g of gateways) await g.terminate();
    for (const p of procs) await p.stop();
  }
}
