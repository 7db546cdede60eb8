import { randomBytes } from 'node:crypto';
import type { Redis, Cluster } from 'ioredis';
import type { Logger } from '../log.js';
import { keyspace, type ApprovalKeys, type HistoryKeys } from '../redis/keyspace.js';
import { loadScripts, runScript } from '../redis/lua-scripts.js';

/** Options for {@link HistoryRetention}. */
export interface HistoryRetentionOptions {
  /** Records older than this are removed. */
  retentionMs: number;
  logger: Logger;
  /** Time between runs. @defaultValue 1 hour */
  intervalMs?: number;
  /** Entries removed per Redis call, so no single call blocks Redis for long. @defaultValue 1000 */
  batchSize?: number;
  /** A run stops after this long and continues on the next one. @defaultValue 60 s */
  runBudgetMs?: number;
  now?: () => number;
}

/** What one run removed. */
export interface RetentionRun {
  /** Record hashes deleted. */
  records: number;
  /** Index entries removed from the per-dimension indexes. */
  entries: number;
  /** False when the run stopped on its time budget with more to do. */
  complete: boolean;
}

/**
 * Enforces `history.retentionDays` without blocking: on a timer, in bounded batches, it deletes records
 * past the cutoff and trims every index. Records also carry a TTL, so this mostly trims index entries
 * whose record already expired. A Redis lock lets one replica at a time do the work; the batches are
 * idempotent, so a replica that dies mid-run leaves nothing inconsistent.
 */
export class HistoryRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private readonly keys: HistoryKeys;
  private readonly approval: ApprovalKeys;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis | Cluster,
    prefix: string,
    private readonly options: HistoryRetentionOptions,
  ) {
    const ks = keyspace(prefix);
    this.keys = ks.history;
    this.approval = ks.approval;
    this.now = options.now ?? Date.now;
    loadScripts(redis);
  }

  /** Runs soon after start (jittered, so replicas started together do not collide), then every interval. */
  start(): void {
    const interval = this.options.intervalMs ?? 60 * 60 * 1000;
    const tick = (delay: number) => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.running = this.runOnce()
          .catch((err: unknown) =>
            this.options.logger.warn(
              { err: (err as Error).message },
              'history retention run failed; retrying later',
            ),
          )
          .finally(() => {
            this.running = undefined;
            tick(interval);
          });
      }, delay);
      this.timer.unref();
    };
    tick(5_000 + Math.floor(Math.random() * 5_000));
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One bounded run; undefined when another replica holds the lock. */
  async runOnce(): Promise<RetentionRun | undefined> {
    const token = randomBytes(12).toString('hex');
    const budget = this.options.runBudgetMs ?? 60_000;
    const ok = await this.redis.set(this.keys.retentionLock, token, 'PX', budget * 2, 'NX');
    if (ok !== 'OK') return undefined;
    const batch = String(this.options.batchSize ?? 1000);
    const started = this.now();
    const cutoff = String(started - this.options.retentionMs);
    const overBudget = () => this.stopped || this.now() - started > budget;
    const run: RetentionRun = { records: 0, entries: 0, complete: false };
    try {
      for (;;) {
        if (overBudget()) return run;
        const n = Number(
          await runScript(
            this.redis,
            'trim-records-2',
            [this.keys.all, this.approval.pending],
            [cutoff, batch, this.approval.recordPrefix],
          ),
        );
        run.records += n;
        if (n < Number(batch)) break;
      }
      let cursor = '0';
      do {
        const [next, indexes] = await this.redis.sscan(this.keys.registry, cursor, 'COUNT', 200);
        cursor = next;
        for (const index of indexes) {
          for (;;) {
            if (overBudget()) return run;
            const n = Number(
              await runScript(this.redis, 'trim-index-2', [index, this.keys.registry], [cutoff, batch]),
            );
            run.entries += n;
            if (n < Number(batch)) break;
          }
        }
      } while (cursor !== '0');
      run.complete = true;
      if (run.records || run.entries) this.options.logger.info(run, 'history retention trimmed old records');
      return run;
    } finally {
      await runScript(this.redis, 'release-lock-1', [this.keys.retentionLock], [token]).catch(() => {});
    }
  }
}
