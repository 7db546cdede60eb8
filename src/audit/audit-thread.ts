// The audit log written from a thread of its own. An allowed call leaves one audit line behind; written
// on the main thread, each of a batch's file-system calls is a hand-off to libuv's thread pool and back,
// and at one call at a time those hand-offs were the largest part of the work a call left behind
// (README, Performance). Here the main thread only posts the event; a worker thread runs an AuditLog
// with blocking system calls (lock, stat, write, fsync, unlink: no hand-offs), which stall nothing but
// that thread. Lines, chain and locking are AuditLog's, so replicas with and without a thread share a file.
import { Worker } from 'node:worker_threads';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AirlockError } from '../core/errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { AuditEvent } from './audit-events.js';
import { AuditLog, handled } from './audit-log.js';
import type { AuditLogOptions } from './audit-log-options.js';
import {
  COUNTER,
  COUNTER_BYTES,
  type FromThread,
  type ThreadInit,
  type ToThread,
} from './audit-thread-protocol.js';

/** What the gateway writes audit lines through: an AuditLog, or one on a thread of its own. */
export type AuditWriter = Pick<
  AuditLog,
  'append' | 'record' | 'close' | 'failures' | 'written' | 'lost' | 'pending'
>;

type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Starts the audit writer thread; if the thread cannot start, warns and returns an AuditLog on this
 * thread instead (slower, same lines). `blocking`, `onAttempt` and `now` other than Date.now stay here.
 */
export async function startAuditWriter(options: AuditLogOptions): Promise<AuditWriter> {
  const logger = options.logger ?? silentLogger;
  try {
    return await AuditThread.start(options);
  } catch (err) {
    logger.warn({ err }, 'audit writer thread did not start; writing the audit log on the main thread');
    return new AuditLog(options);
  }
}

/**
 * The thread, from the built `.js` next to this file. Run from source under tsx (tests, bench), this file
 * is `.ts`, and Node 20 does not pass tsx's loader on to workers: the thread registers it first.
 */
function spawnWriterThread(init: ThreadInit): Worker {
  const entry = new URL(`./audit-thread-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData: init });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: init });
}

/** An AuditWriter whose file-system work happens on a worker thread. */
export class AuditThread implements AuditWriter {
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly counters: BigInt64Array;
  private readonly acks = new Map<number, { resolve(): void; reject(err: Error): void }>();
  private sent = 0;
  private lostHere = 0;
  private closing = false;
  /** The thread said it wrote everything and closed the file. */
  private threadClosed = false;
  private closed: Promise<void> | undefined;
  private readonly exited: Promise<void>;
  /** After the thread died unexpectedly: the rest is written on this thread. */
  private fallback: AuditLog | undefined;

  private constructor(
    /** The writer thread (its threadId for diagnostics; tests end it to check the fallback). */
    readonly worker: Worker,
    counters: SharedArrayBuffer,
    private readonly options: AuditLogOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.counters = new BigInt64Array(counters);
    worker.on('message', (m: FromThread) => this.onMessage(m));
    this.exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        if (!this.threadClosed) this.died(code);
        resolve();
      }),
    );
    worker.on('error', (err) => this.logger.error({ err }, 'audit writer thread failed'));
    // The writer keeps the process alive only while an append() is awaited or close() runs (unref after
    // the listeners: adding one refs the port again). Lines given to record() are written unless the
    // process ends without close(), as a crash would.
    worker.unref();
  }

  /** Starts the thread and waits until it is ready; rejects if it exits or fails first. */
  static async start(options: AuditLogOptions): Promise<AuditThread> {
    const counters = new SharedArrayBuffer(COUNTER_BYTES);
    const { logger, now: _now, onAttempt: _onAttempt, blocking: _blocking, ...cloneable } = options;
    const init: ThreadInit = { options: cloneable, level: (logger ?? silentLogger).level, counters };
    const worker = spawnWriterThread(init);
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown) => {
        worker.off('message', ready);
        void worker.terminate();
        reject(err instanceof Error ? err : new Error(`audit writer thread exited with code ${String(err)}`));
      };
      const ready = (m: FromThread) => {
        if (m.kind !== 'ready') return;
        worker.off('error', fail).off('exit', fail).off('message', ready);
        resolve();
      };
      worker.on('message', ready).once('error', fail).once('exit', fail);
    });
    return new AuditThread(worker, counters, options);
  }

  get failures(): number {
    return this.count('failures') + (this.fallback?.failures ?? 0);
  }

  get written(): number {
    return this.count('written') + (this.fallback?.written ?? 0);
  }

  get lost(): number {
    return this.count('lost') + this.lostHere + (this.fallback?.lost ?? 0);
  }

  get pending(): number {
    const inThread = this.fallback ? 0 : this.sent - this.count('written') - this.count('lost');
    return inThread + (this.fallback?.pending ?? 0);
  }

  /** Resolves once the line is written (and fsynced), as AuditLog.append does. */
  append(event: AuditEvent, atMs?: number): Promise<void> {
    return handled(new Promise<void>((resolve, reject) => this.send(event, atMs, { resolve, reject })));
  }

  record(event: AuditEvent, atMs?: number): void {
    this.send(event, atMs, undefined);
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private send(
    event: AuditEvent,
    atMs: number | undefined,
    ack: { resolve(): void; reject(err: Error): void } | undefined,
  ): void {
    const at = atMs ?? this.now();
    if (this.fallback) {
      const written = this.fallback.append(event, at);
      if (ack) written.then(ack.resolve, ack.reject);
      return;
    }
    if (this.closing) {
      this.logger.error({ audit: event }, 'audit event after close: not written');
      this.lostHere++;
      ack?.reject(new AirlockError('INTERNAL', 'audit log is closed; event not written'));
      return;
    }
    const n = ++this.sent;
    try {
      this.worker.postMessage({ kind: 'line', n, event, at, ack: ack !== undefined } satisfies ToThread);
    } catch (err) {
      // Not structured-cloneable (a function, a symbol): it could not be written on any thread.
      this.sent--;
      this.lostHere++;
      this.logger.error({ err, event: event.event }, 'audit event cannot be written');
      ack?.reject(new AirlockError('INTERNAL', `audit event ${event.event} cannot be serialised`));
      return;
    }
    if (ack) {
      // Someone waits for this line: the process stays up until it is written.
      if (this.acks.size === 0) this.worker.ref();
      this.acks.set(n, ack);
    }
  }

  private onMessage(m: FromThread): void {
    if (m.kind === 'ack') {
      const ack = this.acks.get(m.n);
      this.acks.delete(m.n);
      if (this.acks.size === 0 && !this.closing) this.worker.unref();
      if (m.error === undefined) ack?.resolve();
      else ack?.reject(new AirlockError('INTERNAL', m.error));
    } else if (m.kind === 'log') this.relay(m.line);
    else if (m.kind === 'closed') this.threadClosed = true;
  }

  /** Writes one of the thread's pino records through this thread's logger, at its level. */
  private relay(line: string): void {
    try {
      const { level, msg, ...fields } = JSON.parse(line) as { level: LogLevel; msg?: string };
      const write = this.logger[level] ?? this.logger.error;
      write.call(this.logger, { ...fields, thread: 'audit' }, msg ?? '');
    } catch {
      this.logger.error({ line }, 'audit writer thread sent an unreadable log record');
    }
  }

  private died(code: number): void {
    const inFlight = this.sent - this.count('written') - this.count('lost');
    this.lostHere += inFlight;
    this.logger.error(
      { code, lost: inFlight },
      'audit writer thread exited; lines it had not written are lost, the rest are written on the main thread',
    );
    for (const ack of this.acks.values())
      ack.reject(new AirlockError('INTERNAL', 'audit writer thread exited'));
    this.acks.clear();
    // While closing, what is left to write is already lost; nothing new is taken after close().
    if (!this.closing) this.fallback = new AuditLog(this.options);
  }

  private async shutdown(): Promise<void> {
    if (this.fallback) return this.fallback.close();
    this.closing = true;
    this.worker.ref();
    this.worker.postMessage({ kind: 'close' } satisfies ToThread);
    await this.exited;
    for (const ack of this.acks.values())
      ack.reject(new AirlockError('INTERNAL', 'audit log closed before the event could be written'));
    this.acks.clear();
  }

  private count(name: keyof typeof COUNTER): number {
    return Number(Atomics.load(this.counters, COUNTER[name]));
  }
}
