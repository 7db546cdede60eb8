import { Queue, Worker, DelayedError, type Job } from 'bullmq';
import type { Redis, Cluster } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { toAirlockError } from '../core/errors.js';
import { expire, finishExecution, startExecution } from '../core/approval/state-machine.js';
import { interruptedPlan } from './interruption.js';
import type { Logger } from '../log.js';
import type { ApprovalStore, StoredRecord } from './approval-store.js';
import type { ApprovalEmitter } from './approval-events.js';
import type { RecordTransitions } from './record-transitions.js';
import { errorResult, summarize } from './outcome.js';
import { FollowUpJobs } from './follow-up-jobs.js';
import { withEditedMeta } from '../gateway/tool-error.js';

/** BullMQ job states in which a job will still run (or is running). */
const LIVE_STATES: ReadonlySet<string> = new Set([
  'active',
  'waiting',
  'prioritized',
  'delayed',
  'waiting-children',
]);

/** What {@link ApprovalJobs.resume} found or did for an open request. */
export type ResumeOutcome = 'live' | 'released' | 'lost';

/** Queue name under the configured prefix. */
export const APPROVAL_QUEUE = 'approvals';

/**
 * How long a worker's claim on a running job lasts without renewal (renewed every half of it). A replica
 * that dies mid-run stops renewing, so its job counts as stalled this long after the death.
 * @defaultValue 10 s (BullMQ's own is 30 s)
 */
export const JOB_LOCK_MS = 10_000;

/**
 * How often live workers look for stalled jobs; a job is taken back on the second look that finds it
 * unlocked. With {@link JOB_LOCK_MS}, a call whose replica died is resumed (not yet run) or reported
 * interrupted (it was running) within about 20 s, on a surviving replica.
 * @defaultValue 5 s (BullMQ's own is 30 s)
 */
export const STALLED_CHECK_MS = 5_000;

/** Options for {@link ApprovalJobs}. */
export interface ApprovalJobsOptions {
  store: ApprovalStore;
  transitions: RecordTransitions;
  /** Receives `expired`, `executing`, `executed`, `reminded` and `escalated`. */
  events: ApprovalEmitter;
  /** Fail-fast connection used by the queue for adds (fails closed when Redis is down). */
  queueConnection: Redis | Cluster;
  /** Opens a blocking connection; the worker's is opened on start and closed on close. */
  blockingConnection: (name: string) => Redis | Cluster;
  prefix: string;
  /** Runs an approved call upstream; called at most once per request, on any replica. */
  execute: (record: StoredRecord) => Promise<CallToolResult>;
  logger: Logger;
  /** Worker concurrency for deadlines and releases. @defaultValue 64 */
  concurrency?: number;
  /** The clock. @defaultValue Date.now */
  now?: () => number;
}

/**
 * One BullMQ job per request: it sits delayed until the deadline (so expiry survives any replica's
 * death) and is promoted when the request is approved, so whichever replica's worker takes it runs the
 * call exactly once and stores the result.
 */
export class ApprovalJobs {
  private readonly queue: Queue;
  private worker?: Worker;
  private workerConnection?: Redis | Cluster;
  private readonly now: () => number;
  private readonly followUps: FollowUpJobs;

  constructor(private readonly o: ApprovalJobsOptions) {
    this.now = o.now ?? Date.now;
    this.queue = new Queue(APPROVAL_QUEUE, { connection: o.queueConnection, prefix: o.prefix });
    this.queue.on('error', (err) => o.logger.warn({ err: err.message }, 'approval queue error'));
    this.followUps = new FollowUpJobs({ ...o, queue: this.queue, now: this.now });
  }

  /** Starts this replica's worker. */
  async start(): Promise<void> {
    this.workerConnection = this.o.blockingConnection('airlock-worker');
    this.worker = new Worker(APPROVAL_QUEUE, (job) => this.process(job), {
      connection: this.workerConnection,
      prefix: this.o.prefix,
      concurrency: this.o.concurrency ?? 64,
      // A stalled job means its replica died mid-run: process() turns that into "interrupted", not a rerun.
      maxStalledCount: 1,
      lockDuration: JOB_LOCK_MS,
      stalledInterval: STALLED_CHECK_MS,
    });
    this.worker.on('error', (err) => this.o.logger.warn({ err: err.message }, 'approval worker error'));
    await this.worker.waitUntilReady();
  }

  /** Stops the worker (letting running calls finish) and the queue. */
  async close(): Promise<void> {
    await this.worker?.close().catch(() => {});
    await this.queue.close().catch(() => {});
    this.workerConnection?.disconnect();
  }

  /** Adds the request's deadline job and its reminders and escalations, in one write; a request without them must not stay pending. */
  async schedule(record: StoredRecord): Promise<void> {
    await this.queue.addBulk([this.deadlineJob(record), ...this.followUps.jobsFor(record)]);
  }

  /**
   * Finishes what a replica that died mid-way left undone for an open request: a pending request whose
   * deadline job was never added gets it (the job id makes a racing add a no-op), and an approved request
   * whose release was lost is released. Both are idempotent; the worker still runs a call at most once.
   */
  async repair(record: StoredRecord): Promise<void> {
    if (record.status === 'approved') return this.release(record.id);
    if (record.status !== 'pending' || (await this.queue.getJob(record.id))) return;
    const { name, data, opts } = this.deadlineJob(record);
    await this.queue.add(name, data, opts);
    this.o.logger.warn({ id: record.id }, 'a pending request had no deadline job; added it');
  }

  private deadlineJob(record: StoredRecord) {
    return {
      name: 'request',
      data: { id: record.id },
      opts: {
        jobId: record.id,
        delay: Math.max(0, record.expiresAt - this.now()),
        removeOnComplete: true,
        removeOnFail: { age: 7 * 24 * 3600 },
        attempts: 5,
        backoff: { type: 'exponential' as const, delay: 500 },
      },
    };
  }

  /** Makes the request's job run now; if it is running already, its worker sees the approval. */
  async release(id: string): Promise<void> {
    void this.dropFollowUps(id);
    const job = await this.queue.getJob(id);
    if (job) {
      try {
        await job.promote();
        return;
      } catch (err) {
        const state = await job.getState().catch(() => 'unknown');
        if (state === 'active' || state === 'waiting' || state === 'prioritized') return;
        this.o.logger.warn({ err: (err as Error).message, id, state }, 'could not promote approval job');
      }
    }
    // The job is gone (completed early, removed or failed): a fresh one runs the release.
    await this.addRelease(id);
  }

  /**
   * Looks after an approved or executing request that no replica is looking after: when one of its jobs
   * will still run it, that job does (a deadline job still delayed is promoted: its release was lost);
   * an approved request with no such job gets one release job — the only one it can ever have, since
   * BullMQ keeps the job id while the job exists, failed ones included. `lost` means no job will run it
   * and none may be added: the caller ends the request without running it again.
   */
  async resume(record: StoredRecord): Promise<ResumeOutcome> {
    const [main, release] = await Promise.all([
      this.queue.getJobState(record.id),
      this.queue.getJobState(releaseJobId(record.id)),
    ]);
    if (LIVE_STATES.has(main) || LIVE_STATES.has(release)) {
      if (record.status !== 'approved' || main !== 'delayed') return 'live';
      await this.release(record.id);
      return 'released';
    }
    if (record.status !== 'approved' || release !== 'unknown') return 'lost';
    await this.addRelease(record.id);
    return 'released';
  }

  private async addRelease(id: string): Promise<void> {
    await this.queue.add(
      'request',
      { id },
      { jobId: releaseJobId(id), removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 }, attempts: 5 },
    );
  }

  /** Removes the deadline job of a request that ended without running. */
  async drop(id: string): Promise<void> {
    void this.dropFollowUps(id);
    try {
      const job = await this.queue.getJob(id);
      if (job && (await job.isDelayed())) await job.remove();
    } catch {
      // The deadline job finds a final record and does nothing; removing it only saves memory.
    }
  }

  private async dropFollowUps(id: string): Promise<void> {
    const record = await this.o.store.get(id).catch(() => undefined);
    if (record) await this.followUps.drop(record);
  }

  /** The worker: expire at the deadline, or run an approved call once; follow-ups have their own. */
  private async process(job: Job<{ id: string; n?: number }>): Promise<void> {
    if (job.name !== 'request') return this.followUps.process(job as Job<{ id: string; n: number }>);
    const id = job.data.id;
    let interrupted: CallToolResult | undefined;
    const outcome = await this.o.transitions.apply(id, async (r) => {
      const now = this.now();
      switch (r.status) {
        case 'pending':
          if (now < r.expiresAt) {
            // Promoted early by a race with a decision that then lost: wait for the real deadline.
            await job.moveToDelayed(r.expiresAt, job.token);
            throw new DelayedError();
          }
          return expire(r, now);
        case 'approved':
          return startExecution(r, now);
        case 'executing': {
          // Its worker died mid-run: whether the upstream ran is unknown, so it is never run again.
          const plan = interruptedPlan(r, now);
          if (plan?.ok) interrupted = plan.result;
          return plan;
        }
        default:
          return undefined;
      }
    });
    if (outcome.kind !== 'written') return;
    const written = outcome.record;
    if (written.status === 'expired') {
      this.o.events.emit('expired', written);
      void this.followUps.drop(written);
    } else if (written.status === 'executing') {
      this.o.events.emit('executing', written);
      await this.run(written);
    } else if (interrupted) this.o.events.emit('executed', written, interrupted);
  }

  /** Runs a claimed call upstream and stores how it ended. */
  private async run(claimed: StoredRecord): Promise<void> {
    let result: CallToolResult;
    try {
      result = withEditedMeta(await this.o.execute(claimed), claimed);
    } catch (err) {
      const e = toAirlockError(err, 'UPSTREAM_ERROR');
      result = withEditedMeta(errorResult(`The approved call ran into an error: ${e.message}`), claimed);
    }
    const ended = { isError: Boolean(result.isError), summary: summarize(result) };
    const outcome = await this.o.transitions.apply(
      claimed.id,
      (current) => {
        const t = finishExecution(current, this.now(), ended);
        return t.ok ? { ...t, result } : t;
      },
      claimed,
    );
    if (outcome.kind === 'written') this.o.events.emit('executed', outcome.record, result);
  }
}

/** The id of a request's release job, added when its deadline job can no longer run the release. */
function releaseJobId(id: string): string {
  return `${id}-release`;
}
