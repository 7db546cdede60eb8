// Messages between the main thread's AuditThread and the audit writer's thread.
import type { AuditEvent } from './audit-events.js';
import type { AuditLogOptions } from './audit-log-options.js';

/** Where each counter sits in the shared BigInt64Array the writer thread keeps up to date. */
export const COUNTER = { written: 0, failures: 1, lost: 2 } as const;
export const COUNTER_BYTES = 3 * BigInt64Array.BYTES_PER_ELEMENT;

/** The writer thread's workerData. */
export interface ThreadInit {
  /** AuditLogOptions that survive structured cloning (no logger, clock or callbacks). */
  options: Omit<AuditLogOptions, 'logger' | 'now' | 'onAttempt' | 'blocking'>;
  /** The main thread's log level, so the thread sends only records that would be written. */
  level: string;
  counters: SharedArrayBuffer;
}

/** Main thread → writer thread. */
export type ToThread =
  { kind: 'line'; n: number; event: AuditEvent; at: number; ack: boolean } | { kind: 'close' };

/** Writer thread → main thread. */
export type FromThread =
  | { kind: 'ready' }
  /** Line `n` (sent with `ack`) is written, or can never be. */
  | { kind: 'ack'; n: number; error?: string }
  /** One pino record (a JSON line) for the main thread's logger. */
  | { kind: 'log'; line: string }
  | { kind: 'closed' };
