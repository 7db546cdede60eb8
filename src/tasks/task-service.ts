import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { toAirlockError } from '../core/errors.js';
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
import type { TaskCall, TaskResume, TaskRun } from '../gateway/task-calls.js';
import type { FirstRound } from '../gateway/task-window.js';
import { toToolError } from '../gateway/tool-error.js';
import type { ApprovalStore } from '../approval/approval-store.js';
import { outcomeOf } from '../approval/outcome.js';
import type { Logger } from '../log.js';
import type { TaskStore } from './task-store.js';
import { TaskFollower, type DetailedTask, type FollowedTask } from './task-follow.js';
import { TaskWatch } from './task-watch.js';
import type { Redis, Cluster } from 'ioredis';

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
  /** The clock. @defaultValue Date.now */
  now?: () => number;
  /**
   * Opens a subscriber connection, to hear task changes from every replica for `notifications/tasks`.
   * @defaultValue none: {@link TaskService.follow} follows nothing
   */
  subscriber?: () => Redis | Cluster;
}

/** JSON-RPC -32603: what a task whose call broke on Airlock's side fails with. */
const INTERNAL_ERROR = -32603;

/** How many times one task's call may ask for input before it fails. @defaultValue 10 */
const MAX_INPUT_ROUNDS = 10;

/** How often a task waiting for answers looks for them. @defaultValue 200 ms */
const ANSWER_POLL_MS = 200;

/** The status message of a task waiting for the client's answers. */
const INPUT_MESSAGE = 'waiting for input from the client (answer with tasks/update)';

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
    this.launch(task.id, run, first);
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
   * completes with the result: cancelling cannot undo what reviewers released.
   */
  async cancel(id: string, agent: string): Promise<boolean> {
    const task = await this.o.tasks.get(id, agent);
    if (!task) return false;
    if (isTerminalTaskStatus(task.status)) return true;
    if (task.approvalId !== undefined) {
      const withdrawn = await this.o.approvals.cancel(task.approvalId, cancelledByAgentMessage());
      const record = withdrawn ?? (await this.o.approvalStore.get(task.approvalId));
      if (record !== undefined && !withdrawn && record.status !== 'cancelled') return true;
    }
    await this.o.tasks.cancel(id, agent, cancelledByAgentMessage());
    this.running.get(id)?.controller.abort();
    return true;
  }

  /**
   * Wraps the approval service's `execute` so that the replica running an approved call also writes its
   * task: `completed` with the result, or `failed` when the call broke at the protocol level.
   */
  wrapExecute(
    execute: (record: StoredRecord) => Promise<CallToolResult>,
  ): (record: StoredRecord) => Promise<CallToolResult> {
    return async (record) => {
      try {
        const result = await execute(record);
        await this.finishHeld(record.id, { status: 'completed', result });
        return result;
      } catch (err) {
        await this.finishHeld(record.id, { status: 'failed', error: taskErrorOf(err) });
        throw err;
      }
    };
  }

  /** Stops this replica's running tasks; each fails, since no other replica can finish it. */
  async close(): Promise<void> {
    this.watch?.close();
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

  private launch(id: string, run: TaskRun, first?: FirstRound): void {
    const controller = first?.controller ?? new AbortController();
    const timer = setInterval(() => void this.heartbeat(id, controller), this.heartbeatMs);
    timer.unref();
    this.running.set(id, { controller, timer });
    const rounds: TaskRun = first ? (signal, resume) => (resume ? run(signal, resume) : first.result) : run;
    void this.drive(id, rounds, controller.signal).finally(() => this.stop(id));
  }

  /**
   * Runs the call round by round: each `input_required` answer of the upstream becomes the task's
   * questions (keys prefixed with the round, so none is ever reused), and once `tasks/update` answered
   * them all, the call runs again with the answers and the upstream's state.
   */
  private async drive(id: string, run: TaskRun, signal: AbortSignal): Promise<void> {
    let resume: TaskResume | undefined;
    for (let round = 1; ; round++) {
      let result: Record<string, unknown>;
      try {
        result = await run(signal, resume);
      } catch (err) {
        if (!signal.aborted) await this.write(id, { status: 'failed', error: taskErrorOf(err) });
        return;
      }
      if (result['resultType'] !== 'input_required') {
        return this.write(id, { status: 'completed', result: { ...result } });
      }
      if (round > MAX_INPUT_ROUNDS) {
        const message = `The tool asked for input more than ${MAX_INPUT_ROUNDS} times.`;
        return this.write(id, { status: 'failed', error: { code: INTERNAL_ERROR, message } });
      }
      const state =
        typeof result['requestState'] === 'string' ? { requestState: result['requestState'] } : {};
      const asked = isObject(result['inputRequests']) ? result['inputRequests'] : {};
      const prefix = `r${round}.`;
      const inputRequests = Object.fromEntries(Object.entries(asked).map(([k, v]) => [prefix + k, v]));
      if (Object.keys(inputRequests).length === 0) {
        // Only state to carry: the upstream asks to be called again, nothing of the client.
        resume = state;
        continue;
      }
      const change = { status: 'input_required' as const, inputRequests, statusMessage: INPUT_MESSAGE };
      const asking = await this.o.tasks.transition(id, change, { from: ['working'] }).catch(() => undefined);
      if (asking?.outcome !== 'changed' || !(await this.answered(id, signal))) return;
      const answers = await this.o.tasks.answers(id).catch(() => ({}));
      const inputResponses = Object.fromEntries(
        Object.entries(answers)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, v]) => [k.slice(prefix.length), v]),
      );
      resume = { inputResponses, ...state };
    }
  }

  /** Waits until `tasks/update` answered every question (true) or the task ended (false). */
  private async answered(id: string, signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      // Renewing the lease while waiting doubles as reading the status.
      const status = await this.o.tasks.heartbeat(id, this.now() + this.leaseMs).catch(() => null);
      if (status === 'working') return true;
      if (status === undefined || (status !== null && isTerminalTaskStatus(status))) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ANSWER_POLL_MS);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
    return false;
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
    change: { status: 'completed'; result: CallToolResult } | { status: 'failed'; error: TaskError },
  ): Promise<void> {
    try {
      const task = await this.o.tasks.ofApproval(approvalId);
      if (!task) return;
      await this.o.tasks.transition(
        task.id,
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

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A JSON-RPC error object for a call that broke: the upstream's own error, or -32603 for Airlock's. */
export function taskErrorOf(err: unknown): TaskError {
  const e = err as { code?: unknown; message?: unknown; data?: unknown } | undefined;
  if (typeof e?.code === 'number' && Number.isInteger(e.code)) {
    const message = String(e.message).replace(/^MCP error -?\d+: /, '');
    return { code: e.code, message, ...(e.data !== undefined && { data: e.data }) };
  }
  return { code: INTERNAL_ERROR, message: toAirlockError(err, 'UPSTREAM_ERROR').message };
}
