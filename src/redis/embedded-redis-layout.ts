import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isProcessAlive } from '../host/process-alive.js';

/** Where the embedded Redis keeps its files: the on-disk contract between its users and its keeper. */
export interface EmbeddedRedisLayout {
  /** `<dataDir>/redis`: Redis's working directory (AOF files live here). */
  dir: string;
  /** The unix socket Redis listens on; it opens no TCP port. */
  socketPath: string;
  /** O_EXCL lock serialising start, attach and stop. */
  lockPath: string;
  /** One file per user: `<pid>-<random>.lease`. */
  leasesDir: string;
  /** Pid of the keeper process that owns redis-server. */
  keeperPidPath: string;
  redisLogPath: string;
  keeperLogPath: string;
}

/** The keeper's command-line argument, as JSON. */
/**
 * Age after which the start/stop lock is taken over even though its holder's pid looks alive (a
 * reused pid, or a holder that died before writing it). A live holder keeps the lock for one start
 * or stop, far less than this.
 */
export const LOCK_STALE_MS = 10 * 60_000;

/** What startEmbeddedRedis passes to the keeper process, as one JSON argument. */
export interface KeeperArgs {
  dataDir: string;
  /** Absolute path of the redis-server binary. */
  redisServer: string;
  /** How often leases are checked for dead holders; lease removals are also watched. */
  pollMs: number;
}

/** The file layout under a data directory (made absolute, so URLs built from it work from any cwd). */
export function embeddedRedisLayout(dataDir: string): EmbeddedRedisLayout {
  const dir = join(resolve(dataDir), 'redis');
  return {
    dir,
    socketPath: join(dir, 'redis.sock'),
    lockPath: join(dir, 'lock'),
    leasesDir: join(dir, 'leases'),
    keeperPidPath: join(dir, 'keeper.pid'),
    redisLogPath: join(dir, 'redis.log'),
    keeperLogPath: join(dir, 'keeper.log'),
  };
}

/** Creates the directories, private to this user since the socket grants full access to the data. */
export function ensureLayout(layout: EmbeddedRedisLayout): void {
  mkdirSync(layout.leasesDir, { recursive: true, mode: 0o700 });
}

/** Records that this process uses the server; returns the lease file to remove on release. */
export function writeLease(layout: EmbeddedRedisLayout): string {
  const path = join(layout.leasesDir, `${process.pid}-${randomBytes(4).toString('hex')}.lease`);
  writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  return path;
}

/** Removes a lease file; already gone is fine. */
export function removeLease(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Leases whose process is still alive; leases of dead processes (SIGKILL, crash) are deleted on sight. */
export function liveLeases(layout: EmbeddedRedisLayout): string[] {
  let names: string[];
  try {
    names = readdirSync(layout.leasesDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const live: string[] = [];
  for (const name of names) {
    if (!name.endsWith('.lease')) continue;
    const path = join(layout.leasesDir, name);
    if (isProcessAlive(Number.parseInt(name, 10))) live.push(path);
    else removeLease(path);
  }
  return live;
}

/** The keeper's pid, when a keeper.pid file exists. */
export function readKeeperPid(layout: EmbeddedRedisLayout): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(layout.keeperPidPath, 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True while the keeper recorded in keeper.pid is running. */
export function keeperAlive(layout: EmbeddedRedisLayout): boolean {
  const pid = readKeeperPid(layout);
  return pid !== undefined && isProcessAlive(pid);
}
