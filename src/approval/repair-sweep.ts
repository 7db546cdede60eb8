import { randomBytes } from 'node:crypto';
import type { Redis, Cluster } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { expire } from '../core/approval/state-machine.js';
import type { Logger } from '../log.js';
import { guardRedis } from '../redis/guard.js';
import { runScript } from '../redis/lua-scripts.js';
import type { ApprovalStore, StoredRecord } from './approval-store.js';
import type { ApprovalEmitter } from './approval-events.js';
import type { ApprovalJobs } from './approval-jobs.js';
import { interruptedPlan, notStartedPlan } from './interruption.js';
import type { RecordTransitions, TransitionStep } from './record-transitions.js';

/** How often each replica runs the sweep. @defaultValue 30 s */
export const DEFAULT_SWEEP_INTERVAL_MS = 30_000;

/**
 * How long after a request's deadline, or after its approval, the sweep leaves it to the normal path
 * (the deadline job, the deciding replica's release) before looking after it itself.
 * @defaultValue 10 s: a job's lock ({@link JOB_LOCK_MS}), so a busy worker is not overtaken
 */
export const DEFAULT_SWEEP_GRACE_MS = 10_000;

/** Options for {@link RepairSweep}. */
export interface RepairSweepOptions {
  store: ApprovalStore;
  transitions: RecordTransitions;
  jobs: Pick<ApprovalJobs, 'resume' | 'drop'>;
  /** Receives `expired` and `executed`, as the worker would have emitted them. */
  events: ApprovalEmitter;
  /** Where the sweep's lock lives (the store's connection). */
  redis: Redis | Cluster;
  /** {@link DEFAULT_SWEEP_INTERVAL_MS}; 0 turns the timer off (a run is then only made by calling it). */
  intervalMs?: number;
  /** {@link DEFAULT_SWEEP_GRACE_MS} */
  graceMs?: number;
  /** Requests looked at per status and run. @defaultValue 10 000 */
  limit?: number;
  logger: Logger;
  /** The clock. @defaultValue Date.now */
  now?: () => number;
}

/** What one run did. */
export interface SweepRun {
  /** Pending requests past their deadline, expired. */
  expired: number;
  /** Approved requests whose release was lost, released (a promoted deadline job or one release job). */
  released: number;
  /** Approved or executing requests no job would ever finish, ended with a stored error. */
  interrupted: number;
}

/**
 * The repair sweep: a periodic look, on every replica, for open requests that nothing will move on
 * because a replica died between two writes or BullMQ gave a job up (a deadline job lost, a release lost,
 * a job failed as stalled after its second replica death). One replica at a time runs it (a lock in
 * Redis); every change it makes is a record transition, first writer wins, so a sweep racing a worker,
 * a decision or another sweep changes nothing twice. It never starts a call itself: an approved call runs
 * only in the worker, from its recorded approval.
 */
export class RepairSweep {
  private readonly now: () => number;
  private readonly graceMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepRun | undefined> | undefined;
  private stopped = false;

  constructor(private readonly o: RepairSweepOptions) {
    this.now = o.now ?? Date.now;
    this.graceMs = o.graceMs ?? DEFAULT_SWEEP_GRACE_MS;
  }

  /** Starts this replica's timer; the first run comes at a random point of the first interval. */
  start(): void {
    const every = this.o.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (every <= 0 || this.timer) return;
    const tick = (delay: number) => {
      this.timer = setTimeout(() => {
        void this.run().finally(() => {
          if (!this.stopped) tick(every);
        });
      }, delay);
      this.timer.unref();
    };
    tick(Math.floor(Math.random() * every));
  }

  /** Stops the timer and waits for a run in progress. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One run, unless one is in progress here (then its outcome); undefined when another replica holds the lock or Redis failed. */
  run(): Promise<SweepRun | undefined> {
    this.running ??= this.runOnce()
      .catch((err: unknown) => {
        this.o.logger.warn({ err: (err as Error).message }, 'approval repair sweep failed; retrying later');
        return undefined;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async runOnce(): Promise<SweepRun | undefined> {
    const lock = this.o.store.keys.sweepLock;
    const token = randomBytes(12).toString('hex');
    // The lock outlives a run that hangs on a dead Redis only by its expiry; runs are short.
    const ttl = Math.max(60_000, (this.o.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS) * 2);
    const got = await guardRedis('QUEUE_UNAVAILABLE', 'Approval sweep', () =>
      this.o.redis.set(lock, token, 'PX', ttl, 'NX'),
    );
    if (got !== 'OK') return undefined;
    const run: SweepRun = { expired: 0, released: 0, interrupted: 0 };
    try {
      const limit = this.o.limit ?? 10_000;
      for (const r of await this.records(await this.o.store.pendingIds(limit))) await this.expire(r, run);
      for (const status of ['approved', 'executing'] as const) {
        for (const r of await this.records(await this.o.store.idsInStatus(status, limit))) {
          await this.resume(r, run);
        }
      }
    } finally {
      await runScript(this.o.redis, 'release-lock-1', [lock], [token]).catch(() => {});
    }
    if (run.expired || run.released || run.interrupted) this.o.logger.warn(run, 'approval repair sweep');
    return run;
  }

  private async records(ids: string[]): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    for (let i = 0; i < ids.length && !this.stopped; i += 500) {
      out.push(...(await this.o.store.getMany(ids.slice(i, i + 500))));
    }
    return out;
  }

  /** A pending request past its deadline (and the grace): expired as its deadline job would have. */
  private async expire(r: StoredRecord, run: SweepRun): Promise<void> {
    if (r.status !== 'pending' || this.now() < r.expiresAt + this.graceMs) return;
    const step: TransitionStep = (current) => {
      if (current.status !== 'pending') return undefined;
      return expire(current, this.now());
    };
    const outcome = await this.o.transitions.apply(r.id, step, r);
    if (outcome.kind !== 'written') return;
    run.expired++;
    this.o.events.emit('expired', outcome.record);
    void this.o.jobs.drop(r.id);
  }

  /** An approved or executing request: left to its job while one will run it, else released once or ended. */
  private async resume(r: StoredRecord, run: SweepRun): Promise<void> {
    const since = r.status === 'approved' ? (r.decidedAt ?? r.createdAt) : (r.execution?.startedAt ?? 0);
    if (this.now() < since + this.graceMs) return;
    const found = await this.o.jobs.resume(r);
    if (found === 'live') return;
    if (found === 'released') {
      run.released++;
      this.o.logger.warn({ id: r.id }, 'an approved request had lost its release; released it');
      return;
    }
    let result: CallToolResult | undefined;
    const outcome = await this.o.transitions.apply(
      r.id,
      (current) => {
        // Only the state that was found without a job is ended; anything newer belongs to its writer.
        if (current.status !== r.status) return undefined;
        const end = current.status === 'approved' ? notStartedPlan : interruptedPlan;
        const plan = end(current, this.now());
        result = plan?.ok ? plan.result : undefined;
        return plan;
      },
      r,
    );
    if (outcome.kind !== 'written' || !result) return;
    run.interrupted++;
    this.o.logger.warn({ id: r.id, was: r.status }, 'an open request had no job left to finish it; ended it');
    this.o.events.emit('executed', outcome.record, result);
  }
}
