/**
 * Embedded Redis: with no `redis.url`, Airlock runs `redis-server` itself, on a unix socket in
 * `<dataDir>/redis/` (no TCP port, socket mode 700), AOF on with `appendfsync everysec`,
 * `maxmemory-policy noeviction`. Every process using the same dataDir (`airlock serve`, any number of
 * `airlock stdio`) shares one server.
 *
 * Design, and why:
 * - Users hold leases: one file `leases/<pid>-<random>.lease` each. A lease counts only while its pid
 *   is alive (`kill(pid, 0)`), so a user killed with SIGKILL stops counting the moment it dies; no
 *   heartbeat to tune, nothing for a dead process to clean up. release() deletes the lease, and so
 *   does an 'exit' handler.
 * - A keeper process (embedded-redis-keeper.ts) owns redis-server as its child. It is spawned
 *   detached (own session and process group, no stdio pipes) by whichever user starts the server,
 *   so the server outlives that user, a Ctrl-C aimed at it, and its stdout (which `airlock stdio`
 *   reserves for the protocol). The keeper watches the leases and, when none is alive, stops the
 *   server (SIGTERM: AOF flushed) and exits. Users never stop a server that has a keeper: one stop
 *   path, and it works even when every user was SIGKILLed, so no server outlives its users.
 * - Start, attach and stop are serialised by a lock file created with O_EXCL; a lock whose holder
 *   died is taken over (host/file-lock.ts). A user takes the lock, writes its lease, then reuses the
 *   running server or starts one and waits until it answers PING, then unlocks. The keeper stops the
 *   server only while holding the same lock and after re-checking the leases, so a user can never
 *   attach to a server that is about to stop.
 * - Two users starting at once: the second waits on the lock, then finds the first one's server.
 * - A server whose keeper was SIGKILLed (orphan: answers PING, no keeper) is shut down with SHUTDOWN
 *   by the next user to start (then started again under a new keeper; the AOF carries the data
 *   across) or by the last user to release, under the lock like the keeper.
 * - Limits: users must share a host and pid namespace (pids are checked locally); a reused pid only
 *   keeps the server up longer. If redis-server itself dies, users see REDIS_UNAVAILABLE (fail
 *   closed) and the next process to start one brings it back on the same socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, extname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AirlockError } from '../core/errors.js';
import type { Logger } from '../log.js';
import {
  embeddedRedisLayout,
  ensureLayout,
  keeperAlive,
  liveLeases,
  LOCK_STALE_MS,
  removeLease,
  writeLease,
  type EmbeddedRedisLayout,
  type KeeperArgs,
} from './embedded-redis-layout.js';
import { acquireFileLock, type HeldLock } from '../host/file-lock.js';
import { isProcessAlive } from '../host/process-alive.js';
import { pingSocket, shutdownSocket } from './redis-socket-probe.js';

/** Options of startEmbeddedRedis. */
export interface EmbeddedRedisOptions {
  /** Airlock's data directory; the server lives in `<dataDir>/redis`. */
  dataDir: string;
  logger: Logger;
  /** The redis-server binary: a name looked up on PATH, or a path. @defaultValue 'redis-server' */
  redisServer?: string;
  /** How long a starting server may take to answer (loading a large AOF takes a while). @defaultValue 30000 */
  startTimeoutMs?: number;
  /** How often the keeper looks for users that died without releasing. @defaultValue 250 */
  keeperPollMs?: number;
}

/** One user's hold on the shared embedded Redis. */
export interface EmbeddedRedis {
  /** `unix:///…/redis.sock`, for createRedis. */
  url: string;
  socketPath: string;
  /** Gives up this hold; when it was the last, resolves once the server has stopped. Idempotent. */
  release(): Promise<void>;
}

/** Unix socket paths are limited to 104 bytes on macOS and 108 on Linux, including the final NUL. */
const MAX_SOCKET_PATH_BYTES = 103;
/** How long the last release() waits for the keeper to stop the server. */
const STOP_TIMEOUT_MS = 15_000;

/** Leases of this process not yet released, removed synchronously if the process exits first. */
const heldLeases = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const lease of heldLeases) removeLease(lease);
  });
}

/** Starts the shared embedded Redis for `dataDir`, or joins the one already running; see the file header. */
export async function startEmbeddedRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const layout = embeddedRedisLayout(opts.dataDir);
  const logger = opts.logger.child({ embeddedRedis: layout.socketPath });
  if (Buffer.byteLength(layout.socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new AirlockError(
      'CONFIG_INVALID',
      `dataDir is too deep for a unix socket (${layout.socketPath} is over ${MAX_SOCKET_PATH_BYTES} bytes); ` +
        'use a shorter dataDir or set redis.url',
    );
  }
  ensureLayout(layout);
  installExitHook();
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const lock = await lockLayout(layout, startTimeoutMs * 2);
  let lease: string | undefined;
  try {
    lease = writeLease(layout);
    heldLeases.add(lease);
    if (!(await joinRunning(layout, startTimeoutMs))) {
      if (await pingSocket(layout.socketPath)) await stopOrphan(layout, logger);
      await startKeeper(layout, opts, startTimeoutMs);
      logger.info('started embedded Redis');
    } else {
      logger.debug('joined running embedded Redis');
    }
  } catch (err) {
    if (lease) {
      heldLeases.delete(lease);
      removeLease(lease);
    }
    throw err;
  } finally {
    await lock.release();
  }
  return hold(layout, lease, logger);
}

/** Takes the start/stop lock; not getting it in time means Redis is unavailable to this process. */
async function lockLayout(layout: EmbeddedRedisLayout, timeoutMs: number): Promise<HeldLock> {
  try {
    // A holder spends at most one start under the lock, so it is never stale before that is over.
    return await acquireFileLock(layout.lockPath, {
      timeoutMs,
      staleMs: Math.max(LOCK_STALE_MS, timeoutMs),
      maxPollMs: 25,
    });
  } catch (err) {
    if (!(err instanceof AirlockError)) throw err;
    throw new AirlockError('REDIS_UNAVAILABLE', err.message, {}, { cause: err });
  }
}

/** True once the server of a live keeper answers; false when there is no keeper (any more) to join. */
async function joinRunning(layout: EmbeddedRedisLayout, timeoutMs: number): Promise<boolean> {
  if (!keeperAlive(layout)) return false;
  try {
    await waitForServer(layout, timeoutMs, () => keeperAlive(layout));
    return true;
  } catch (err) {
    // A keeper stopped from outside (SIGTERM) exits without the lock: start a new one.
    if (!keeperAlive(layout)) return false;
    throw err;
  }
}

function hold(layout: EmbeddedRedisLayout, lease: string, logger: Logger): EmbeddedRedis {
  let released: Promise<void> | undefined;
  return {
    url: `unix://${layout.socketPath}`,
    socketPath: layout.socketPath,
    release: () => (released ??= releaseLease(layout, lease, logger)),
  };
}

async function releaseLease(layout: EmbeddedRedisLayout, lease: string, logger: Logger): Promise<void> {
  heldLeases.delete(lease);
  removeLease(lease);
  // The keeper stops the server; when we were the last user, wait for it so the caller knows the
  // AOF is flushed. Stop waiting as soon as someone else attaches: then the server stays.
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (keeperAlive(layout) && liveLeases(layout).length === 0) {
    if (Date.now() > deadline) {
      logger.warn(`embedded Redis did not stop within ${STOP_TIMEOUT_MS} ms of its last release`);
      return;
    }
    await delay(20);
  }
  if (keeperAlive(layout) || liveLeases(layout).length > 0) return;
  // No keeper: it was killed, leaving an orphan server that only its users can stop.
  const lock = await lockLayout(layout, STOP_TIMEOUT_MS);
  try {
    if (!keeperAlive(layout) && liveLeases(layout).length === 0 && (await pingSocket(layout.socketPath))) {
      await stopOrphan(layout, logger);
    }
  } finally {
    await lock.release();
  }
}

/** Stops a server left running by a killed keeper, to restart it under a new keeper (the AOF keeps the data) or for good. */
async function stopOrphan(layout: EmbeddedRedisLayout, logger: Logger): Promise<void> {
  logger.warn('embedded Redis is running without its keeper; stopping it');
  const error = await shutdownSocket(layout.socketPath);
  if (error !== undefined) {
    throw new AirlockError(
      'REDIS_UNAVAILABLE',
      `Cannot stop the orphaned embedded Redis at ${layout.socketPath}: ${error}`,
    );
  }
  await waitForServer(layout, 10_000, () => true, false);
}

/** Polls PING until the server answers (or, with `up` false, until it stops answering). */
async function waitForServer(
  layout: EmbeddedRedisLayout,
  timeoutMs: number,
  stillTrying: () => boolean,
  up = true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await pingSocket(layout.socketPath)) === up) return;
    if (!stillTrying()) throw failure(layout, 'did not start: its keeper exited');
    if (Date.now() > deadline) {
      throw failure(
        layout,
        up ? `did not answer within ${timeoutMs} ms` : `did not stop within ${timeoutMs} ms`,
      );
    }
    await delay(25);
  }
}

async function startKeeper(
  layout: EmbeddedRedisLayout,
  opts: EmbeddedRedisOptions,
  timeoutMs: number,
): Promise<void> {
  const redisServer = findExecutable(opts.redisServer ?? 'redis-server');
  // Run the keeper with the same loader (tsx under tests and `tsx src/...`; nothing once built).
  const self = fileURLToPath(import.meta.url);
  const script = join(self, '..', `embedded-redis-keeper${extname(self)}`);
  const args: KeeperArgs = { dataDir: opts.dataDir, redisServer, pollMs: opts.keeperPollMs ?? 250 };
  const log = openSync(layout.keeperLogPath, 'a', 0o600);
  let keeper: ChildProcess;
  try {
    keeper = spawn(process.execPath, [...loaderArgs(process.execArgv), script, JSON.stringify(args)], {
      detached: true,
      stdio: ['ignore', 'ignore', log],
    });
  } finally {
    closeSync(log);
  }
  let exited = false;
  const onGone = (): void => {
    exited = true;
  };
  keeper.once('exit', onGone);
  keeper.once('error', onGone);
  if (keeper.pid === undefined) throw failure(layout, 'did not start: cannot spawn the keeper process');
  writeFileSync(layout.keeperPidPath, `${keeper.pid}\n`, { mode: 0o600 });
  try {
    await waitForServer(layout, timeoutMs, () => !exited && isProcessAlive(keeper.pid ?? 0));
  } catch (err) {
    keeper.kill('SIGTERM');
    throw err;
  }
  keeper.unref();
}

/** The node flags that choose how modules load (so a TypeScript loader carries over), without -e, --test, --inspect…. */
function loaderArgs(execArgv: readonly string[]): string[] {
  const withValue = new Set([
    '--import',
    '--require',
    '-r',
    '--loader',
    '--experimental-loader',
    '--conditions',
    '-C',
  ]);
  const bare = new Set(['--enable-source-maps', '--no-warnings']);
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] ?? '';
    const name = arg.split('=')[0] ?? '';
    if (withValue.has(name)) {
      if (arg.includes('=')) out.push(arg);
      else out.push(arg, execArgv[++i] ?? '');
    } else if (bare.has(arg)) {
      out.push(arg);
    }
  }
  return out;
}

/** Resolves a binary name on PATH (or checks a given path); the one clear error when it is missing. */
export function findExecutable(name: string): string {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here; try the next PATH entry.
    }
  }
  throw new AirlockError(
    'REDIS_UNAVAILABLE',
    `${name} was not found${name.includes('/') ? '' : ' on PATH'}. With no redis.url Airlock runs an embedded Redis: install it ` +
      `(apt-get install redis-server, or brew install redis) or set redis.url to an existing Redis.`,
  );
}

/** An error that says what went wrong and shows the end of the server's and keeper's logs, where the cause usually is. */
function failure(layout: EmbeddedRedisLayout, what: string): AirlockError {
  const tail = [layout.redisLogPath, layout.keeperLogPath].map(lastLines).filter(Boolean).join('\n');
  return new AirlockError(
    'REDIS_UNAVAILABLE',
    `Embedded Redis in ${layout.dir} ${what}${tail ? `\n${tail}` : ''}`,
    {
      dir: layout.dir,
    },
  );
}

function lastLines(path: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.trimEnd().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}
