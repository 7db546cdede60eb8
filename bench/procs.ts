// Child processes of the benchmark (echo upstream, bare proxy, Airlock gateways) and their cleanup.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { freePort } from '../test/helpers/redis.js';
import { sleep } from './stats.js';

/** Repository root. */
export const ROOT = resolve(import.meta.dirname, '..');

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Kills every child process the bench started (SIGKILL) and removes its temp dirs; safe to call twice. */
export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.once('exit', killAll);

/** Registers a child started elsewhere (e.g. a redis-server from startRedis) so {@link killAll} ends it too. */
export function adopt(child: ChildProcess): void {
  children.add(child);
}

/** A fresh temp dir under $TMPDIR, removed by {@link killAll}. */
export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `airlock-bench-${name}-`));
  tempDirs.add(dir);
  return dir;
}

/** A child process the bench started. */
export interface BenchProcess {
  pid: number;
  child: ChildProcess;
  /** The last lines the child wrote to stderr, for error messages. */
  stderrTail(): string;
  /** Resolves with the next stderr line matching `re` (rejects after `timeoutMs`). */
  nextStderrLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Kills the child (SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
}

function track(child: ChildProcess, label: string): BenchProcess {
  children.add(child);
  const tail: string[] = [];
  const watchers = new Set<(line: string) => void>();
  if (child.stderr) {
    createInterface({ input: child.stderr }).on('line', (line) => {
      for (const w of watchers) w(line);
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${label}] ${line}\n`);
    });
  }
  return {
    pid: child.pid!,
    child,
    stderrTail: () => tail.join('\n'),
    nextStderrLine: (re, timeoutMs = 30_000) =>
      new Promise((resolveLine, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(watch);
          reject(new Error(`${label}: no stderr line matching ${re} within ${timeoutMs} ms`));
        }, timeoutMs);
        const watch = (line: string) => {
          if (!re.test(line)) return;
          clearTimeout(timer);
          watchers.delete(watch);
          resolveLine(line);
        };
        watchers.add(watch);
      }),
    stop: async () => {
      children.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs `node --import tsx <script> ...args` and resolves once it prints `listening PORT`. */
export async function spawnListening(
  label: string,
  script: string,
  args: string[],
  nodeArgs: string[] = [],
): Promise<BenchProcess & { port: number }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child, label);
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label} did not start within 30s:\n${proc.stderrTail()}`)),
      30_000,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code}:\n${proc.stderrTail()}`));
    });
  });
  return { ...proc, port };
}

/** Starts the echo MCP upstream (bench/echo-upstream.ts) in its own process. */
export async function startEchoProcess(): Promise<BenchProcess & { url: string }> {
  const p = await spawnListening('echo', 'bench/echo-upstream.ts', [String(await freePort())]);
  return { ...p, url: `http://127.0.0.1:${p.port}/mcp` };
}

/** Starts the 2026-07-28-only echo upstream (bench/echo-modern.ts, SDK v2) in its own process. */
export async function startModernEchoProcess(): Promise<BenchProcess & { url: string }> {
  const p = await spawnListening('echo-modern', 'bench/echo-modern.ts', [String(await freePort())]);
  return { ...p, url: `http://127.0.0.1:${p.port}/mcp` };
}

/** Starts the raw Node proxy floor (bench/floor-proxy.ts) in front of `upstreamUrl`. */
export async function startFloorProxyProcess(upstreamUrl: string): Promise<BenchProcess & { url: string }> {
  const p = await spawnListening('floor-proxy', 'bench/floor-proxy.ts', [
    String(await freePort()),
    upstreamUrl,
  ]);
  return { ...p, url: `http://127.0.0.1:${p.port}/mcp` };
}

/** The `servers` entry that makes Airlock spawn the echo upstream over stdio (bench/echo-stdio.ts). */
export function stdioEchoServer(): Record<string, unknown> {
  return {
    command: process.execPath,
    args: ['--import', 'tsx', join(ROOT, 'bench', 'echo-stdio.ts')],
    cwd: ROOT,
  };
}

/** Starts the bare SDK pass-through proxy (bench/bare-proxy.ts) in front of `upstreamUrl`. */
export async function startBareProxyProcess(
  upstreamUrl: string,
  nodeArgs: string[] = [],
): Promise<BenchProcess & { url: string }> {
  const p = await spawnListening(
    'bare-proxy',
    'bench/bare-proxy.ts',
    [String(await freePort()), upstreamUrl],
    nodeArgs,
  );
  return { ...p, url: `http://127.0.0.1:${p.port}/mcp` };
}

/** Options for {@link startAirlockProcess}. */
export interface AirlockProcessOptions {
  label: string;
  redisUrl: string;
  prefix: string;
  /** `servers` of the config. */
  servers: Record<string, unknown>;
  /** Policy documents by server name. */
  policies: Record<string, unknown>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Agent tokens of the config (`id` → token); none means the anonymous loopback agent. */
  agents?: Record<string, string>;
  /** Another build's `dist` directory, to compare two builds in one run. @defaultValue this tree's `dist` */
  dist?: string;
}

/** A running `airlock serve` child. */
export interface AirlockProcess extends BenchProcess {
  /** Base URL, e.g. `http://127.0.0.1:7421`. */
  url: string;
  /** Its MCP endpoint. */
  mcpUrl: string;
  /** Stops it with SIGTERM (graceful, lets `--cpu-prof` write its profile), then SIGKILL after 5s. */
  terminate(): Promise<void>;
}

/** Writes a config and policies to a temp dir and runs the compiled `dist/cli/main.js serve` until /readyz says ready. */
export async function startAirlockProcess(o: AirlockProcessOptions): Promise<AirlockProcess> {
  const dir = tempDir(o.label);
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  for (const [server, doc] of Object.entries(o.policies)) {
    writeFileSync(join(policies, `${server}.json`), JSON.stringify(doc, null, 2));
  }
  const port = await freePort();
  const config = {
    listen: { host: '127.0.0.1', port },
    dataDir: join(dir, 'data'),
    redis: { url: o.redisUrl, prefix: o.prefix },
    policies,
    servers: o.servers,
    ...(o.agents ? { agents: Object.entries(o.agents).map(([id, token]) => ({ id, token })) } : {}),
    audit: { file: join(dir, 'data', 'audit.jsonl') },
    log: { level: 'warn' },
  };
  const file = join(dir, 'airlock.config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const env = { ...process.env };
  delete env.AIRLOCK_LOG_LEVEL;
  const child = spawn(
    process.execPath,
    [...(o.nodeArgs ?? []), join(o.dist ?? join(ROOT, 'dist'), 'cli', 'main.js'), 'serve', '--config', file],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.resume();
  const proc = track(child, o.label);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`airlock (${o.label}) exited with ${child.exitCode}:\n${proc.stderrTail()}`);
    const ok = await fetch(`${url}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline)
      throw new Error(`airlock (${o.label}) not ready within 30s:\n${proc.stderrTail()}`);
    await sleep(50);
  }
  return {
    ...proc,
    url,
    mcpUrl: `${url}/mcp`,
    terminate: async () => {
      children.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Node flags that preload bench/gc-probe.mjs (full GC + memoryUsage on SIGUSR2) into a gateway. */
export const GC_PROBE_ARGS = [
  '--expose-gc',
  '--import',
  pathToFileURL(join(ROOT, 'bench', 'gc-probe.mjs')).href,
];

/** Asks a gateway started with {@link GC_PROBE_ARGS} for a full GC; resolves with its memoryUsage() afterwards. */
export async function gcProbe(proc: BenchProcess): Promise<NodeJS.MemoryUsage> {
  const line = proc.nextStderrLine(/^GCPROBE /, 60_000);
  proc.child.kill('SIGUSR2');
  return JSON.parse((await line).slice('GCPROBE '.length)) as NodeJS.MemoryUsage;
}

/** CPU time (user + system) a process has used so far, in ms, from `/proc/<pid>/stat` (10 ms resolution). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
  return ticks * (1000 / CLOCK_TICKS);
}

/** Kernel clock ticks per second (`getconf CLK_TCK`); 100 on Linux. */
const CLOCK_TICKS = 100;

/** Resident set size of a process in KiB, from `/proc/<pid>/status` (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}
