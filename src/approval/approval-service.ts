import { EventEmitter } from 'node:events';
import type { Redis, Cluster } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ReviewerRef } from '../core/approval/identity.js';
import type { ApprovalGate, CallHooks, HeldCall } from '../gateway/gateway.js';
import type { Logger } from '../log.js';
import type { GrantService } from '../grants/grant-service.js';
import type { EditChecker } from './edit-check.js';
import type { ApprovalStore, StoredRecord } from './approval-store.js';
import type { ApprovalEvents, DecisionInput } from './approval-events.js';
import { ApprovalCommands } from './approval-commands.js';
import { ApprovalJobs } from './approval-jobs.js';
import { HeldCallWaiter } from './held-call-waiter.js';
import { heldQuestionsResult } from '../gateway/held-questions.js';
import { RecordTransitions } from './record-transitions.js';
import { RepairSweep, type SweepRun } from './repair-sweep.js';

export type { ApprovalEvents, DecisionInput } from './approval-events.js';
export { APPROVAL_QUEUE } from './approval-jobs.js';
export { PROGRESS_INTERVAL_MS } from './held-call-waiter.js';
export { DEFAULT_SWEEP_INTERVAL_MS, type SweepRun } from './repair-sweep.js';

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
  /** Resolves Slack user groups to their members (cached by the caller). @defaultValue no groups */
  groupMembers?: (groupIds: string[]) => Promise<Record<string, string[]>>;
  /** Where reviewers are asked, for the agent's progress message. @defaultValue 'the Airlock console' */
  channelLabel?: (record: StoredRecord) => string;
  /** Anyone may decide when no reviewers are configured (loopback-only open mode). */
  openAccess: boolean;
  logger: Logger;
  /** Worker concurrency for deadlines and releases. @defaultValue 64 */
  concurrency?: number;
  /** Where approvals with a grant store it. @defaultValue none: approvals with a grant are refused */
  grants?: GrantService;
  /** Checks edited arguments (schema, policy). @defaultValue none: approvals with edited arguments are refused */
  edits?: EditChecker;
  /**
   * How often this replica runs the repair sweep (one replica at a time does the work); 0: no timer.
   * @defaultValue DEFAULT_SWEEP_INTERVAL_MS (30 s)
   */
  sweepIntervalMs?: number;
  /** How long the sweep leaves a request to the normal path first. @defaultValue DEFAULT_SWEEP_GRACE_MS (10 s) */
  sweepGraceMs?: number;
  /** The clock. @defaultValue Date.now */
  now?: () => number;
}

/**
 * Holds calls for human approval: the one object the gateway, Slack, HTTP and CLI see. It wires the
 * commands ({@link ApprovalCommands}), the BullMQ job lifecycle ({@link ApprovalJobs}) and the wait of a
 * held call ({@link HeldCallWaiter}) to one store and one event emitter.
 */
export class ApprovalService extends EventEmitter<ApprovalEvents> implements ApprovalGate {
  private readonly commands: ApprovalCommands;
  private readonly jobs: ApprovalJobs;
  private readonly waiter: HeldCallWaiter;
  private readonly sweeper: RepairSweep;

  constructor(o: ApprovalServiceOptions) {
    super();
    const transitions = new RecordTransitions(o.store);
    this.jobs = new ApprovalJobs({ ...o, transitions, events: this });
    this.commands = new ApprovalCommands({ ...o, transitions, jobs: this.jobs, events: this });
    this.waiter = new HeldCallWaiter({
      ...o,
      cancel: (id, reason) => this.commands.cancel(id, reason),
      // Only a request that takes input_required answers (2026-07-28) is asked the approved call's questions.
      questions: async (id, hooks) => {
        if (hooks.passInputRequired !== true) return undefined;
        const asked = await o.store.questions(id).catch(() => undefined);
        return asked && heldQuestionsResult(asked);
      },
    });
    this.sweeper = new RepairSweep({
      ...o,
      transitions,
      jobs: this.jobs,
      events: this,
      redis: o.queueConnection,
      intervalMs: o.sweepIntervalMs,
      graceMs: o.sweepGraceMs,
    });
  }

  /** Starts this replica's worker, its release listener and its repair sweep. */
  async start(): Promise<void> {
    await this.waiter.start();
    await this.jobs.start();
    this.sweeper.start();
  }

  /** Stops the sweep, the worker and the listener; held calls on this replica answer "pending". */
  async close(): Promise<void> {
    await this.sweeper.close();
    this.waiter.close();
    await this.jobs.close();
  }

  /**
   * Runs the repair sweep now: expires pending requests past their deadline, releases approved ones whose
   * release was lost, ends with a stored error those no job will finish. Undefined when another replica
   * is running it.
   */
  async sweep(): Promise<SweepRun | undefined> {
    return this.sweeper.run();
  }

  /** The record of a request. */
  async get(id: string): Promise<StoredRecord | undefined> {
    return this.commands.get(id);
  }

  /** Pending requests, oldest first. */
  async pending(limit?: number): Promise<StoredRecord[]> {
    return this.commands.pending(limit);
  }

  /** Holds a call: stores the request (or attaches an identical retry), waits up to `wait`, answers. */
  async hold(call: HeldCall, hooks: CallHooks): Promise<CallToolResult> {
    return this.waiter.wait(await this.commands.submit(call), hooks);
  }

  /** Stores the request for a held call (or attaches an identical retry) without waiting for its outcome. */
  async submit(call: HeldCall): Promise<StoredRecord> {
    return this.commands.submit(call);
  }

  /** Records a reviewer's decision (first decision wins across replicas) and releases an approved call. */
  async decide(id: string, input: DecisionInput): Promise<StoredRecord> {
    return this.commands.decide(id, input);
  }

  /** Withdraws a pending request (the agent cancelled, or an operator did). */
  async cancel(id: string, reason: string): Promise<StoredRecord | undefined> {
    return this.commands.cancel(id, reason);
  }
}
