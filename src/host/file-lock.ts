// A cross-process mutex from plain files, because Node core has no flock and native addons are out.
// Acquire: create `<path>` with O_EXCL holding {pid, host, token}. One stale rule for every user: a
// lock whose holder is a dead process on this host, or that is older than `staleMs` (a holder on
// another host, a reused pid, a holder that died before writing its pid), is taken over. Taking over
// happens under a second O_EXCL file (`<path>.steal`) and re-checks staleness there, so two waiters
// that both saw the same stale lock cannot both delete it (the second would otherwise delete the
// first one's new lock). A holder keeps its lock file open until release, so checking that it still
// holds the lock is one fstat of that handle (a taken-over file has no links left). A caller that takes
// the lock often and briefly (the audit log, once per batch) can try the free case first with plain
// system calls (`tryCreateFileLockSync`): each of libuv's thread-pool hand-offs costs more CPU than the
// call it carries, and a lock that exists is left to the asynchronous path, which waits and takes over.
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AirlockError } from '../core/errors.js';
import { silentLogger, type Logger } from '../log.js';
import { isProcessAlive } from './process-alive.js';

/** Options for acquireFileLock and tryAcquireFileLock. */
export interface FileLockOptions {
  /**
   * A lock older than this is taken over even when its holder looks alive (another host, a reused pid).
   * Must be well above the longest time a live holder keeps the lock. @defaultValue 10_000
   */
  staleMs?: number;
  /** Acquiring fails with AirlockError('INTERNAL') after this long. @defaultValue 30_000 */
  timeoutMs?: number;
  /** Longest wait between looks at a held lock; holders that keep it long can afford a slower poll. @defaultValue 4 */
  maxPollMs?: number;
  /** @defaultValue silentLogger */
  logger?: Logger;
}

/** What a lock file says about its holder. */
export interface LockOwner {
  pid: number;
  host: string;
  token: string;
  at: string;
}

/** A lock this process holds. */
export interface HeldLock {
  readonly path: string;
  /** Date.now() when the lock was taken. */
  readonly acquiredAt: number;
  /** True while the file on disk is still the one this holder created (it was not taken over as stale). */
  isHeld(): Promise<boolean>;
  /** isHeld, as one synchronous fstat. */
  isHeldNow(): boolean;
  /** Removes the lock file if it is still ours. */
  release(): Promise<void>;
  /** release, with synchronous system calls (fstat, unlink, close). */
  releaseNow(): void;
}

/** Waits for and takes the lock file at `path`; AirlockError('INTERNAL') naming the holder after `timeoutMs`. */
export async function acquireFileLock(path: string, options: FileLockOptions = {}): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let backoffMs = 1;
  for (;;) {
    const attempt = await attemptOnce(path, options);
    if ('held' in attempt) return attempt.held;
    if (Date.now() >= deadline) {
      throw new AirlockError(
        'INTERNAL',
        `timed out after ${timeoutMs} ms waiting for lock ${path} (held by pid ${attempt.holder?.pid ?? 'unknown'})`,
      );
    }
    // Jitter keeps waiters from polling in lockstep.
    await delay(backoffMs * (0.5 + Math.random()));
    backoffMs = Math.min(backoffMs * 2, options.maxPollMs ?? 4);
  }
}

/** Takes the lock file at `path` if it is free or stale; undefined when a live holder has it. */
export async function tryAcquireFileLock(
  path: string,
  options: FileLockOptions = {},
): Promise<HeldLock | undefined> {
  const attempt = await attemptOnce(path, options);
  return 'held' in attempt ? attempt.held : undefined;
}

/** Reads the holder of a lock file, or undefined when there is no lock. */
export async function readLockOwner(path: string): Promise<LockOwner | undefined> {
  return (await inspect(path))?.owner;
}

/** One try: create the file, or take it over when stale; else report who holds it. */
async function attemptOnce(
  path: string,
  options: FileLockOptions,
): Promise<{ held: HeldLock } | { holder: LockOwner | undefined }> {
  const staleMs = options.staleMs ?? 10_000;
  const logger = options.logger ?? silentLogger;
  for (;;) {
    const held = await tryCreate(path);
    if (held) return { held };
    const state = await inspect(path);
    // Released between our create and our look: try again at once.
    if (!state) continue;
    if (staleReason(state, staleMs) && (await takeOver(path, staleMs, logger))) continue;
    return { holder: state.owner };
  }
}

interface LockState {
  ino: number;
  mtimeMs: number;
  owner?: LockOwner;
}

/**
 * Takes the lock at `path` with synchronous system calls if no lock file exists; undefined when one does
 * (held, or stale) or its directory is missing, which `acquireFileLock` then handles.
 */
export function tryCreateFileLockSync(path: string): HeldLock | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if (code(err) === 'EEXIST' || code(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(newOwner()));
  } catch (err) {
    closeSync(fd);
    unlinkQuietSync(path);
    throw err;
  }
  return new FileHeldLock(path, fd, () => closeSync(fd));
}

function newOwner(): LockOwner {
  return {
    pid: process.pid,
    host: hostname(),
    token: randomBytes(8).toString('hex'),
    at: new Date().toISOString(),
  };
}

async function tryCreate(path: string): Promise<HeldLock | undefined> {
  const owner = newOwner();
  let handle: FileHandle;
  try {
    handle = await open(path, 'wx');
  } catch (err) {
    if (code(err) === 'EEXIST') return undefined;
    if (code(err) !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true });
    return tryCreate(path);
  }
  try {
    await handle.writeFile(JSON.stringify(owner));
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw err;
  }
  return new FileHeldLock(path, handle.fd, () => handle.close());
}

class FileHeldLock implements HeldLock {
  readonly acquiredAt = Date.now();
  private released = false;
  constructor(
    readonly path: string,
    // Kept open while held: its link count says whether the path still names our file, in one fstat
    // and with no inode-reuse doubt (an open inode is never reused), and the file is never reopened.
    private readonly fd: number,
    private readonly closeFile: () => Promise<void> | void,
  ) {}

  isHeld(): Promise<boolean> {
    return Promise.resolve(this.isHeldNow());
  }

  isHeldNow(): boolean {
    if (this.released) return false;
    try {
      // A take-over unlinks the stale file before creating its own, which drops our link count to 0.
      return fstatSync(this.fd).nlink > 0;
    } catch {
      return false;
    }
  }

  async release(): Promise<void> {
    await this.unlinkIfHeld()?.catch(() => {});
  }

  releaseNow(): void {
    void this.unlinkIfHeld()?.catch(() => {});
  }

  /** Unlinks the file if it is still ours, then closes it; returns the close when that is asynchronous. */
  private unlinkIfHeld(): Promise<void> | undefined {
    if (this.released) return undefined;
    const held = this.isHeldNow();
    this.released = true;
    let closing: Promise<void> | void = undefined;
    try {
      // Never delete a lock someone took over from us after deciding ours was stale.
      if (held) unlinkQuietSync(this.path);
    } finally {
      try {
        closing = this.closeFile();
      } catch {
        // Closing our own descriptor fails only if it is already gone; nothing is left to release.
      }
    }
    return closing ?? undefined;
  }
}

async function inspect(path: string): Promise<LockState | undefined> {
  try {
    const st = await stat(path);
    let owner: LockOwner | undefined;
    try {
      const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
      if (Number.isSafeInteger(parsed.pid) && typeof parsed.host === 'string') owner = parsed as LockOwner;
    } catch {
      // Empty (holder between create and write) or garbage: judged by age alone.
    }
    return { ino: st.ino, mtimeMs: st.mtimeMs, owner };
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function staleReason(state: LockState, staleMs: number): string | undefined {
  const owner = state.owner;
  if (owner && owner.host === hostname() && !isProcessAlive(owner.pid))
    return `holder pid ${owner.pid} is not running`;
  const ageMs = Date.now() - state.mtimeMs;
  if (ageMs > staleMs) return `lock is ${Math.round(ageMs)} ms old (stale after ${staleMs} ms)`;
  return undefined;
}

async function takeOver(path: string, staleMs: number, logger: Logger): Promise<boolean> {
  const guardPath = `${path}.steal`;
  const guard = await tryCreate(guardPath);
  if (!guard) {
    // A taker holds the guard for a few syscalls; one that died there must not block everyone forever.
    const guardState = await inspect(guardPath);
    const reason = guardState && staleReason(guardState, staleMs);
    if (reason) {
      await unlinkQuiet(guardPath);
      logger.warn(
        { lock: guardPath, holder: guardState.owner, reason },
        'removed a stale lock take-over guard',
      );
    }
    return false;
  }
  try {
    // Re-check under the guard: the lock we judged may already have been replaced by a live one.
    const state = await inspect(path);
    const reason = state && staleReason(state, staleMs);
    if (!reason) return false;
    await unlinkQuiet(path);
    logger.warn({ lock: path, holder: state.owner, reason }, 'took over a stale lock');
    return true;
  } finally {
    await guard.release();
  }
}

async function unlinkQuiet(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
  }
}

function unlinkQuietSync(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
  }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
