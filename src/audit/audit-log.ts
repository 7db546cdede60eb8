// The writer side of the audit chain. Several replicas (processes) append to one file:
// every write happens under a cross-process file lock, and "read the tail's hash, append lines"
// is one critical section, so lines never interleave and the chain never forks. Within a process,
// appends queue up and are written in batches: many lines per lock acquisition, one write call.
import { fsyncSync, statSync, writeSync } from 'node:fs';
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AirlockError } from '../core/errors.js';
import { encodeLine, prepareEvent, type PreparedEvent } from './audit-chain.js';
import type { AuditEvent, AuditLineEvent } from './audit-events.js';
import {
  auditLogOptionsWithDefaults,
  type AuditLogOptions,
  type AuditLogOptionsWithDefaults,
} from './audit-log-options.js';
import { acquireFileLock, tryCreateFileLockSync, type HeldLock } from '../host/file-lock.js';
import { readTailAnchor, type TailAnchor } from './tail-anchor.js';

interface PendingLine {
  event: AuditLineEvent;
  prepared: PreparedEvent;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Where this process left the file after its last batch. Other writers only ever append under the
 * lock, so the same file at the same size means nobody wrote since: the tail need not be read again.
 * A smaller size means someone cut the file.
 */
interface TailCache {
  dev: number;
  ino: number;
  size: number;
  seq: number;
  hash: string;
}

/** The identity of a file: a different (dev, ino) at the path means it was replaced or rotated. */
interface FileId {
  dev: number;
  ino: number;
}

const MAX_RETRY_DELAY_MS = 5_000;

/**
 * Append-only, hash-chained JSONL audit log shared by all replicas on a host.
 * append() never rejects for I/O trouble: it logs, counts a failure and retries until written.
 */
export class AuditLog {
  private readonly options: AuditLogOptionsWithDefaults;
  private readonly lockPath: string;
  private queue: PendingLine[] = [];
  private draining: Promise<void> | undefined;
  private handle: FileHandle | undefined;
  private handleId: FileId | undefined;
  private cache: TailCache | undefined;
  private closing = false;
  private closeDeadline = Infinity;
  private closed: Promise<void> | undefined;
  private wakeRetry: (() => void) | undefined;
  private failureCount = 0;
  private writtenCount = 0;
  private lostCount = 0;

  constructor(options: AuditLogOptions) {
    this.options = auditLogOptionsWithDefaults(options);
    this.lockPath = `${this.options.file}.lock`;
  }

  /** Failed write attempts (each retried) since start, for /metrics. */
  get failures(): number {
    return this.failureCount;
  }

  /** Events this process has written. */
  get written(): number {
    return this.writtenCount;
  }

  /** Events given up on because close() ran out of time; each was logged in full at error level. */
  get lost(): number {
    return this.lostCount;
  }

  /** Events queued and not yet written. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Queues one event; resolves once its line is written (and fsynced, unless disabled). Transient I/O
   * errors are retried, never surfaced. Rejects (with AirlockError 'INTERNAL') only for an event that can
   * never be written or after close(); the rejection is pre-handled, so fire-and-forget callers are safe.
   * `atMs` is when the event happened (the line's `at`), when it was handed over earlier. @defaultValue now
   */
  append(event: AuditEvent, atMs?: number): Promise<void> {
    return this.enqueue(event, atMs);
  }

  /** append() for callers that do not wait: failures are logged and counted, as for append(). */
  record(event: AuditEvent, atMs?: number): void {
    void this.enqueue(event, atMs);
  }

  /** Writes everything queued (retrying up to closeTimeoutMs), then releases the file. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private enqueue(event: AuditLineEvent, atMs?: number): Promise<void> {
    const { logger, maxStringBytes, replica, now } = this.options;
    if (this.closing) {
      logger.error({ audit: event }, 'audit event after close: not written');
      this.lostCount++;
      return handled(Promise.reject(new AirlockError('INTERNAL', 'audit log is closed; event not written')));
    }
    let prepared: PreparedEvent;
    try {
      prepared = prepareEvent(event, { at: new Date(atMs ?? now()).toISOString(), replica, maxStringBytes });
    } catch (err) {
      logger.error({ err, event: event.event }, 'audit event cannot be written');
      this.lostCount++;
      return handled(Promise.reject(err));
    }
    return handled(
      new Promise<void>((resolve, reject) => {
        this.queue.push({ event, prepared, resolve, reject });
        this.kick();
      }),
    );
  }

  private kick(): void {
    // Lingering a few ms lets appends from concurrent calls share one lock, write and fsync.
    const linger = this.closing ? 0 : this.options.lingerMs;
    this.draining ??= (linger > 0 ? new Promise<void>((r) => setTimeout(r, linger)) : Promise.resolve())
      .then(() => this.drain())
      .finally(() => {
        this.draining = undefined;
        // An append that landed after the loop's last check but before this callback.
        if (this.queue.length > 0) this.kick();
      });
  }

  private async drain(): Promise<void> {
    const { logger, retryDelayMs } = this.options;
    let retryMs = retryDelayMs;
    while (this.queue.length > 0) {
      const batch = this.nextBatch();
      const { written, error } = await this.writeBatch(batch);
      for (const line of this.queue.splice(0, written)) line.resolve();
      if (error !== undefined) this.failureCount++;
      this.options.onAttempt();
      if (error === undefined) {
        retryMs = retryDelayMs;
        continue;
      }
      if (this.closing && Date.now() >= this.closeDeadline) {
        logger.error({ err: error, file: this.options.file }, 'audit append failed while closing; giving up');
        this.giveUp();
        return;
      }
      const waitMs = Math.min(retryMs, this.closeDeadline - Date.now());
      logger.error(
        { err: error, file: this.options.file, pending: this.queue.length, retryInMs: waitMs },
        'audit append failed; retrying',
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wakeRetry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeRetry = undefined;
      retryMs = Math.min(retryMs * 2, MAX_RETRY_DELAY_MS);
    }
  }

  private nextBatch(): PendingLine[] {
    const { maxBatchLines, maxBatchBytes } = this.options;
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && n < maxBatchLines && (n === 0 || bytes < maxBatchBytes)) {
      bytes += this.queue[n]!.prepared.bytes;
      n++;
    }
    return this.queue.slice(0, n);
  }

  /**
   * One critical section. Returns how many of `batch` are on disk, and the error if not all are. With
   * `blocking`, the usual case (the lock is free, nobody else wrote) is all synchronous system calls, the
   * fsync too: each is a few microseconds in the kernel, while each hand-off to libuv's thread pool and
   * back cost more CPU than that (bench/audit-batch-cpu.ts). That is for a writer on a thread of its own
   * (audit-thread.ts); on the main thread they would stall every request whenever the disk is slow.
   * Waiting for a held lock, taking a stale one over and reading another writer's tail stay asynchronous.
   */
  private async writeBatch(batch: PendingLine[]): Promise<{ written: number; error?: unknown }> {
    const { staleLockMs, lockTimeoutMs, logger, blocking } = this.options;
    let lock: HeldLock | undefined;
    let written = 0;
    try {
      // While closing, waiting for the lock must not outlast closeTimeoutMs.
      const timeoutMs = Math.min(lockTimeoutMs, Math.max(0, this.closeDeadline - Date.now()));
      lock =
        (blocking ? tryCreateFileLockSync(this.lockPath) : undefined) ??
        (await acquireFileLock(this.lockPath, { staleMs: staleLockMs, timeoutMs, logger }));
      const { handle, size } = await this.openFile();
      const cache = this.cache && sameFile(this.cache, this.handleId) ? this.cache : undefined;
      this.cache = undefined;
      if (cache && size < cache.size) {
        // Appenders never shrink the file: someone truncated it, and the lines cut off are gone from the chain.
        logger.error(
          { file: this.options.file, expectedBytes: cache.size, foundBytes: size, lastSeqWritten: cache.seq },
          'audit file is shorter than this writer left it: it was truncated; chaining on what is left',
        );
      }
      const anchor: TailAnchor =
        cache && cache.size === size
          ? { seq: cache.seq, hash: cache.hash, brokenBytes: 0, needsNewline: false }
          : await readTailAnchor(handle, size);

      const chunks: Buffer[] = [];
      let seq = anchor.seq;
      let prev = anchor.hash;
      if (anchor.needsNewline) chunks.push(Buffer.from('\n'));
      if (anchor.brokenBytes > 0) {
        // Keep the torn bytes as evidence; chain on the last intact line and say so in the log itself.
        logger.warn(
          { file: this.options.file, truncatedBytes: anchor.brokenBytes, seq: anchor.seq },
          'audit file ends with a broken line; recording audit.recovered and chaining on the last intact line',
        );
        const recovered = prepareEvent(
          { event: 'audit.recovered', truncatedBytes: anchor.brokenBytes },
          {
            at: new Date(this.options.now()).toISOString(),
            replica: this.options.replica,
            maxStringBytes: 1024,
          },
        );
        const line = encodeLine(recovered, ++seq, prev);
        prev = line.hash;
        chunks.push(Buffer.from(line.text));
      }
      const prefixBytes = chunks.reduce((sum, c) => sum + c.length, 0);
      const ends: number[] = [];
      let offset = prefixBytes;
      for (const pending of batch) {
        const line = encodeLine(pending.prepared, ++seq, prev);
        prev = line.hash;
        const bytes = Buffer.from(line.text);
        chunks.push(bytes);
        offset += bytes.length;
        ends.push(offset);
      }
      const buffer = Buffer.concat(chunks, offset);

      // Only if our lock was judged stale and taken over while we read; writing now could fork the chain.
      if (!(blocking ? lock.isHeldNow() : await lock.isHeld()))
        throw new AirlockError('INTERNAL', `audit lock ${this.lockPath} was taken over`);
      let done = 0;
      try {
        while (done < buffer.length) {
          done += blocking
            ? writeSync(handle.fd, buffer, done, buffer.length - done)
            : (await handle.write(buffer, done, buffer.length - done)).bytesWritten;
        }
      } finally {
        // A short write followed by an error leaves whole lines on disk: they count, the rest is retried.
        written = ends.filter((end) => end <= done).length;
        this.writtenCount += written;
      }
      if (this.options.fsync) await this.sync(handle);
      this.cache = { ...this.handleId!, size: size + buffer.length, seq, hash: prev };
      return { written };
    } catch (error) {
      return { written, error };
    } finally {
      try {
        if (blocking) lock?.releaseNow();
        else await lock?.release();
      } catch (err) {
        logger.warn({ err }, 'could not release audit lock');
      }
    }
  }

  private async sync(handle: FileHandle): Promise<void> {
    try {
      // fsync, not fdatasync: on ext4 here an append's fdatasync measured slower, not faster.
      if (this.options.blocking) fsyncSync(handle.fd);
      else await handle.sync();
    } catch (err) {
      // The lines are written; writing them again would duplicate them, so this is counted, not retried.
      this.failureCount++;
      this.options.logger.error(
        { err, file: this.options.file },
        'audit fsync failed; lines written but maybe not durable',
      );
    }
  }

  /** The open file and its size; the size comes from the path's stat, which also tells us if the file was replaced. */
  private async openFile(): Promise<{ handle: FileHandle; size: number }> {
    const { file, logger } = this.options;
    const pathStat = this.options.blocking
      ? statSync(file, { throwIfNoEntry: false })
      : await statOrNone(file);
    if (this.handle && pathStat && sameFile(pathStat, this.handleId))
      return { handle: this.handle, size: pathStat.size };
    if (this.handle) {
      // Rotated or deleted under us: appending to the old inode would write where nobody looks.
      logger.error({ file }, 'audit file was replaced or removed; reopening (a new file starts a new chain)');
      const old = this.handle;
      this.handle = undefined;
      this.cache = undefined;
      await old.close().catch(() => {});
    }
    await mkdir(dirname(file), { recursive: true });
    const handle = await open(file, 'a+');
    try {
      const st = await handle.stat();
      this.handleId = { dev: st.dev, ino: st.ino };
      this.handle = handle;
      return { handle, size: st.size };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  private giveUp(): void {
    const lost = this.queue;
    this.queue = [];
    for (const line of lost) {
      // Logged whole so the event survives in the process log even though the file could not take it.
      this.options.logger.error(
        { audit: line.event },
        'audit event lost: audit log closed before it could be written',
      );
      this.lostCount++;
      line.reject(new AirlockError('INTERNAL', 'audit log closed before the event could be written'));
    }
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.closeDeadline = Date.now() + this.options.closeTimeoutMs;
    this.wakeRetry?.();
    while (this.draining) await this.draining;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

async function statOrNone(file: string): Promise<(FileId & { size: number }) | undefined> {
  try {
    return await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function sameFile(a: FileId, b: FileId | undefined): boolean {
  return b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/** Marks `promise`'s rejection handled, so `void audit.append(...)` cannot crash the process; awaiting still throws. */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
