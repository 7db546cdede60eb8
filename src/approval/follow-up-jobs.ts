import { DelayedError, type Job, type JobsOptions, type Queue } from 'bullmq';
import { escalate, remind } from '../core/approval/state-machine.js';
import type { Logger } from '../log.js';
import type { StoredRecord } from './approval-store.js';
import type { ApprovalEmitter } from './approval-events.js';
import type { RecordTransitions } from './record-transitions.js';

/** Job name of a request's reminder on the approvals queue; one job per request, rescheduled while pending. */
export const REMIND_JOB = 'remind';
/** Job name of one escalation step on the approvals queue. */
export const ESCALATE_JOB = 'escalate';

/** A follow-up job: `n` is the reminder number (1-based) or the escalation step index. */
export interface FollowUpJobData {
  id: string;
  n: number;
}

/** One job as `Queue.addBulk` takes it. */
export interface BulkJob {
  name: string;
  data: { id: string; n?: number };
  opts: JobsOptions;
}

/** Options for {@link FollowUpJobs}. */
export interface FollowUpJobsOptions {
  /** The approvals queue, shared with the deadline jobs so one add stores them all. */
  queue: Queue;
  transitions: RecordTransitions;
  /** Receives `reminded` and `escalated`. */
  events: ApprovalEmitter;
  logger: Logger;
  now: () => number;
}

const JOB_OPTIONS: JobsOptions = {
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
};

/**
 * Reminders and escalation steps as delayed BullMQ jobs, so they fire on whichever replica is alive.
 * A job that finds its request no longer pending does nothing; the transitions are idempotent, so a
 * re-delivered job neither pings nor adds approvers twice.
 */
export class FollowUpJobs {
  constructor(private readonly o: FollowUpJobsOptions) {}

  /** The follow-up jobs of a new request, to add together with its deadline job. */
  jobsFor(record: StoredRecord): BulkJob[] {
    const { remindMs, escalate: steps = [] } = record.approval;
    const jobs: BulkJob[] = [];
    const delayTo = (at: number) => Math.max(0, at - this.o.now());
    if (remindMs !== undefined && record.createdAt + remindMs < record.expiresAt) {
      jobs.push({
        name: REMIND_JOB,
        data: { id: record.id, n: 1 },
        opts: { ...JOB_OPTIONS, jobId: remindJobId(record.id), delay: delayTo(record.createdAt + remindMs) },
      });
    }
    steps.forEach((step, n) => {
      jobs.push({
        name: ESCALATE_JOB,
        data: { id: record.id, n },
        opts: {
          ...JOB_OPTIONS,
          jobId: escalateJobId(record.id, n),
          delay: delayTo(record.createdAt + step.afterMs),
        },
      });
    });
    return jobs;
  }

  /** Removes the follow-ups of a request that left `pending`; any that run anyway find it decided. */
  async drop(record: StoredRecord): Promise<void> {
    const ids = [
      remindJobId(record.id),
      ...(record.approval.escalate ?? []).map((_, n) => escalateJobId(record.id, n)),
    ];
    for (const jobId of ids) {
      try {
        const job = await this.o.queue.getJob(jobId);
        if (job && (await job.isDelayed())) await job.remove();
      } catch {
        // Removing only saves memory: a follow-up that fires finds the request decided.
      }
    }
  }

  /** Runs one follow-up: records it on a pending request, emits it, and schedules the next reminder. */
  async process(job: Job<FollowUpJobData>): Promise<void> {
    const { id, n } = job.data;
    const reminding = job.name === REMIND_JOB;
    const outcome = await this.o.transitions.apply(id, (r) => {
      const now = this.o.now();
      if (r.status !== 'pending' || now >= r.expiresAt) return undefined;
      const t = reminding ? remind(r, n, now) : escalate(r, n, now);
      return t.ok && !t.changed ? undefined : t;
    });
    if (outcome.kind === 'written')
      this.o.events.emit(reminding ? 'reminded' : 'escalated', outcome.record, n);
    if (outcome.kind === 'refused') {
      this.o.logger.debug({ id, job: job.name, n, reason: outcome.refusal.message }, 'follow-up skipped');
    }
    if (!reminding || outcome.kind === 'missing') return;
    const r = outcome.record;
    const every = r.approval.remindMs;
    if (r.status !== 'pending' || every === undefined) return;
    const next = this.o.now() + every;
    if (next >= r.expiresAt) return;
    // The same job waits for the next reminder, so dropping one job id stops them all.
    await job.updateData({ id, n: n + 1 });
    await job.moveToDelayed(next, job.token);
    throw new DelayedError();
  }
}

function remindJobId(id: string): string {
  return `${id}-remind`;
}

function escalateJobId(id: string, step: number): string {
  return `${id}-escalate-${step}`;
}
