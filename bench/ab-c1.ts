// Compares builds of Airlock on the allow path in one run, so that load from elsewhere affects all alike:
// direct, the floor proxy and each build's gateway, 2026-07-28 client, HTTP upstream, in interleaved
// blocks — c=1 (p50 and the gateway's CPU per call), then c=16 (calls/s and CPU per call).
// Run: `npm run build --silent && node --import tsx bench/ab-c1.ts base=/path/to/other/dist new=dist [calls] [c16 seconds]`
// (a copy of another commit's `dist` needs `node_modules` and `package.json` reachable from it).
import { resolve } from 'node:path';
import { startRedis } from '../test/helpers/redis.js';
import { BENCH_TOKEN, closedLoop, modernCaller, resultText, type EchoCaller } from './mcp-load.js';
import {
  adopt,
  cpuMs,
  killAll,
  startAirlockProcess,
  startFloorProxyProcess,
  startModernEchoProcess,
  type AirlockProcess,
} from './procs.js';
import { quantile } from './stats.js';

const builds = process.argv.slice(2).filter((a) => a.includes('='));
const [perBlock = 300, c16Seconds = 3] = process.argv
  .slice(2)
  .filter((a) => !a.includes('='))
  .map(Number);
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
  const echo = await startModernEchoProcess();
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
  for (const [, url] of paths) await block(modernCaller(url), 200); // warm-up
  for (let round = 0; round < 5; round++) {
    for (const [name, url, pid] of round % 2 ? [...paths].reverse() : paths) {
      const c0 = pid ? cpuMs(pid) : 0;
      lat.get(name)!.push(...(await block(modernCaller(url), perBlock)));
      if (pid) cpu1.set(name, (cpu1.get(name) ?? 0) + cpuMs(pid) - c0);
    }
  }
  const p50 = (n: string) => quantile(lat.get(n)!, 0.5);
  console.log(`c=1, ${5 * perBlock} calls each: direct p50 ${p50('direct').toFixed(3)} ms`);
  for (const [name] of paths.slice(1)) {
    console.log(
      `  ${name.padEnd(8)} +${(p50(name) - p50('direct')).toFixed(3)} ms over direct, ` +
        `${(p50(name) - p50('floor')).toFixed(3)} ms over the floor, cpu ${(cpu1.get(name)! / (5 * perBlock)).toFixed(3)} ms/call`,
    );
  }
  const rate = new Map<string, number[]>();
  const cpu16 = new Map<string, [number, number]>();
  for (let round = 0; round < 2; round++) {
    for (const [name, url, pid] of round % 2 ? [...paths].reverse() : paths) {
      const callers = Array.from({ length: 16 }, () => modernCaller(url));
      await closedLoop(callers, 500);
      const c0 = pid ? cpuMs(pid) : 0;
      const r = await closedLoop(callers, c16Seconds * 1000);
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
  for (const [, g] of gateways) await g.terminate();
  await floor.stop();
  await echo.stop();
} finally {
  await redis.stop();
  killAll();
}
