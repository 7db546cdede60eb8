import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  linkSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { AirlockError } from '../core/errors.js';
import { isProcessAlive } from './process-alive.js';

/** A held lock file; release() removes it unless someone has (wrongly) taken it over. */
export interface FileLock {
  release(): void;
}

/** A lock file whose content never became a pid is taken to be abandoned after this long. */
const EMPTY_LOCK_STALE_MS = 5000;

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Takes the lock file at `path` if it is free, or held by a process that no longer exists; returns
 * undefined when a live process holds it. The file is created with O_EXCL (`wx`), which is atomic
 * even between processes, and holds `<pid> <token>` so liveness can be checked and release() only
 * removes our own lock.
 */
export function tryAcquireFileLock(path: string): FileLock | undefined {
  const token = `${process.pid} ${randomBytes(6).toString('hex')}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, `${token}\n`);
      } finally {
        closeSync(fd);
      }
      return { release: () => releaseIfOurs(path, token) };
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw err;
    }
    if (!removeIfStale(path)) return undefined;
  }
  return undefined;
}

/** Waits for the lock file, polling; gives up after `timeoutMs` naming the holder. */
export async function acquireFileLock(path: string, timeoutMs = 60_000, pollMs = 25): Promise<FileLock> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lock = tryAcquireFileLock(path);
    if (lock) return lock;
    if (Date.now() > deadline) {
      throw new AirlockError(
        'REDIS_UNAVAILABLE',
        `Timed out after ${timeoutMs} ms waiting for ${path} (${holderOf(path)})`,
      );
    }
    await delay(pollMs);
  }
}

function holderOf(path: string): string {
  try {
    return `held by pid ${readFileSync(path, 'utf8').split(' ')[0]}`;
  } catch {
    return 'holder unknown';
  }
}

function releaseIfOurs(path: string, token: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === token) unlinkSync(path);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

/**
 * Removes the lock at `path` if its holder is dead; true when the caller should try again. Stealing
 * moves the file aside by rename (atomic) and then checks it moved the very file it judged stale; if
 * another process replaced the lock in between, that fresh lock is linked back (link never
 * overwrites), so racing stealers do not throw away each other's lock.
 */
function removeIfStale(path: string): boolean {
  let ino: number;
  let dev: number;
  let stale: boolean;
  try {
    const fd = openSync(path, 'r');
    try {
      const st = fstatSync(fd);
      const buf = Buffer.alloc(64);
      const text = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
      const pid = Number.parseInt(text, 10);
      ino = st.ino;
      dev = st.dev;
      stale = Number.isInteger(pid) ? !isProcessAlive(pid) : Date.now() - st.mtimeMs > EMPTY_LOCK_STALE_MS;
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return true;
    throw err;
  }
  if (!stale) return false;
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return true;
    throw err;
  }
  const moved = statSync(aside);
  if (moved.ino !== ino || moved.dev !== dev) {
    try {
      linkSync(aside, path);
    } catch {
      // A third process locked meanwhile too: two holders now. Needs a dead holder plus three racers
      // within microseconds; the lock guards only the embedded Redis's start and stop.
    }
  }
  unlinkSync(aside);
  return true;
}
