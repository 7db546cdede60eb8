import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A redis-server child started for one test file. */
export interface TestRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a throwaway redis-server on a free port and waits until it answers PING. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const url = `redis://127.0.0.1:${port}`;
  // redis-server logs this line once it accepts connections: wait on it rather than retrying connects.
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`redis-server on ${port} exited with ${code}: ${out}`));
    };
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!out.includes('Ready to accept connections')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolve();
    };
    const timer = setTimeout(
      () => reject(new Error(`redis-server on ${port} did not start: ${out}`)),
      10_000,
    );
    child.once('exit', onExit);
    child.stdout!.on('data', onData);
  });
  return {
    url,
    port,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A fresh key prefix so tests sharing one Redis never see each other's keys. */
export function freshPrefix(name = 't'): string {
  return `${name}-${randomBytes(4).toString('hex')}`;
}
