import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import {
  approvedRunningMessage,
  cancelledByAgentMessage,
  createTaskResult,
  getTaskResult,
  heldTaskTtlMs,
  isTerminalTaskStatus,
  waitingForApprovalMessage,
  type CreateTaskResult,
  type GetTaskResult,
  type TaskError,
  type TaskRecord,
} from '../core/tasks/index.js';
import type { StoredRecord } from '../core/approval/types.js';
import type { HeldCall, TaskGate } from '../gateway/gateway.js';
import type { TaskCall, TaskRun } from '../gateway/task-calls.js';
import type { FirstRound } from '../gateway/task-window.js';
import { toToolError } from '../gateway/tool-error.js';
import type { ApprovalStore } from '../approval/approval-store.js';
import { outcomeOf } from '../approval/outcome.js';
import type { Logger } from '../log.js';
import type { TaskStore } from './task-store.js';
import { TaskFollower, type DetailedTask, type FollowedTask } from './task-follow.js';
import { TaskWatch } from './task-watch.js';
import { INPUT_MESSAGE, INTERNAL_ERROR, roundsError, runTaskRounds, taskErrorOf } from './task-rounds.js';
import type { Redis, Cluster } from 'ioredis';

export { taskErrorOf };

/**
 * An approved call's upstream run, as rounds ({@link TaskRun}); `asking` is true when its task can ask the
 * agent (the call's questions then come back as `input_required` results), false for a call without one.
 */
export type ApprovedRuns = (record: StoredRecord, asking: boolean) => TaskRun;

/** The approval side a task service needs (the ApprovalService in production). */
export interface TaskApprovals {
  submit(call: HeldCall): Promise<StoredRecord>;
  cancel(id: string, reason: string): Promise<StoredRecord | undefined>;
}

/** Options for {@link TaskService}. */
export interface TaskServiceOptions {
  tasks: TaskStore;
  approvals: TaskApprovals;
  /** Where approval records and the results of approved calls are read. */
  approvalStore: ApprovalStore;
  /** Where reviewers are asked, for the status message. @defaultValue 'the Airlock console' */
  channelLabel?: (record: StoredRecord) => string;
  logger: Logger;
  /** How long an allowed call's task stays readable. @defaultValue the approval store's result retention */
  resultTtlMs?: number;
  /** How often a replica renews the lease of each task it runs. @defaultValue 5 s */
  heartbeatMs?: number;
  /** How long a lease lasts; past it, the task fails as lost. @defaultValue 4 heartbeats */
  leaseMs?: number;
  /**
   * How long an approved call's tool waits for the agent's answers to one round of questions before the
   * call stops (the approval worker keeps a slot for it meanwhile). @defaultValue 10 minutes
   */
  heldAnswerMs?: number;
  /**
   * Marks an allowed task's background call open on its server while it runs, once its request (which
   * was the open call) has been answered: an upstream's request during it is then refused as
   * unattributable, never taken for the only other session's. Returns the unmark. @defaultValue none
   */
  openCall?: (server: string) => () => void;
  /** The clock. @defaultValue Date.now */
  now?: () => number;
  /**
   * Opens a subscriber connection, to hear task changes from every replica for `notifications/tasks`.
   * @defaultValue none: {@link TaskService.follow} follows nothing
   */
  subscriber?: () => Redis | Cluster;
}

/** The message of a task whose replica stopped renewing its lease. */
const LOST_MESSAGE = 'The Airlock replica running this call stopped before it finished; it was not retried.';

/**
 * Tasks for the gateway and for the tasks/* methods. A held call's task follows its approval request:
 * whatever replica reads it derives the status from the approval record, so a decision, a release or an
 * expiry anywhere shows at once, and the replica running the approved call writes the result too. An
 * allowed task-policy call runs on the replica that took it, which renews a lease in the task; a reader
 * that finds the lease run out fails the task, so a crashed replica never leaves one working forever.
 */
export class TaskService implements TaskGate {
  private readonly now: () => number;
  private readonly heartbeatMs: number;
  private readonly leaseMs: number;
  private readonly resultTtlMs: number;
  private readonly running = new Map<string, { controller: AbortController; timer: NodeJS.Timeout }>();
  /** Approved calls of this replica whose tasks may ask: at shutdown they stop asking (and waiting). */
  private readonly asking = new Set<AbortController>();
  private readonly heldAnswerMs: number;
  private readonly watch: TaskWatch | undefined;
  private readonly follower: TaskFollower | undefined;

  constructor(private readonly o: TaskServiceOptions) {
    this.now = o.now ?? Date.now;
    if (o.subscriber) {
      const channels = { tasks: o.tasks.keys.changes, approvals: o.approvalStore.keys.events };
      this.watch = new TaskWatch({ subscriber: o.subscriber, channels, logger: o.logger });
      const read = (id: string, agent: string) => this.get(id, agent);
      this.follower = new TaskFollower({ store: o.tasks, read, watch: this.watch, logger: o.logger });
    }
    this.heartbeatMs = o.heartbeatMs ?? 5_000;
    this.leaseMs = o.leaseMs ?? 4 * this.heartbeatMs;
    this.resultTtlMs = o.resultTtlMs ?? o.approvalStore.resultTtlMs;
    this.heldAnswerMs = o.heldAnswerMs ?? 10 * 60_000;
  }

  /** Submits the held call's approval request and returns its task, stored before this resolves. */
  async hold(call: HeldCall): Promise<CreateTaskResult> {
    const record = await this.o.approvals.submit(call);
    const { task } = await this.o.tasks.create({
      agent: call.agent,
      approvalId: record.id,
      server: call.server,
      tool: call.tool,
      ttlMs: heldTaskTtlMs(record.approval.timeoutMs, this.o.approvalStore.resultTtlMs),
      statusMessage: this.waitingMessage(record),
    });
    return createTaskResult(await this.settle(task));
  }

  /**
   * Stores a task for an allowed call, then runs the call in the background on this replica; `first` is
   * its first round when that started in the request (the policy's `task_after`).
   */
  async start(call: TaskCall, run: TaskRun, first?: FirstRound): Promise<CreateTaskResult> {
    const { task } = await this.o.tasks.create({
      agent: call.agent,
      server: call.server,
      tool: call.tool,
      ttlMs: this.resultTtlMs,
      statusMessage: `running (request ${call.requestId})`,
      leaseUntil: this.now() + this.leaseMs,
    });
    this.launch(task.id, call.server, run, first);
    return createTaskResult(task);
  }

  /** `tasks/get`: the agent's task as it stands now, or undefined when it has no such task. */
  async get(id: string, agent: string): Promise<GetTaskResult | undefined> {
    const task = await this.o.tasks.get(id, agent);
    return task && getTaskResult(await this.settle(task));
  }

  /**
   * Follows the agent's task for `notifications/tasks`: `onChange` gets the task as `tasks/get` shows it
   * after each status change on any replica. Undefined when the agent has no such task.
   */
  follow(
    id: string,
    agent: string,
    onChange: (task: DetailedTask) => void,
  ): Promise<FollowedTask | undefined> {
    return this.follower?.follow(id, agent, onChange) ?? Promise.resolve(undefined);
  }

  /** `tasks/update`: answers to the task's open questions; true when the agent has the task. */
  async update(id: string, agent: string, inputResponses: Record<string, unknown>): Promise<boolean> {
    return this.o.tasks.answer(id, agent, inputResponses);
  }

  /**
   * `tasks/cancel`: withdraws a held call's approval request, or stops an allowed call, and cancels the
   * task; true when the agent has the task. A held call already approved runs to its end and its task
   * completes with the result: cancelling cannot undo what reviewers released. The exception is an
   * approved call whose tool waits for this agent's answers: the cancel is then its answer, and the call
   * stops there (its approval request records the stop).
   */
  async cancel(id: string, agent: string): Promise<boolean> {
    const task = await this.o.tasks.get(id, agent);
    if (!task) return false;
    if (isTerminalTaskStatus(task.status)) return true;
    if (task.approvalId !== undefined) {
      const withdrawn = await this.o.approvals.cancel(task.approvalId, cancelledByAgentMessage());
      const record = withdrawn ?? (await this.o.approvalStore.get(task.approvalId));
      const asking = task.status === 'input_required';
      if (record !== undefined && !withdrawn && record.status !== 'cancelled' && !asking) return true;
    }
    await this.o.tasks.cancel(id, agent, cancelledByAgentMessage());
    this.running.get(id)?.controller.abort();
    return true;
  }

  /**
   * The approval service's `execute`: runs an approved call, and when the call has a task (the agent
   * negotiated tasks), lets the call ask the agent through it — the same rounds as an allowed task's, the
   * questions limited to what the agent declared when it made the call — and writes the task's end:
   * `completed` with the result, or `failed` when the call broke at the protocol level.
   */
  wrapExecute(runs: ApprovedRuns): (record: StoredRecord) => Promise<CallToolResult> {
    return async (record) => {
      const task = await this.o.tasks.ofApproval(record.id).catch(() => undefined);
      try {
        const result = task
          ? await this.runHeld(task.id, record, runs(record, true))
          : await runs(record, false)(new AbortController().signal);
        if (task) await this.finishHeld(record.id, task.id, { status: 'completed', result });
        return result;
      } catch (err) {
        if (task) await this.finishHeld(record.id, task.id, { status: 'failed', error: taskErrorOf(err) });
        throw err;
      }
    };
  }

  /** An approved call with a task: its questions become the task's, its answers come back from any replica. */
  private async runHeld(taskId: string, record: StoredRecord, run: TaskRun): Promise<CallToolResult> {
    const controller = new AbortController();
    const closing = new AbortController();
    this.asking.add(closing);
    try {
      const end = await runTaskRounds(
        {
          tasks: this.o.tasks,
          now: this.now,
          leaseMs: this.leaseMs,
          // What the agent declared on the call it made; a request stored without any can be asked nothing.
          capabilities: record.clientCapabilities ?? {},
          answerWithinMs: this.heldAnswerMs,
          closing: closing.signal,
        },
        taskId,
        run,
        controller.signal,
      );
      if (end.status === 'completed') return end.result as CallToolResult;
      if (end.status === 'failed') throw roundsError(end.error);
      throw new AirlockError(
        'UPSTREAM_ERROR',
        `The approved call stopped while its tool waited for the agent's answers (${end.reason}); it was not finished and will not run again.`,
      );
    } finally {
      this.asking.delete(closing);
      // A legacy upstream's call still parked for answers that will not come is cancelled upstream.
      controller.abort(new Error('the call ended'));
    }
  }

  /** Stops this replica's running tasks; each fails, since no other replica can finish it. */
  async close(): Promise<void> {
    this.watch?.close();
    // An approved call waiting for answers would hold the approval worker's shutdown: it stops now (one
    // that asks nothing runs to its end, as the worker lets it).
    for (const c of this.asking) c.abort(new Error('Airlock shut down'));
    const ids = [...this.running.keys()];
    for (const id of ids) this.stop(id)?.abort();
    await Promise.all(
      ids.map((id) =>
        this.o.tasks
          .transition(id, {
            status: 'failed',
            error: { code: INTERNAL_ERROR, message: 'Airlock shut down while running this call.' },
          })
          .catch(() => undefined),
      ),
    );
  }

  private launch(id: string, server: string, run: TaskRun, first?: FirstRound): void {
    const close = this.o.openCall?.(server);
    const controller = first?.controller ?? new AbortController();
    const timer = setInterval(() => void this.heartbeat(id, controller), this.heartbeatMs);
    timer.unref();
    this.running.set(id, { controller, timer });
    const rounds: TaskRun = first ? (signal, resume) => (resume ? run(signal, resume) : first.result) : run;
    const o = { tasks: this.o.tasks, now: this.now, leaseMs: this.leaseMs };
    void runTaskRounds(o, id, rounds, controller.signal)
      .then((end) => (end.status === 'stopped' ? undefined : this.write(id, end)))
      .finally(() => {
        this.stop(id);
        close?.();
      });
  }

  private async heartbeat(id: string, controller: AbortController): Promise<void> {
    // A failed renewal is no reason to stop: the call may still finish and store its outcome.
    const status = await this.o.tasks.heartbeat(id, this.now() + this.leaseMs).catch(() => null);
    // Cancelled from another replica (or gone): stop the upstream call.
    if (status === undefined || (status !== null && isTerminalTaskStatus(status))) controller.abort();
  }

  private stop(id: string): AbortController | undefined {
    const entry = this.running.get(id);
    if (!entry) return undefined;
    clearInterval(entry.timer);
    this.running.delete(id);
    return entry.controller;
  }

  private async write(
    id: string,
    change: { status: 'completed'; result: Record<string, unknown> } | { status: 'failed'; error: TaskError },
  ): Promise<void> {
    await this.o.tasks.transition(id, change).catch((err: unknown) => {
      // The lease runs out and a reader fails the task; the result itself is lost with Redis.
      this.o.logger.warn({ err, taskId: id }, 'could not store the outcome of a task');
    });
  }

  private async finishHeld(
    approvalId: string,
    taskId: string,
    change: { status: 'completed'; result: CallToolResult } | { status: 'failed'; error: TaskError },
  ): Promise<void> {
    try {
      await this.o.tasks.transition(
        taskId,
        change.status === 'completed' ? { status: 'completed', result: { ...change.result } } : change,
      );
    } catch (err) {
      // Readers derive the outcome from the approval record, so the task still ends; only "failed" is lost.
      this.o.logger.warn({ err, requestId: approvalId }, 'could not store the outcome of a held task');
    }
  }

  /** The task with its current status: a held call's from its approval, an allowed call's from its lease. */
  private async settle(task: TaskRecord): Promise<TaskRecord> {
    if (isTerminalTaskStatus(task.status)) return task;
    if (task.approvalId === undefined) {
      if (task.leaseUntil === undefined || task.leaseUntil >= this.now()) return task;
      return this.end(task, { status: 'failed', error: { code: INTERNAL_ERROR, message: LOST_MESSAGE } });
    }
    const record = await this.o.approvalStore.get(task.approvalId);
    if (!record) {
      const error = {
        code: INTERNAL_ERROR,
        message: `Approval request ${task.approvalId} is no longer kept.`,
      };
      return this.end(task, { status: 'failed', error });
    }
    let result: CallToolResult | undefined;
    try {
      result = await outcomeOf(record, this.o.approvalStore);
    } catch (err) {
      result = toToolError(toAirlockError(err, 'INTERNAL'), record.id);
    }
    if (result) return this.end(task, { status: 'completed', result: { ...result } });
    if (record.status === 'pending') return { ...task, statusMessage: this.waitingMessage(record) };
    // The approved call's tool waits for the agent's answers: the task says so, not just "running".
    if (task.status === 'input_required') return { ...task, statusMessage: INPUT_MESSAGE };
    const approvers = record.decisions.filter((d) => d.decision === 'approve').map((d) => d.display ?? d.by);
    return { ...task, statusMessage: approvedRunningMessage(approvers) };
  }

  /** Writes a terminal status (first one wins) and returns the task as it then is. */
  private async end(
    task: TaskRecord,
    change: { status: 'completed'; result: Record<string, unknown> } | { status: 'failed'; error: TaskError },
  ): Promise<TaskRecord> {
    await this.o.tasks.transition(task.id, change);
    return (await this.o.tasks.get(task.id, task.agent)) ?? task;
  }

  private waitingMessage(record: StoredRecord): string {
    return waitingForApprovalMessage({
      requestId: record.id,
      channel: this.o.channelLabel?.(record) ?? 'the Airlock console',
      expiresAt: record.expiresAt,
      now: this.now(),
    });
  }
}
