// Profiles one Airlock gateway on the allow path: starts an echo upstream and `airlock serve` with
// `--cpu-prof`, runs closed-loop echo calls for a while, and stops the gateway so it writes its profile.
// Run: `node --import tsx bench/profile-allow.ts [2025|2026-07-28] [seconds] [concurrency] [dir]`.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { startRedis } from '../test/helpers/redis.js';
import {
  BENCH_TOKEN,
  closeClients,
  closedLoop,
  connectClients,
  modernCaller,
  sessionCaller,
} from './mcp-load.js';
import {
  adopt,
  cpuMs,
  killAll,
  startAirlockProcess,
  startEchoProcess,
  startModernEchoProcess,
} from './procs.js';

const era = process.argv[2] ?? '2025';
const seconds = Number(process.argv[3] ?? 10);
const concurrency = Number(process.argv[4] ?? 16);
const dir = resolve(process.argv[5] ?? 'bench/results/profile');
mkdirSync(dir, { recursive: true });
const redis = await startRedis();
adopt(redis.process);
try {
  const echo = era === '2025' ? await startEchoProcess() : await startModernEchoProcess();
  const gw = await startAirlockProcess({
    label: 'profile',
    redisUrl: redis.url,
    prefix: 'bench-profile',
    servers: { echo: { url: echo.url } },
    policies: {
      echo: {
        version: '1',
        default: 'deny',
        tools: { echo: { limits: [{ counter: 'echo', window: 'second', max: 1_000_000, scope: 'grant' }] } },
      },
    },
    agents: { bench: BENCH_TOKEN },
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
  });
  const clients = era === '2025' ? await connectClients(gw.mcpUrl, concurrency) : [];
  const callers =
    era === '2025'
      ? clients.map(sessionCaller)
      : Array.from({ length: concurrency }, () => modernCaller(gw.mcpUrl));
  await closedLoop(callers, 1000);
  const cpu0 = cpuMs(gw.pid);
  const r = await closedLoop(callers, seconds * 1000);
  const cpu = cpuMs(gw.pid) - cpu0;
  console.log(
    `${era} c=${concurrency}: ${Math.round(r.callsPerSec)} calls/s, ${r.errors} errors, gateway cpu ${(cpu / r.calls).toFixed(3)} ms/call${r.firstError ? `, first error: ${r.firstError}` : ''}`,
  );
  await closeClients(clients);
  await gw.terminate();
  await echo.stop();
  console.log(`profile written to ${dir}`);
} finally {
  await redis.stop();
  killAll();
}
