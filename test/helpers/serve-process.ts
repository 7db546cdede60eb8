import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ROOT, labServerCommand } from './airlock-harness.js';
import { freePort } from './redis.js';

/** One `airlock serve` process. */
export interface ServeProcess {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  connect(token?: string): Promise<Client>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Writes a config + policies dir shared by several replicas. */
export function writeDeployment(options: {
  redisUrl: string;
  prefix: string;
  policies: Record<string, unknown>;
  config?: Record<string, unknown>;
}): { dir: string; configFor(port: number): string } {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-e2e-'));
  mkdirSync(join(dir, 'policies'));
  for (const [server, doc] of Object.entries(options.policies)) {
    writeFileSync(join(dir, 'policies', `${server}.json`), JSON.stringify(doc));
  }
  return {
    dir,
    configFor(port: number) {
      const file = join(dir, `airlock.${port}.config.json`);
      writeFileSync(
        file,
        JSON.stringify({
          listen: { host: '127.0.0.1', port },
          dataDir: join(dir, `data-${port}`),
          redis: { url: options.redisUrl, prefix: options.prefix },
          policies: join(dir, 'policies'),
          servers: { lab: labServerCommand() },
          ...options.config,
        }),
      );
      return file;
    },
  };
}

/**
 * Starts `node dist/cli/main.js serve --config FILE` and waits until it prints its banner. `port` restarts
 * a replica where it was (a balancer's fixed backend); by default a free port is picked.
 */
export async function startServe(
  configFor: (port: number) => string,
  options: { port?: number } = {},
): Promise<ServeProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(
    process.execPath,
    [join(ROOT, 'dist', 'cli', 'main.js'), 'serve', '--config', configFor(port)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AIRLOCK_LOG_LEVEL: 'warn' },
    },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Airlock is running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`airlock serve exited with ${code}: ${err}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const clients: Client[] = [];
  return {
    url,
    child,
    stdout: () => out,
    stderr: () => err,
    connect: async (token) => {
      const c = new Client({ name: 'e2e-agent', version: '1' });
      await c.connect(
        new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
          requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : {},
        }),
      );
      clients.push(c);
      return c;
    },
    stop: async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
