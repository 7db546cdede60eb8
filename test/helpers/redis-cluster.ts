import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './redis.js';

/** A one-node Redis Cluster owning all 16384 slots, started for one test file. */
export interface TestRedisCluster {
  /** Seed URL for createRedis({ cluster: true }). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await portIsFree(port + 10_000))) return port;
  }
}

/**
 * Starts `redis-server --cluster-enabled yes` on a free port, assigns it every slot
 * (CLUSTER ADDSLOTSRANGE 0 16383) and waits until CLUSTER INFO reports `cluster_state:ok`. A one-node
 * cluster still enforces slots, so a multi-key script over keys in different slots fails with CROSSSLOT.
 */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const port = await freeClusterPort();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-cluster-'));
  // One flag and its value per line reads like a redis.conf.
  // prettier-ignore
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--cluster-enabled', 'yes',
    '--cluster-config-file', join(dir, 'nodes.conf'),
    // A lone node does not know its own address until another node tells it; announce it.
    '--cluster-announce-ip', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--maxmemory-policy', 'noeviction',
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const admin = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
  });
  admin.on('error', () => {});
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        if (admin.status === 'wait') await admin.connect();
        await admin.ping();
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`cluster node on ${port} did not start`);
        await delay(50);
      }
    }
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    // Slot assignment is applied by the node's cluster cron, so cluster_state flips to ok shortly after.
    for (;;) {
      const info = String(await admin.call('CLUSTER', 'INFO'));
      if (info.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error(`cluster on ${port} never reached cluster_state:ok`);
      await delay(50);
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    admin.disconnect();
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}
