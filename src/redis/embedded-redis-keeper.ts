/**
 * The keeper of an embedded Redis: a small detached process that owns redis-server as its child and
 * stops it once no live process holds a lease (see embedded-redis.ts for the whole design). It is
 * run as a script by startEmbeddedRedis with one JSON argument, and writes its log to keeper.log.
 */
import { spawn } from 'node:child_process';
import { unlinkSync, watch } from 'node:fs';
import { createLogger } from '../log.js';
import {
  embeddedRedisLayout,
  liveLeases,
  LOCK_STALE_MS,
  readKeeperPid,
  type EmbeddedRedisLayout,
  type KeeperArgs,
} from './embedded-redis-layout.js';
import { tryAcquireFileLock, type HeldLock } from '../host/file-lock.js';

/** redis-server flags: unix socket only, AOF every second, never evict (approvals must not vanish). */
function redisServerArgs(layout: EmbeddedRedisLayout): string[] {
  // One flag and its value per line reads like a redis.conf.
  // prettier-ignore
  return [
    '--port', '0',
    '--unixsocket', layout.socketPath,
    '--unixsocketperm', '700',
    '--dir', layout.dir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--logfile', layout.redisLogPath,
    '--daemonize', 'no',
  ];
}

function main(): void {
  const args = JSON.parse(process.argv[2] ?? '') as KeeperArgs;
  const layout = embeddedRedisLayout(args.dataDir);
  const logger = createLogger('info').child({ keeper: layout.dir });
  // Not detached: redis-server shares the keeper's own process group, which is not the terminal's,
  // so a Ctrl-C aimed at one Airlock process never reaches the server others still use.
  const server = spawn(args.redisServer, redisServerArgs(layout), { stdio: 'ignore', cwd: layout.dir });
  let stopping = false;
  let sweeping = false;
  let lock: HeldLock | undefined;

  const finish = (code: number): void => {
    if (readKeeperPid(layout) === process.pid) {
      try {
        unlinkSync(layout.keeperPidPath);
      } catch {
        // Already gone; nothing to clean.
      }
    }
    void Promise.resolve(lock?.release())
      .catch((err: unknown) => logger.warn({ err: String(err) }, 'cannot release the lock'))
      .finally(() => process.exit(code));
  };
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, 'stopping redis-server');
    // SIGTERM makes redis-server shut down as on SHUTDOWN: the AOF is flushed and the socket removed.
    server.kill('SIGTERM');
  };
  const sweep = async (): Promise<void> => {
    if (stopping || sweeping || liveLeases(layout).length > 0) return;
    // The interval and the watcher both call this; one look at a time is enough.
    sweeping = true;
    try {
      // Users attach while holding the lock, so with it held no one can attach before the server stops.
      const held = await tryAcquireFileLock(layout.lockPath, { staleMs: LOCK_STALE_MS });
      if (!held) return;
      if (stopping || liveLeases(layout).length > 0) {
        await held.release();
        return;
      }
      lock = held;
      stop('no live users');
    } finally {
      sweeping = false;
    }
  };
  const sweepSoon = (): void => {
    sweep().catch((err: unknown) => logger.warn({ err: String(err) }, 'lease sweep failed'));
  };

  server.on('error', (err) => {
    logger.error({ err: err.message }, 'cannot run redis-server');
    finish(1);
  });
  server.on('exit', (code, signal) => {
    logger.info({ code, signal }, 'redis-server exited');
    finish(stopping ? 0 : 1);
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  setInterval(sweepSoon, args.pollMs);
  try {
    // Reacts to a release at once; the interval still catches holders that died without releasing.
    watch(layout.leasesDir, () => sweepSoon());
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'cannot watch leases; relying on polling');
  }
  logger.info({ redisPid: server.pid }, 'redis-server started');
}

main();
