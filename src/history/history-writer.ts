import type { CallOutcome } from '../gateway/gateway.js';
import type { Logger } from '../log.js';
import { decisionRecordOf } from './decision-record.js';
import type { HistoryStore } from './history-store.js';

/** Options for {@link HistoryWriter}. */
export interface HistoryWriterOptions {
  logger: Logger;
  /** Records written per pipeline. @defaultValue 256 */
  batchSize?: number;
  /** Outcomes kept while Redis is slow or down; beyond this they are dropped and counted. @defaultValue 10000 */
  maxBuffered?: number;
  now?: () => number;
}

/** Counters for metrics and tests. */
export interface HistoryWriterStats {
  written: number;
  failed: number;
  dropped: number;
}

/** At most one failure warning per this interval. */
const WARN_INTERVAL_MS = 10_000;

interface Pending {
  outcome: CallOutcome;
  at: number;
}

/**
 * Writes direct-decision records off the call path: `record()` only queues the outcome; redaction,
 * hashing and the pipelined Redis write happen on a later tick, one batch at a time. A failed write is
 * counted and logged (at most once per 10 s); it never reaches the agent.
 */
export class HistoryWriter {
  /** What happened to the outcomes handed over so far. */
  readonly stats: HistoryWriterStats = { written: 0, failed: 0, dropped: 0 };
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;
  private scheduled = false;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly now: () => number;
  private lastWarnAt = -Infinity;
  private unlogged = 0;

  constructor(
    private readonly store: HistoryStore,
    private readonly options: HistoryWriterOptions,
  ) {
    this.batchSize = options.batchSize ?? 256;
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Queues one outcome; returns at once and never throws. */
  record(outcome: CallOutcome): void {
    if (outcome.outcome === 'held' || outcome.held) return;
    if (this.queue.length >= this.maxBuffered) {
      this.stats.dropped++;
      return;
    }
    this.queue.push({ outcome, at: this.now() });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.drain();
      });
    }
  }

  /** Resolves once everything queued so far is written (or has failed). */
  async flush(): Promise<void> {
    while (this.running || this.queue.length) {
      if (!this.running) this.drain();
      await this.running;
    }
  }

  private drain(): void {
    if (this.running || !this.queue.length) return;
    this.running = (async () => {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.batchSize);
        await this.write(batch);
      }
    })().finally(() => {
      this.running = undefined;
      // Outcomes queued after the loop's last check would otherwise wait for the next call.
      if (this.queue.length) this.drain();
    });
  }

  private async write(batch: Pending[]): Promise<void> {
    const records = [];
    for (const p of batch) {
      try {
        const r = decisionRecordOf(p.outcome, p.at);
        if (r) records.push(r);
      } catch (err) {
        this.stats.failed++;
        this.options.logger.warn({ err, requestId: p.outcome.requestId }, 'could not build history record');
      }
    }
    try {
      await this.store.writeMany(records);
      this.stats.written += records.length;
    } catch (err) {
      this.stats.failed += records.length;
      this.unlogged += records.length;
      // During an outage every batch fails; one line per interval says how many, not one per batch.
      const now = this.now();
      if (now - this.lastWarnAt >= WARN_INTERVAL_MS) {
        this.lastWarnAt = now;
        this.options.logger.warn(
          { err: (err as Error).message, records: this.unlogged, failedTotal: this.stats.failed },
          'history write failed; these direct decisions are missing from history (the audit log has them)',
        );
        this.unlogged = 0;
      }
    }
  }
}
