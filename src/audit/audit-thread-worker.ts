// The audit writer's own thread (see audit-thread.ts): an AuditLog with blocking system calls, fed by
// messages from the main thread. Its counters go into shared memory, its log records back as messages.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { AuditLog } from './audit-log.js';
import type { ThreadInit, ToThread, FromThread } from './audit-thread-protocol.js';
import { COUNTER } from './audit-thread-protocol.js';

const port = parentPort!;
const init = workerData as ThreadInit;
const counters = new BigInt64Array(init.counters);
const post = (message: FromThread) => port.postMessage(message);

const logger = pino(
  { level: init.level, base: null, timestamp: false, formatters: { level: (label) => ({ level: label }) } },
  { write: (line: string) => post({ kind: 'log', line }) },
);
// No linger: every line that arrived while a batch was written (its fsync blocks this thread) joins the
// next batch, and lines arriving together are handed over together (below), so no timer is needed.
const log = new AuditLog({ ...init.options, lingerMs: 0, logger, blocking: true, onAttempt: publish });
let arrived: Array<Extract<ToThread, { kind: 'line' }>> = [];

function publish(): void {
  Atomics.store(counters, COUNTER.written, BigInt(log.written));
  Atomics.store(counters, COUNTER.failures, BigInt(log.failures));
  Atomics.store(counters, COUNTER.lost, BigInt(log.lost));
}

port.on('message', (message: ToThread) => {
  if (message.kind === 'close') {
    handOver();
    void log.close().finally(() => {
      publish();
      post({ kind: 'closed' });
      port.close();
    });
    return;
  }
  // Every message already waiting is delivered before the immediate runs: they form one batch.
  if (arrived.push(message) === 1) setImmediate(handOver);
});

function handOver(): void {
  const lines = arrived;
  arrived = [];
  for (const line of lines) appendLine(line);
}

function appendLine({ n, event, at, ack }: Extract<ToThread, { kind: 'line' }>): void {
  const written = log.append(event, at);
  if (!ack) {
    // Failures are logged and counted by the log itself; an event that can never be written is lost.
    written.catch(publish);
    return;
  }
  written.then(
    () => post({ kind: 'ack', n }),
    (err: unknown) => {
      publish();
      post({ kind: 'ack', n, error: err instanceof Error ? err.message : String(err) });
    },
  );
}
post({ kind: 'ready' });
