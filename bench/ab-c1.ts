// Compares builds of Airlock on the allow path in one run, so that load from elsewhere affects all alike:
// direct, the floor proxy and each build's gateway, 2026-07-28 client, HTTP upstream, in interleaved
// blocks — c=1 (p50 and the gateway's CPU per call), then c=16 (calls/s and CPU per call).
// Run: `npm run build --silent && node --import tsx bench/ab-c1.ts base=/path/to/other/dist new=dist [calls] [c16 seconds] [--era 2025]`
// (a copy of another commit's `dist` needs `node_modules` and `package.json` reachable from it).
import { resolve } from 'node:path';
import { startRedis } from '../test/helpers/redis.js';
import {
  BENCH_TOKEN,
  closeClients,
  closedLoop,
  connectClients,
  modernCaller,
  resultText,
  sessionCaller,
  type EchoCaller,
} from './mcp-load.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  adopt,
  cpuMs,
  killAll,
  startAirlockProcess,
  startFloorProxyProcess,
  startEchoProcess,
  startModernEchoProcess,
  type AirlockProcess,
} from './procs.js';
import { quantile } from './stats.js';
import { readdirSync, readFileSync } from 'node:fs';

/** Voluntary context switches of every thread of a process: how often it went to sleep and was woken. */
function sleeps(pid: number): number {
  let n = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      n += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return n;
}

const builds = process.argv.slice(2).filter((a) => a.includes('='));
// `--era 2025`: SDK session clients against a 2025 upstream instead of stateless 2026-07-28 calls.
const legacy = process.argv.includes('2025');
const [perBlock = 300, c16Seconds = 3] = process.argv
  .slice(2)
  .filter((a) => !a.includes('=') && !a.startsWith('--') && a !== '2025')
  .map(Number);
const sessions: Client[] = [];
/** `n` callers of the era's kind on `url`. */
async function callers(url: string, n: number): Promise<EchoCaller[]> {
  if (!legacy) return Array.from({ length: n }, () => modernCaller(url));
  const clients = await connectClients(url, n);
  sessions.push(...clients);
  return clients.map(sessionCaller);
}
if (!builds.length)
  throw new Error('usage: ab-c1.ts name=dist-dir [name=dist-dir ...] [calls] [c16 seconds]');

async function block(call: EchoCaller, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await call();
    if (r.isError || resultText(r) !== 'x') throw new Error(`bad answer: ${resultText(r)}`);
    out.push(performance.now() - t0);
  }
  return out;
}

const redis = await startRedis();
adopt(redis.process);
try {
  const echo = legacy ? await startEchoProcess() : await startModernEchoProcess();
  const floor = await startFloorProxyProcess(echo.url);
  const gateways: [string, AirlockProcess][] = [];
  for (const b of builds) {
    const [name, dir] = b.split('=') as [string, string];
    gateways.push([
      name,
      await startAirlockProcess({
        label: `ab-${name}`,
        redisUrl: redis.url,
        prefix: `bench-ab-${name}`,
        servers: { echo: { url: echo.url } },
        policies: {
          echo: {
            version: '1',
            default: 'deny',
            tools: {
              echo: { limits: [{ counter: 'echo', window: 'second', max: 1_000_000, scope: 'grant' }] },
            },
          },
        },
        agents: { bench: BENCH_TOKEN },
        dist: resolve(dir),
      }),
    ]);
  }
  const paths: [string, string, number | undefined][] = [
    ['direct', echo.url, undefined],
    ['floor', floor.url, floor.pid],
    ...gateways.map(([n, g]) => [n, g.mcpUrl, g.pid] as [string, string, number]),
  ];
  const lat = new Map<string, number[]>(paths.map(([n]) => [n, []]));
  const cpu1 = new Map<string, number>();
  const sleeps1 = new Map<string, number>();
  const single = new Map<string, EchoCaller>();
  for (const [name, url] of paths) single.set(name, (await callers(url, 1))[0]!);
  for (const [name] of paths) await block(single.get(name)!, 200); // warm-up
  for (let round = 0; round < 5; round++) {
    for (const [name, , pid] of round % 2 ? [...paths].reverse() : paths) {
      const c0 = pid ? cpuMs(pid) : 0;
      const s0 = pid ? sleeps(pid) : 0;
      lat.get(name)!.push(...(await block(single.get(name)!, perBlock)));
      if (pid) cpu1.set(name, (cpu1.get(name) ?? 0) + cpuMs(pid) - c0);
      if (pid) sleeps1.set(name, (sleeps1.get(name) ?? 0) + sleeps(pid) - s0);
    }
  }
  const p50 = (n: string) => quantile(lat.get(n)!, 0.5);
  console.log(
    `${legacy ? '2025 session' : '2026-07-28'} client, c=1, ${5 * perBlock} calls each: direct p50 ${p50('direct').toFixed(3)} ms`,
  );
  for (const [name] of paths.slice(1)) {
    console.log(
      `  ${name.padEnd(8)} +${(p50(name) - p50('direct')).toFixed(3)} ms over direct, ` +
        `${(p50(name) - p50('floor')).toFixed(3)} ms over the floor, cpu ${(cpu1.get(name)! / (5 * perBlock)).toFixed(3)} ms/call, ` +
        `${(sleeps1.get(name)! / (5 * perBlock)).toFixed(1)} thread sleeps/call`,
    );
  }
  const many = new Map<string, EchoCaller[]>();
  for (const [name, url] of paths) many.set(name, await callers(url, 16));
  const rate = new Map<string, number[]>();
  const cpu16 = new Map<string, [number, number]>();
  for (let round = 0; round < 2; round++) {
    for (const [name, , pid] of round % 2 ? [...paths].reverse() : paths) {
      await closedLoop(many.get(name)!, 500);
      const c0 = pid ? cpuMs(pid) : 0;
      const r = await closedLoop(many.get(name)!, c16Seconds * 1000);
      if (r.errors) throw new Error(`${name}: ${r.errors} errors, first: ${r.firstError}`);
      rate.set(name, [...(rate.get(name) ?? []), r.callsPerSec]);
      if (pid) {
        const [c, n] = cpu16.get(name) ?? [0, 0];
        cpu16.set(name, [c + cpuMs(pid) - c0, n + r.calls]);
      }
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log('c=16, calls/s (two runs):');
  for (const [name, , pid] of paths) {
    const r = rate.get(name)!;
    const cpu = pid ? cpu16.get(name)! : undefined;
    console.log(
      `  ${name.padEnd(8)} ${r.map((x) => Math.round(x)).join(' / ')}, × floor ${(mean(r) / mean(rate.get('floor')!)).toFixed(2)}` +
        (cpu ? `, cpu ${(cpu[0] / cpu[1]).toFixed(3)} ms/call` : ''),
    );
  }
  await closeClients(sessions);
  for (const [, g] of gateways) await g.terminate();
  await floor.stop();
  await echo.stop();
} finally {
  await redis.stop();
  killAll();
}
