import { AirlockError } from '../core/errors.js';
import {
  allowedFrom,
  checkTaskChange,
  isTaskId,
  isTaskStatus,
  newTaskId,
  DEFAULT_POLL_INTERVAL_MS,
  type TaskChange,
  type TaskError,
  type TaskRecord,
  type TaskResultObject,
  type TaskStatus,
} from '../core/tasks/index.js';
import type { RedisClient } from '../redis/connection.js';
import { guardRedis } from '../redis/guard.js';
import { keyspace, type TaskKeys } from '../redis/keyspace.js';
import { loadScripts, runScript } from '../redis/lua-scripts.js';

/** Options for {@link TaskStore}. */
export interface TaskStoreOptions {
  /** The clock: task times and the readable deadline. @defaultValue Date.now */
  now?: () => number;
  /**
   * How long a key outlives its task's `ttlMs`, so replicas whose clocks run a little behind still
   * find it. @defaultValue 60 seconds
   */
  keyMarginMs?: number;
}

/** What {@link TaskStore.create} needs; the store adds the id, status and times. */
export interface NewTask {
  agent: string;
  /** The approval request whose release completes the task; absent for allowed task-policy calls. */
  approvalId?: string;
  server: string;
  tool: string;
  ttlMs: number;
  /** @defaultValue 5000 */
  pollIntervalMs?: number;
  statusMessage?: string;
  /** For a call this replica runs: the first lease deadline (see {@link TaskStore.heartbeat}). */
  leaseUntil?: number;
}

/** Outcome of {@link TaskStore.create}: `created` is false when the approval already had this agent's task. */
export interface CreatedTask {
  created: boolean;
  task: TaskRecord;
}

/** Outcome of a status change: written, refused (the status that stays), or no such task for this caller. */
export type TaskTransition =
  | { outcome: 'changed'; status: TaskStatus }
  | { outcome: 'refused'; status: TaskStatus }
  | { outcome: 'not_found' };

/** Who asks for a change and from which statuses; no agent means Airlock itself (an approval release). */
export interface TransitionOptions {
  agent?: string;
  /** @defaultValue every active status */
  from?: readonly TaskStatus[];
}

const NO_AGENT = '';

/**
 * Tasks in Redis: one hash per task, a pointer from its approval request, and a per-agent index,
 * all under one prefix (one Cluster slot with a hash-tagged prefix). Creation resolves only once the
 * task is stored, so a `tasks/get` on any replica finds it; status changes go through one Lua
 * script, so terminal statuses are final and the first terminal write wins. Lookups by clients go
 * by id and agent: a task of another agent is indistinguishable from an unknown id.
 */
export class TaskStore {
  /** Where this store's tasks live. */
  readonly keys: TaskKeys;
  private readonly now: () => number;
  private readonly keyMarginMs: number;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    options: TaskStoreOptions = {},
  ) {
    this.keys = keyspace(prefix).task;
    this.now = options.now ?? Date.now;
    this.keyMarginMs = options.keyMarginMs ?? 60_000;
    loadScripts(redis);
  }

  /** Stores a new `working` task (or returns the one the approval already has) and resolves once it is durable. */
  async create(input: NewTask): Promise<CreatedTask> {
    if (!Number.isInteger(input.ttlMs) || input.ttlMs <= 0) {
      throw new AirlockError('INTERNAL', `A task needs a positive whole ttlMs, not ${input.ttlMs}`);
    }
    const now = this.now();
    const task: TaskRecord = {
      id: newTaskId(),
      agent: input.agent,
      ...(input.approvalId === undefined ? {} : { approvalId: input.approvalId }),
      server: input.server,
      tool: input.tool,
      status: 'working',
      ...(input.statusMessage ? { statusMessage: input.statusMessage } : {}),
      createdAt: now,
      lastUpdatedAt: now,
      ttlMs: input.ttlMs,
      pollIntervalMs: input.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      ...(input.leaseUntil === undefined ? {} : { leaseUntil: input.leaseUntil }),
    };
    const keyTtl = task.ttlMs + this.keyMarginMs;
    const keys = [this.keys.record(task.id), this.keys.agent(task.agent)];
    if (task.approvalId !== undefined) keys.push(this.keys.ofApproval(task.approvalId));
    const res = (await this.run(() =>
      runScript(this.redis, 'create-task', keys, [
        task.id,
        keyTtl,
        task.createdAt + task.ttlMs,
        now,
        this.keys.recordPrefix,
        task.agent,
        ...toFields(task),
      ]),
    )) as [number, string];
    if (res[0] === 1) return { created: true, task };
    const existing = await this.read(res[1]);
    if (!existing) throw new AirlockError('INTERNAL', `Task ${res[1]} vanished while being attached to`);
    return { created: false, task: existing };
  }

  /** The task, when it exists, belongs to `agent` and is within its ttl; otherwise undefined. */
  async get(id: string, agent: string): Promise<TaskRecord | undefined> {
    const task = await this.read(id);
    return task?.agent === agent ? task : undefined;
  }

  /** The task bound to an approval request, for the approval's release (no agent check: Airlock asks). */
  async ofApproval(approvalId: string): Promise<TaskRecord | undefined> {
    const id = await this.run(() => this.redis.get(this.keys.ofApproval(approvalId)));
    if (id === null) return undefined;
    const task = await this.read(id);
    return task?.approvalId === approvalId ? task : undefined;
  }

  /** Changes a task's status atomically; terminal statuses are final, and an agent only reaches its own tasks. */
  async transition(id: string, change: TaskChange, options: TransitionOptions = {}): Promise<TaskTransition> {
    checkTaskChange(change);
    if (!isTaskId(id)) return { outcome: 'not_found' };
    const from = allowedFrom(options.from);
    if (from.length === 0)
      throw new AirlockError('INTERNAL', 'A task change needs an active status to start from');
    const res = (await this.run(() =>
      runScript(
        this.redis,
        'transition-task-1',
        [this.keys.record(id)],
        [
          options.agent ?? NO_AGENT,
          this.now(),
          from.join(' '),
          change.status,
          change.statusMessage ?? '',
          change.status === 'completed' ? JSON.stringify(change.result) : '',
          change.status === 'failed' ? JSON.stringify(change.error) : '',
          this.keys.changes,
          id,
          change.status === 'input_required' ? JSON.stringify(change.inputRequests) : '',
        ],
      ),
    )) as [number, string];
    if (res[0] === -1 || !isTaskStatus(res[1])) return { outcome: 'not_found' };
    return { outcome: res[0] === 1 ? 'changed' : 'refused', status: res[1] };
  }

  /** `tasks/cancel` for `agent`: cancels an active task; an already terminal one stays as it is. */
  cancel(id: string, agent: string, statusMessage?: string): Promise<TaskTransition> {
    return this.transition(
      id,
      { status: 'cancelled', ...(statusMessage === undefined ? {} : { statusMessage }) },
      { agent },
    );
  }

  /**
   * `tasks/update` for `agent`: records the answers to questions the task still asks (others are ignored)
   * and, once none is left, puts it back to `working` for its runner. False when the agent has no such task.
   */
  async answer(id: string, agent: string, responses: Record<string, unknown>): Promise<boolean> {
    if (!isTaskId(id)) return false;
    const res = await this.run(() =>
      runScript(
        this.redis,
        'answer-task-1',
        [this.keys.record(id)],
        [agent, this.now(), JSON.stringify(responses), this.keys.changes, id],
      ),
    );
    return res !== -1;
  }

  /** The answers given to the current round's questions (by the runner, once the task is `working` again). */
  async answers(id: string): Promise<Record<string, unknown>> {
    const raw = await this.run(() => this.redis.hget(this.keys.record(id), 'answers'));
    return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  }

  /**
   * Extends the lease of a task this replica runs; the status it has now, or undefined when it is gone.
   * A task that is no longer active (cancelled elsewhere, say) tells the runner to stop.
   */
  async heartbeat(id: string, leaseUntil: number): Promise<TaskStatus | undefined> {
    if (!isTaskId(id)) return undefined;
    const res = await this.run(() =>
      runScript(this.redis, 'heartbeat-task-1', [this.keys.record(id)], [leaseUntil]),
    );
    return isTaskStatus(res) ? res : undefined;
  }

  /** Ids of an agent's tasks still within their ttl, soonest to go first. */
  async idsOfAgent(agent: string): Promise<string[]> {
    const key = this.keys.agent(agent);
    return this.run(() => this.redis.zrangebyscore(key, `(${this.now()}`, '+inf'));
  }

  private async read(id: string): Promise<TaskRecord | undefined> {
    // A malformed id cannot name a task; answering before Redis keeps hostile ids out of key names.
    if (!isTaskId(id)) return undefined;
    const fields = await this.run(() => this.redis.hgetall(this.keys.record(id)));
    const task = fromFields(fields);
    if (task === undefined || task.id !== id) return undefined;
    return this.now() < task.createdAt + task.ttlMs ? task : undefined;
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    return guardRedis('REDIS_UNAVAILABLE', 'Task store', fn);
  }
}

/** The hash fields of a task; `expiresAt` is the readable deadline the transition script checks. */
function toFields(t: TaskRecord): string[] {
  const f: [string, string | number | undefined][] = [
    ['id', t.id],
    ['agent', t.agent],
    ['approvalId', t.approvalId],
    ['server', t.server],
    ['tool', t.tool],
    ['status', t.status],
    ['statusMessage', t.statusMessage],
    ['createdAt', t.createdAt],
    ['lastUpdatedAt', t.lastUpdatedAt],
    ['ttlMs', t.ttlMs],
    ['expiresAt', t.createdAt + t.ttlMs],
    ['pollIntervalMs', t.pollIntervalMs],
    ['leaseUntil', t.leaseUntil],
  ];
  return f.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [k, String(v)]);
}

/** A task from its hash fields; undefined for an empty or damaged hash (read as "no such task"). */
function fromFields(f: Record<string, string>): TaskRecord | undefined {
  const num = (k: string) => (f[k] === undefined ? NaN : Number(f[k]));
  const { id, agent, server, tool, status } = f;
  if (id === undefined || agent === undefined || server === undefined || tool === undefined) return undefined;
  if (!isTaskStatus(status)) return undefined;
  const [createdAt, lastUpdatedAt, ttlMs, pollIntervalMs] = [
    num('createdAt'),
    num('lastUpdatedAt'),
    num('ttlMs'),
    num('pollIntervalMs'),
  ];
  if (![createdAt, lastUpdatedAt, ttlMs, pollIntervalMs].every(Number.isFinite)) return undefined;
  const task: TaskRecord = {
    id,
    agent,
    server,
    tool,
    status,
    createdAt,
    lastUpdatedAt,
    ttlMs,
    pollIntervalMs,
  };
  if (f.approvalId !== undefined) task.approvalId = f.approvalId;
  if (f.statusMessage !== undefined) task.statusMessage = f.statusMessage;
  if (f.leaseUntil !== undefined && Number.isFinite(Number(f.leaseUntil)))
    task.leaseUntil = Number(f.leaseUntil);
  if (status === 'completed' && f.result !== undefined)
    task.result = JSON.parse(f.result) as TaskResultObject;
  if (status === 'failed' && f.error !== undefined) task.error = JSON.parse(f.error) as TaskError;
  if (status === 'input_required' && f.inputRequests !== undefined)
    task.inputRequests = JSON.parse(f.inputRequests) as Record<string, unknown>;
  return task;
}
