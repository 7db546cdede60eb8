import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { ApprovalService } from '../approval/approval-service.js';
import type { StoredRecord } from '../approval/approval-store.js';
import type { Logger } from '../log.js';
import { NoChannelError, NotPostedYetError, type MessageSync } from './message-sync.js';
import { classifySlackError } from './slack-errors.js';

/** Name of the Slack notification queue under the configured prefix. */
export const SLACK_QUEUE = 'slack';

/** One Slack notification: post the request, update its message, reply in its thread, remind or escalate. */
export interface SlackJobData {
  kind: 'post' | 'update' | 'reply' | 'remind' | 'escalate';
  id: string;
  /** The escalation step, for `escalate`. */
  step?: number;
}

/** How the notifier retries; the defaults ride out a Slack outage of about 17 minutes. */
export interface SlackNotifierRetryOptions {
  /** Attempts per job before it is left failed (429 waits do not count). @defaultValue 10 */
  attempts?: number;
  /** First backoff delay in ms, doubled on each failed attempt. @defaultValue 1000 */
  backoffMs?: number;
  /** Jobs one replica runs at once. @defaultValue 4 */
  concurrency?: number;
  /** How often pending requests are checked for a message that was never queued. @defaultValue 60000 */
  sweepIntervalMs?: number;
}

/** What {@link SlackNotifier} needs. */
export interface SlackNotifierOptions extends SlackNotifierRetryOptions {
  approvals: ApprovalService;
  sync: MessageSync;
  /** Fail-fast connection for adding jobs. */
  queueConnection: Redis | Cluster;
  /** Opens the worker's blocking connection. */
  blockingConnection: (name: string) => Redis | Cluster;
  prefix: string;
  logger: Logger;
}

/**
 * Turns approval events into BullMQ jobs that talk to Slack, so Slack's outages and rate limits are
 * retried durably on any replica and never slow a decision. Job ids make each notification happen
 * once per request (or per record version) however many replicas see the event.
 */
export class SlackNotifier {
  private readonly queue: Queue<SlackJobData>;
  private worker?: Worker<SlackJobData>;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly detach: (() => void)[] = [];
  private readonly warnedRules = new Set<string>();
  private sweepTimer?: NodeJS.Timeout;

  constructor(private readonly o: SlackNotifierOptions) {
    this.attempts = o.attempts ?? 10;
    this.backoffMs = o.backoffMs ?? 1000;
    this.queue = new Queue<SlackJobData>(SLACK_QUEUE, { connection: o.queueConnection, prefix: o.prefix });
    this.queue.on('error', (err) => o.logger.warn({ err: err.message }, 'slack queue error'));
  }

  /** Subscribes to the approval service's events; call once, before requests arrive. */
  attach(): void {
    const { approvals } = this.o;
    const post = (r: StoredRecord) => {
      if (this.postable(r)) this.enqueue('post', r.id, `post-${r.id}`);
    };
    const update = (r: StoredRecord) => {
      if (this.postable(r)) this.enqueue('update', r.id, `update-${r.id}-${r.version}`);
    };
    const executed = (r: StoredRecord) => {
      // The message shows "ran in …" and the thread says how it went.
      update(r);
      if (this.postable(r)) this.enqueue('reply', r.id, `reply-${r.id}`);
    };
    const remind = (r: StoredRecord, n: number) => {
      if (this.postable(r)) this.enqueue('remind', r.id, `remind-${r.id}-${n}`);
    };
    const escalate = (r: StoredRecord, step: number) => {
      if (this.postable(r)) this.enqueue('escalate', r.id, `escalate-${r.id}-${step}`, step);
    };
    approvals.on('reminded', remind);
    approvals.on('escalated', escalate);
    approvals.on('created', post);
    approvals.on('decided', update);
    approvals.on('expired', update);
    approvals.on('cancelled', update);
    approvals.on('executed', executed);
    this.detach.push(() => {
      approvals.off('reminded', remind);
      approvals.off('escalated', escalate);
      approvals.off('created', post);
      approvals.off('decided', update);
      approvals.off('expired', update);
      approvals.off('cancelled', update);
      approvals.off('executed', executed);
    });
  }

  /** Starts this replica's worker. */
  async start(): Promise<void> {
    this.worker = new Worker<SlackJobData>(SLACK_QUEUE, (job, token) => this.process(job, token), {
      connection: this.o.blockingConnection('airlock-slack-worker'),
      prefix: this.o.prefix,
      concurrency: this.o.concurrency ?? 4,
    });
    this.worker.on('error', (err) => this.o.logger.warn({ err: err.message }, 'slack worker error'));
    this.worker.on('failed', (job, err) => {
      if (!job || err instanceof DelayedError) return;
      const final = job.attemptsMade >= this.attempts || err instanceof UnrecoverableError;
      this.o.logger[final ? 'error' : 'debug'](
        { job: job.id, attempt: job.attemptsMade, err: err.message },
        final ? 'gave up on a Slack notification' : 'Slack notification failed; will retry',
      );
    });
    await this.worker.waitUntilReady();
    void this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.o.sweepIntervalMs ?? 60_000);
    this.sweepTimer.unref();
  }

  /**
   * Queues the post of every pending request that has no message yet. Catches what event-driven
   * queueing can miss: a replica that died between storing a request and queueing its post, or a
   * Redis blip during the add. Job ids make this a no-op for requests already queued.
   */
  async sweep(): Promise<void> {
    try {
      for (const record of await this.o.approvals.pending()) {
        if (!record.slack && this.postable(record)) this.enqueue('post', record.id, `post-${record.id}`);
      }
    } catch (err) {
      this.o.logger.debug({ err: (err as Error).message }, 'Slack sweep skipped');
    }
  }

  /** Stops listening and closes the worker (running jobs finish) and the queue. */
  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const fn of this.detach.splice(0)) fn();
    await this.worker?.close().catch(() => {});
    await this.queue.close().catch(() => {});
  }

  // A rule with no channel and no slack.channel is decided in the console only; said once per rule.
  private postable(record: StoredRecord): boolean {
    if (this.o.sync.channelOf(record)) return true;
    if (!this.warnedRules.has(record.rule)) {
      this.warnedRules.add(record.rule);
      this.o.logger.warn(
        { rule: record.rule },
        'no Slack channel for this rule (approval.channel or slack.channel); not posting',
      );
    }
    return false;
  }

  /** Adds a job; fire-and-forget for the caller, so a Redis or Slack problem never blocks a decision. */
  enqueue(kind: SlackJobData['kind'], id: string, jobId: string, step?: number): void {
    this.queue
      .add(
        kind,
        { kind, id, ...(step === undefined ? {} : { step }) },
        {
          jobId,
          attempts: this.attempts,
          backoff: { type: 'exponential', delay: this.backoffMs, jitter: 0.2 },
          // Kept a day after completion so a repeated event cannot post or reply twice.
          removeOnComplete: { age: 24 * 3600 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      )
      .catch((err: Error) =>
        this.o.logger.error({ id, kind, err: err.message }, 'could not queue a Slack notification'),
      );
  }

  private async process(job: Job<SlackJobData>, token?: string): Promise<void> {
    const { kind, id } = job.data;
    try {
      if (kind === 'escalate') await this.o.sync.escalate(id, job.data.step ?? 0);
      else await this.o.sync[kind](id);
    } catch (err) {
      if (err instanceof NotPostedYetError) throw err;
      if (err instanceof NoChannelError) throw new UnrecoverableError(err.message);
      const failure = classifySlackError(err);
      if (failure.kind === 'rate-limited') {
        // Slack said exactly when to come back; that wait is not a failed attempt.
        this.o.logger.info({ id, kind, retryAfterMs: failure.retryAfterMs }, 'Slack rate limit; waiting');
        await job.moveToDelayed(Date.now() + failure.retryAfterMs, token);
        throw new DelayedError();
      }
      if (failure.kind === 'permanent') throw new UnrecoverableError(failure.message);
      throw err;
    }
  }
}
