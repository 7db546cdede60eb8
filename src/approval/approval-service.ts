import { EventEmitter } from 'node:events';
import { Queue, Worker, DelayedError, type Job } from 'bullmq';
import type { Redis, Cluster } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import type { ApprovalRecord, DecisionVia, ReviewerDecision } from '../core/approval/types.js';
import { dedupeKey, argumentHash } from '../core/approval/canonical.js';
import {
  applyDecision,
  cancel as cancelTransition,
  expire,
  finishExecution,
  startExecution,
  type DecisionContext,
} from '../core/approval/state-machine.js';
import { resolveIdentity, type ReviewerRef } from '../core/approval/identity.js';
import { isRefusalError, refusalToError } from '../core/approval/refusal.js';
import type { ApprovalGate, CallHooks, HeldCall } from '../gateway/gateway.js';
import type { Logger } from '../log.js';
import type { ApprovalStore, StoredRecord } from './approval-store.js';
import { outcomeOf, errorResult, summarize } from './outcome.js';
import { humanDuration } from '../core/human-duration.js';
import { ReleaseWaiters } from './release-waiters.js';

/** Who is deciding, as each surface knows them. */
export interface DecisionInput {
  reviewerId?: string;
  slackUserId?: string;
  display?: string;
  via: DecisionVia;
  decision: 'approve' | 'reject';
  reason?: string;
  comment?: string;
}

/** Events for Slack, audit, history and metrics, emitted on the replica where the change happened. */
export interface ApprovalEvents {
  created: [record: StoredRecord];
  decided: [record: StoredRecord, decision: ReviewerDecision];
  refused: [id: string, input: DecisionInput, error: AirlockError];
  expired: [record: StoredRecord];
  cancelled: [record: StoredRecord];
  executing: [record: StoredRecord];
  executed: [record: StoredRecord, result: CallToolResult];
}

/** Everything the approval service needs, wired by the composition root. */
export interface ApprovalServiceOptions {
  store: ApprovalStore;
  /** Fail-fast connection used by the queue for adds (fails closed when Redis is down). */
  queueConnection: Redis | Cluster;
  /** Opens a blocking connection (worker, subscriber). */
  blockingConnection: (name: string) => Redis | Cluster;
  prefix: string;
  /** Runs an approved call upstream; called at most once per request, on any replica. */
  execute: (record: StoredRecord) => Promise<CallToolResult>;
  reviewers: readonly ReviewerRef[];
  agents: readonly { id: string; owner?: string }[];
  /** Resolves Slack user groups to their members (cached by the caller). */
  groupMembers?: (groupIds: string[]) => Promise<Record<string, string[]>>;
  /** Where reviewers are asked, for the agent's progress message. */
  channelLabel?: (record: StoredRecord) => string;
  /** Anyone may decide when no reviewers are configured (loopback-only open mode). */
  openAccess: boolean;
  logger: Logger;
  /** Worker concurrency for deadlines and releases. @defaultValue 64 */
  concurrency?: number;
  now?: () => number;
}

/** Queue name under the configured prefix. */
export const APPROVAL_QUEUE = 'approvals';

/** How often a held call gets a progress notification. @defaultValue 5 s (the contract asks for ≤ 10 s) */
export const PROGRESS_INTERVAL_MS = 5_000;

/**
 * Holds calls for human approval. One record and one BullMQ job per request: the job sits delayed until
 * the deadline (so expiry survives any replica's death) and is promoted when the request is approved,
 * so whichever replica's worker takes it runs the call exactly once and stores the result.
 */
export class ApprovalService extends EventEmitter<ApprovalEvents> implements ApprovalGate {
  private readonly queue: Queue;
  private worker?: Worker;
  private subscriber?: Redis | Cluster;
  private readonly waiters = new ReleaseWaiters();
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly o: ApprovalServiceOptions) {
    super();
    this.now = o.now ?? Date.now;
    this.queue = new Queue(APPROVAL_QUEUE, { connection: o.queueConnection, prefix: o.prefix });
    this.queue.on('error', (err) => o.logger.warn({ err: err.message }, 'approval queue error'));
  }

  /** Starts this replica's worker and its release listener. */
  async start(): Promise<void> {
    this.subscriber = this.o.blockingConnection('airlock-sub');
    this.subscriber.on('message', (_channel: string, id: string) => this.waiters.wake(id));
    await this.subscriber.subscribe(this.o.store.keys.events);
    this.worker = new Worker(APPROVAL_QUEUE, (job) => this.process(job), {
      connection: this.o.blockingConnection('airlock-worker'),
      prefix: this.o.prefix,
      concurrency: this.o.concurrency ?? 64,
      // A stalled job means its replica died mid-run; process() turns that into "interrupted", not a rerun.
      maxStalledCount: 1,
    });
    this.worker.on('error', (err) => this.o.logger.warn({ err: err.message }, 'approval worker error'));
    await this.worker.waitUntilReady();
  }

  /** Stops the worker and listener; held calls on this replica answer "pending". */
  async close(): Promise<void> {
    this.closed = true;
    this.waiters.wakeAll();
    await this.worker?.close().catch(() => {});
    await this.queue.close().catch(() => {});
    this.subscriber?.disconnect();
    (this.worker as unknown as { opts?: { connection?: Redis } })?.opts?.connection?.disconnect?.();
  }

  /** The record of a request. */
  async get(id: string): Promise<StoredRecord | undefined> {
    return this.o.store.get(id);
  }

  /** Pending requests, oldest first. */
  async pending(limit = 200): Promise<StoredRecord[]> {
    return this.o.store.getMany(await this.o.store.pendingIds(limit));
  }

  /** Holds a call: stores the request (or attaches an identical retry), waits up to `wait`, answers. */
  async hold(call: HeldCall, hooks: CallHooks): Promise<CallToolResult> {
    const spec = call.decision.approval!;
    const now = this.now();
    const owner = this.o.agents.find((a) => a.id === call.agent)?.owner;
    const record: ApprovalRecord = {
      id: call.requestId,
      createdAt: now,
      expiresAt: now + spec.timeoutMs,
      server: call.server,
      tool: call.tool,
      agent: call.agent,
      ...(owner ? { agentOwner: owner } : {}),
      args: call.args,
      argsHash: argumentHash(call.server, call.tool, call.args),
      rule: call.decision.rule,
      approval: spec,
      status: 'pending',
      decisions: [],
    };
    let stored: StoredRecord;
    try {
      const res = await this.o.store.createOrAttach(
        record,
        dedupeKey(call.agent, call.server, call.tool, call.args),
      );
      stored = res.record;
      if (res.created) {
        await this.schedule(stored).catch(async (err) => {
          // Without its deadline job the request could hang forever; withdraw it and fail closed.
          const c = cancelTransition(stored, this.now(), 'approval queue unavailable');
          if (c.ok) await this.o.store.compareAndSet(stored, c.record).catch(() => {});
          throw err;
        });
        this.emit('created', stored);
      }
    } catch (err) {
      const e = toAirlockError(err, 'QUEUE_UNAVAILABLE');
      throw new AirlockError(
        'QUEUE_UNAVAILABLE',
        `Call to ${call.server}/${call.tool} needs approval, but the approval queue is unreachable (${e.message}); it was not run.`,
        { rule: call.decision.rule },
      );
    }
    return this.await(stored, hooks);
  }

  /** Records a reviewer's decision (first decision wins across replicas) and releases an approved call. */
  async decide(id: string, input: DecisionInput): Promise<StoredRecord> {
    try {
      const by = resolveIdentity(this.o.reviewers, {
        reviewerId: input.reviewerId,
        slackUserId: input.slackUserId,
      });
      for (let attempt = 0; attempt < 50; attempt++) {
        const current = await this.o.store.get(id);
        if (!current) throw new AirlockError('NOT_FOUND', `Request ${id} not found`);
        const decision: ReviewerDecision = {
          by,
          via: input.via,
          at: this.now(),
          decision: input.decision,
          ...(input.display ? { display: input.display } : {}),
          ...(input.reason ? { reason: input.reason } : {}),
          ...(input.comment ? { comment: input.comment } : {}),
        };
        const result = applyDecision(current, decision, await this.context(current, input.via));
        if (!result.ok) throw refusalToError(result);
        const written = await this.o.store.compareAndSet(current, result.record);
        if (!written) continue;
        this.emit('decided', written, decision);
        if (written.status === 'approved') await this.release(id);
        else if (written.status === 'rejected') void this.dropJob(id);
        return written;
      }
      throw new AirlockError('QUEUE_UNAVAILABLE', `Request ${id} is too contended; try again`);
    } catch (err) {
      const e = toAirlockError(err, 'QUEUE_UNAVAILABLE');
      if (isRefusalError(e)) this.emit('refused', id, input, e);
      throw e;
    }
  }

  /** Withdraws a pending request (the agent cancelled, or an operator did). */
  async cancel(id: string, reason: string): Promise<StoredRecord | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.o.store.get(id);
      if (!current || current.status !== 'pending') return undefined;
      const c = cancelTransition(current, this.now(), reason);
      if (!c.ok) return undefined;
      const written = await this.o.store.compareAndSet(current, c.record);
      if (!written) continue;
      this.emit('cancelled', written);
      void this.dropJob(id);
      return written;
    }
    return undefined;
  }

  private async context(record: StoredRecord, via: DecisionVia): Promise<DecisionContext> {
    const groups = record.approval.approvers.filter((a) => /^S[A-Z0-9]{2,}$/.test(a));
    const groupMembers = groups.length && this.o.groupMembers ? await this.o.groupMembers(groups) : {};
    // Open mode trusts whoever reaches the loopback console/API/CLI; it never extends to a Slack channel.
    const openAccess = this.o.openAccess && via !== 'slack';
    return { reviewers: this.o.reviewers, groupMembers, openAccess, now: this.now() };
  }

  private async schedule(record: StoredRecord): Promise<void> {
    await this.queue.add(
      'request',
      { id: record.id },
      {
        jobId: record.id,
        delay: Math.max(0, record.expiresAt - this.now()),
        removeOnComplete: true,
        removeOnFail: { age: 7 * 24 * 3600 },
        attempts: 5,
        backoff: { type: 'exponential', delay: 500 },
      },
    );
  }

  /** Makes the request's job run now; if it is running already, its worker sees the approval. */
  private async release(id: string): Promise<void> {
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
    // The job is gone (completed early or removed): a fresh one runs the release.
    await this.queue.add('request', { id }, { jobId: `${id}-release`, removeOnComplete: true, attempts: 5 });
  }

  private async dropJob(id: string): Promise<void> {
    try {
      const job = await this.queue.getJob(id);
      if (job && (await job.isDelayed())) await job.remove();
    } catch {
      // The deadline job finds a final record and does nothing; removing it only saves memory.
    }
  }

  /** The worker: expire at the deadline, or run an approved call once. */
  private async process(job: Job<{ id: string }>): Promise<void> {
    const id = job.data.id;
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await this.o.store.get(id);
      if (!r) return;
      if (r.status === 'pending') {
        if (this.now() < r.expiresAt) {
          // Promoted early by a race with a decision that then lost: wait for the real deadline.
          await job.moveToDelayed(r.expiresAt, job.token);
          throw new DelayedError();
        }
        const t = expire(r, this.now());
        if (!t.ok) continue;
        const written = await this.o.store.compareAndSet(r, t.record);
        if (written) this.emit('expired', written);
        if (written) return;
        continue;
      }
      if (r.status === 'approved') {
        const t = startExecution(r, this.now());
        if (!t.ok) continue;
        const claimed = await this.o.store.compareAndSet(r, t.record);
        if (!claimed) continue;
        this.emit('executing', claimed);
        await this.run(claimed);
        return;
      }
      if (r.status === 'executing') {
        // Its worker died mid-run: whether the upstream ran is unknown, so it is never run again.
        const summary = 'Interrupted: the gateway running this call stopped before it finished; not retried.';
        const t = finishExecution(r, this.now(), { isError: true, summary });
        const result = errorResult(
          `Approved call ${id} was interrupted before it finished; it was not retried.`,
        );
        const written = t.ok ? await this.o.store.compareAndSet(r, t.record, result) : undefined;
        if (written) {
          this.emit('executed', written, result);
          return;
        }
        continue;
      }
      return;
    }
    throw new Error(`request ${id}: too many concurrent updates`);
  }

  private async run(record: StoredRecord): Promise<void> {
    let result: CallToolResult;
    try {
      result = await this.o.execute(record);
    } catch (err) {
      const e = toAirlockError(err, 'UPSTREAM_ERROR');
      result = errorResult(`The approved call ran into an error: ${e.message}`);
    }
    const summary = summarize(result);
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = attempt === 0 ? record : await this.o.store.get(record.id);
      if (!current) return;
      const t = finishExecution(current, this.now(), { isError: Boolean(result.isError), summary });
      if (!t.ok) return;
      const written = await this.o.store.compareAndSet(current, t.record, result);
      if (written) {
        this.emit('executed', written, result);
        return;
      }
    }
  }

  /** Waits for the request's outcome up to `wait`, with progress; then answers "pending". */
  private async await(initial: StoredRecord, hooks: CallHooks): Promise<CallToolResult> {
    const id = initial.id;
    const started = this.now();
    // When the wait reaches the deadline, wait for the expiry itself so the agent hears "expired", not "pending".
    const waitUntil =
      started + initial.approval.waitMs >= initial.expiresAt
        ? initial.expiresAt + 2000
        : started + initial.approval.waitMs;
    let record: StoredRecord | undefined = initial;
    let ticks = 0;
    const progress = () => {
      if (!hooks.onProgress || !record) return;
      const left = Math.max(0, record.expiresAt - this.now());
      hooks.onProgress({
        progress: ++ticks,
        message: `waiting for approval in ${this.o.channelLabel?.(record) ?? 'the Airlock console'}, request ${id}, expires in ${humanDuration(left)}`,
      });
    };
    progress();
    // Watch before the first read, so a decision landing in between is seen.
    const watch = this.waiters.watch(id);
    try {
      let seen = watch.changes;
      record = await this.o.store.get(id);
      while (record) {
        const outcome = await outcomeOf(record, this.o.store);
        if (outcome) return outcome;
        const left = waitUntil - this.now();
        if (left <= 0 || this.closed) break;
        const woke = await watch.wait(seen, Math.min(left, PROGRESS_INTERVAL_MS), hooks.signal);
        if (hooks.signal.aborted) {
          // A closed session is a disconnect (the call still runs if approved); a cancel withdraws it.
          await new Promise((r) => setImmediate(r));
          if (!hooks.disconnected?.()) await this.cancel(id, 'cancelled by the agent').catch(() => {});
          break;
        }
        if (!woke) progress();
        seen = watch.changes;
        record = await this.o.store.get(id);
      }
    } finally {
      watch.close();
    }
    if (record && !hooks.signal.aborted) {
      const outcome = await outcomeOf(record, this.o.store);
      if (outcome) return outcome;
    }
    throw new AirlockError(
      'APPROVAL_PENDING',
      `Approval pending (request ${id}). Call again with the same arguments to get the result; it will run at most once.`,
      { requestId: id, rule: initial.rule },
    );
  }
}
