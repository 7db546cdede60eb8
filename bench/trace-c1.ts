// Counts what one allowed 2026-07-28 `tools/call` costs Airlock at concurrency 1, beside the floor proxy:
// p50 of direct, floor and Airlock in interleaved blocks (one run, so load affects all alike), the Redis
// commands per call (MONITOR), the gateway's CPU per call, and with `--strace` its system calls per call.
// Run: `npm run build --silent && node --import tsx bench/trace-c1.ts [calls per block] [--strace]`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, startRedis } from '../test/helpers/redis.js';
import { BENCH_TOKEN, modernCaller, resultText, type EchoCaller } from './mcp-load.js';
import {
  adopt,
  cpuMs,
  killAll,
  ROOT,
  spawnListening,
  startAirlockProcess,
  startModernEchoProcess,
  type BenchProcess,
} from './procs.js';
import { quantile, sleep } from './stats.js';

const perBlock = Number(process.argv[2] ?? 400);
const withStrace = process.argv.includes('--strace');
// `--seq FILE`: every system call of the gateway's threads during 20 calls, with times, into FILE.
const seqAt = process.argv.indexOf('--seq');
const seqFile = seqAt > 0 ? process.argv[seqAt + 1] : undefined;

/** The phase probe's medians since the last ask (bench/phase-probe.mjs). */
async function phases(proc: BenchProcess): Promise<Record<string, number>> {
  const line = proc.nextStderrLine(/^PHASES /, 10_000);
  proc.child.kill('SIGUSR2');
  return JSON.parse((await line).slice('PHASES '.length)) as Record<string, number>;
}

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
  // Both proxies carry the phase probe; it times each request's phases from the inside.
  const probe = ['--import', join(ROOT, 'bench', 'phase-probe.mjs')];
  const floorProc = await spawnListening(
    'floor-proxy',
    'bench/floor-proxy.ts',
    [String(await freePort()), echo.url],
    probe,
  );
  const floor = { ...floorProc, url: `http://127.0.0.1:${floorProc.port}/mcp` };
  process.env.PROBE_REDIS_PORT = String(redis.port);
  const gw = await startAirlockProcess({
    label: 'trace-c1',
    redisUrl: redis.url,
    prefix: 'bench-trace',
    servers: { echo: { url: echo.url } },
    policies: {
      echo: {
        version: '1',
        default: 'deny',
        tools: { echo: { limits: [{ counter: 'echo', window: 'second', max: 1_000_000, scope: 'grant' }] } },
      },
    },
    agents: { bench: BENCH_TOKEN },
    nodeArgs: probe,
  });
  delete process.env.PROBE_REDIS_PORT;
  const callers: Record<string, EchoCaller> = {
    direct: modernCaller(echo.url),
    floor: modernCaller(floor.url),
    airlock: modernCaller(gw.mcpUrl),
  };
  for (const c of Object.values(callers)) await block(c, 200); // warm-up
  await phases(floor);
  await phases(gw);
  const lat: Record<string, number[]> = { direct: [], floor: [], airlock: [] };
  let gwCpu = 0;
  for (let round = 0; round < 5; round++) {
    for (const [name, c] of Object.entries(callers)) {
      const cpu0 = name === 'airlock' ? cpuMs(gw.pid) : 0;
      lat[name]!.push(...(await block(c, perBlock)));
      if (name === 'airlock') gwCpu += cpuMs(gw.pid) - cpu0;
    }
  }
  const p50 = (n: string) => quantile(lat[n]!, 0.5);
  console.log(
    `c=1 p50: direct ${p50('direct').toFixed(3)} ms, floor +${(p50('floor') - p50('direct')).toFixed(3)} ms, ` +
      `airlock +${(p50('airlock') - p50('direct')).toFixed(3)} ms (airlock − floor ${(p50('airlock') - p50('floor')).toFixed(3)} ms); ` +
      `gateway cpu ${(gwCpu / (5 * perBlock)).toFixed(3)} ms/call`,
  );

  for (const [name, proc] of [
    ['floor', floor],
    ['airlock', gw],
  ] as const) {
    const f = await phases(proc);
    const fields = Object.entries(f)
      .map(([k, v]) => `${k} ${k === 'calls' ? v : (v as number).toFixed(3)}`)
      .join(', ');
    console.log(`${name} phases (median ms inside the proxy): ${fields}`);
  }

  // Redis commands per allowed call, by command name.
  const monitor = spawn('redis-cli', ['-u', redis.url, 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  adopt(monitor);
  let text = '';
  monitor.stdout.on('data', (d: Buffer) => (text += d.toString()));
  await sleep(300);
  const n = 200;
  const from = text.length;
  await block(callers.airlock!, n);
  await sleep(300);
  monitor.kill();
  const counts = new Map<string, number>();
  for (const line of text.slice(from).split('\n')) {
    const m = /^\d+\.\d+ \[[^\]]*\] "([^"]+)"/.exec(line);
    if (m) counts.set(m[1]!.toLowerCase(), (counts.get(m[1]!.toLowerCase()) ?? 0) + 1);
  }
  console.log(
    'redis commands per call:',
    [...counts].map(([k, v]) => `${k} ${(v / n).toFixed(2)}`).join(', ') || 'none',
  );

  if (withStrace) {
    for (const [name, pid] of [
      ['floor', floor.pid],
      ['airlock', gw.pid],
    ] as const) {
      const st = spawn('strace', ['-f', '-c', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let out = '';
      st.stderr.on('data', (d: Buffer) => (out += d.toString()));
      await sleep(500);
      await block(callers[name]!, n);
      const done = new Promise((r) => st.once('exit', r));
      st.kill('SIGINT');
      await done;
      console.log(`${name} syscalls per call:`);
      for (const line of out.split('\n')) {
        const f = line.trim().split(/\s+/);
        const calls = Number(f[3]);
        const nameCol = f[f.length - 1];
        if (f.length >= 5 && Number.isFinite(calls) && calls > 0 && nameCol !== 'total') {
          console.log(`  ${nameCol} ${(calls / n).toFixed(2)}`);
        }
      }
    }
  }
  if (seqFile) {
    const st = spawn('strace', ['-f', '-ttt', '-s', '80', '-o', seqFile, '-p', String(gw.pid)], {
      stdio: 'ignore',
    });
    await sleep(500);
    await block(callers.airlock!, 20);
    await sleep(100);
    const done = new Promise((r) => st.once('exit', r));
    st.kill('SIGINT');
    await done;
    console.log(`system calls of 20 calls written to ${seqFile}`);
  }
  await gw.terminate();
  await floor.stop();
  await echo.stop();
} finally {
  await redis.stop();
  killAll();
}
