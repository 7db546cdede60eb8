// `subscriptions/listen` (2026-07-28): the long-lived streams on which modern agents hear about list
// changes and resource updates. Transport-free: HTTP writes a stream's messages as SSE events, stdio as
// lines on the shared channel. Each replica hears its own upstream connections, so a fan-out to the
// streams this replica holds is all a change needs; a duplicate "list changed" from another replica is
// harmless.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { RpcMessage } from '../upstream/types.js';
import type { Logger } from '../log.js';
import type { JsonRpcId } from './wire/errors.js';
import { parseListenFilter, type ListenFilter } from './listen-filter.js';

export type { ListenFilter } from './listen-filter.js';

/** The `_meta` key that ties every message of a listen stream to the request that opened it. */
export const SUBSCRIPTION_ID_META_KEY = 'io.modelcontextprotocol/subscriptionId';

/** A task a stream follows (see src/tasks/task-follow.ts). */
export interface FollowedTask {
  /** The task as `tasks/get` shows it (without `resultType`) when following began. */
  readonly task: Record<string, unknown>;
  stop(): void;
}

/** Where one stream's messages go. */
export interface ListenSink {
  /** Writes one notification (already tagged with the subscription id). */
  notify(message: { jsonrpc: '2.0'; method: string; params: Record<string, unknown> }): void;
  /** Ends the stream from Airlock's side: the completion response, then the transport closes. */
  end(response: { jsonrpc: '2.0'; id: JsonRpcId; result: Record<string, unknown> }): void;
}

/** What the hub needs from the rest of Airlock. */
export interface ListenHubDeps {
  /** The tools an agent sees now, to tell whether a policy reload changed its list. */
  listTools(agent: string): unknown[];
  /** Whether some governed upstream offers prompts or resources now, as server/discover says. */
  features(): { prompts: boolean; resources: boolean };
  /**
   * Subscribes upstream to `uri` when its upstream can send updates for it; false when it cannot (the
   * acknowledgement then leaves the URI out).
   */
  subscribeResource(uri: string, signal?: AbortSignal): Promise<boolean>;
  /** Ends the upstream subscription once no stream needs `uri` any more. */
  unsubscribeResource(uri: string): Promise<void>;
  /**
   * Follows the agent's task `id`, calling `onChange` with the task after each status change on any
   * replica; undefined when the agent has no such task. @defaultValue none: `taskIds` are acknowledged empty
   */
  followTask?(
    id: string,
    agent: string,
    onChange: (task: Record<string, unknown>) => void,
  ): Promise<FollowedTask | undefined>;
  logger: Logger;
}

/** Notification methods by the filter flag that opts in to them. */
const LIST_CHANGES: Readonly<Record<string, keyof ListenFilter>> = {
  'notifications/tools/list_changed': 'toolsListChanged',
  'notifications/prompts/list_changed': 'promptsListChanged',
  'notifications/resources/list_changed': 'resourcesListChanged',
};

interface Stream {
  readonly id: JsonRpcId;
  readonly agent: string;
  readonly filter: ListenFilter;
  readonly sink: ListenSink;
  /** The tasks it follows. */
  readonly tasks: readonly FollowedTask[];
  /** Fingerprint of the agent's tool list when last told, so a policy reload notifies only on change. */
  toolsSeen: string;
}

/** One open stream as its transport holds it. */
export interface ListenHandle {
  /** The client went away or cancelled: forget the stream, send nothing more. */
  close(): void;
}

/** Events a ListenHub emits. */
export interface ListenHubEvents {
  /** A stream ended, by either side; `size` is how many are still open. */
  closed: [size: number];
}

/** The listen streams open on this replica. */
export class ListenHub extends EventEmitter<ListenHubEvents> {
  private readonly streams = new Set<Stream>();
  /** How many open streams subscribe to each URI upstream. */
  private readonly resourceUsers = new Map<string, number>();
  private closing = false;
  /** List changes waiting for the end of this turn of the event loop, and the turn's timer. */
  private readonly pending = new Set<string>();
  private flushing: NodeJS.Immediate | undefined;

  constructor(private readonly deps: ListenHubDeps) {
    super();
  }

  /** Number of open streams. */
  get size(): number {
    return this.streams.size;
  }

  /** Reads a listen request's filter (see {@link parseListenFilter}). */
  static parseFilter = parseListenFilter;

  /**
   * Opens a stream: works out the honoured subset, subscribes upstream where it can, and sends the
   * acknowledgement as the stream's first message. `signal` aborts the upstream subscriptions if the
   * client leaves while they are being made.
   */
  async open(
    agent: string,
    id: JsonRpcId,
    requested: ListenFilter,
    sink: ListenSink,
    signal: AbortSignal,
  ): Promise<ListenHandle> {
    // Only what server/discover advertises: with no prompts upstream there is no prompt list to change.
    const f = this.deps.features();
    const honoured: ListenFilter = {
      ...(requested.toolsListChanged && { toolsListChanged: true }),
      ...(requested.promptsListChanged && f.prompts && { promptsListChanged: true }),
      ...(requested.resourcesListChanged && f.resources && { resourcesListChanged: true }),
    };
    const subscribed: string[] = [];
    for (const uri of requested.resourceSubscriptions ?? []) {
      if (signal.aborted || this.closing) break;
      if (await this.acquire(uri, signal)) subscribed.push(uri);
    }
    if (requested.resourceSubscriptions !== undefined) honoured.resourceSubscriptions = subscribed;
    const tasks = await this.follow(agent, id, requested.taskIds, signal);
    if (requested.taskIds !== undefined) honoured.taskIds = tasks.ids;
    const stream: Stream = {
      id,
      agent,
      filter: honoured,
      sink,
      tasks: tasks.followed,
      toolsSeen: this.toolsOf(agent),
    };
    const handle: ListenHandle = { close: () => this.drop(stream) };
    if (signal.aborted || this.closing) {
      this.release(subscribed);
      for (const t of tasks.followed) t.stop();
      if (this.closing && !signal.aborted) sink.end(completion(id));
      return handle;
    }
    this.streams.add(stream);
    sink.notify(tagged(id, 'notifications/subscriptions/acknowledged', { notifications: honoured }));
    // Each followed task as it stands now, so a change between its creation and this stream is not missed.
    tasks.live(sink);
    return handle;
  }

  /**
   * An upstream's list changed, or the upstream said so (after its cache was reloaded): every stream that
   * opted in hears it. A real change is reported twice — by the pool, which saw the list differ, and by
   * the upstream's own notification right after — so calls within one turn of the event loop are sent once.
   */
  listChanged(method: string): void {
    if (!LIST_CHANGES[method] || this.closing) return;
    this.pending.add(method);
    if (this.flushing) return;
    this.flushing = setImmediate(() => this.flush());
  }

  /**
   * Policy was reloaded: a stream hears `tools/list_changed` only when its agent's visible tool set is
   * no longer what it last was.
   */
  policyChanged(): void {
    for (const s of this.streams) {
      if (!s.filter.toolsListChanged) continue;
      const now = this.toolsOf(s.agent);
      if (now === s.toolsSeen) continue;
      s.toolsSeen = now;
      s.sink.notify(tagged(s.id, 'notifications/tools/list_changed', {}));
    }
  }

  /**
   * An upstream notification: list changes as {@link listChanged} (an upstream may announce a change
   * that leaves the list as it was, and its listeners still expect to hear it); resource updates go to
   * the streams subscribed to that URI.
   */
  upstreamNotification(n: RpcMessage): void {
    if (LIST_CHANGES[n.method]) return this.listChanged(n.method);
    if (n.method !== 'notifications/resources/updated') return;
    const uri = n.params?.['uri'];
    if (typeof uri !== 'string') return;
    const { _meta: _ignored, ...params } = n.params ?? {};
    for (const s of this.streams) {
      if (s.filter.resourceSubscriptions?.includes(uri)) {
        s.sink.notify(tagged(s.id, n.method, params));
      }
    }
  }

  /** Ends every stream gracefully (shutdown): the completion response, then the transport closes. */
  async closeAll(): Promise<void> {
    this.closing = true;
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    this.pending.clear();
    for (const s of [...this.streams]) {
      this.drop(s);
      try {
        s.sink.end(completion(s.id));
      } catch (err) {
        this.deps.logger.debug({ err }, 'listen stream ended abruptly');
      }
    }
  }

  private flush(): void {
    this.flushing = undefined;
    const methods = [...this.pending];
    this.pending.clear();
    for (const method of methods) this.fanOut(method, LIST_CHANGES[method]!);
  }

  private fanOut(method: string, flag: keyof ListenFilter): void {
    for (const s of this.streams) {
      if (!s.filter[flag]) continue;
      if (flag === 'toolsListChanged') s.toolsSeen = this.toolsOf(s.agent);
      s.sink.notify(tagged(s.id, method, {}));
    }
  }

  /**
   * Follows the agent's tasks among `ids`; an id the agent has no task by is left out of the
   * acknowledgement, as another agent's is, so a stream learns nothing of tasks that are not its own.
   * Changes before `live` are held, the latest per task, and sent by it.
   */
  private async follow(
    agent: string,
    id: JsonRpcId,
    ids: readonly string[] | undefined,
    signal: AbortSignal,
  ) {
    const latest = new Map<string, Record<string, unknown>>();
    let sink: ListenSink | undefined;
    const follow = this.deps.followTask;
    const found = await Promise.all(
      (follow && !signal.aborted ? (ids ?? []) : []).map(async (taskId) => {
        const onChange = (task: Record<string, unknown>) => {
          if (sink) sink.notify(tagged(id, TASK_NOTIFICATION, task));
          else latest.set(taskId, task);
        };
        const followed = await follow!(taskId, agent, onChange).catch((err: unknown) => {
          this.deps.logger.debug({ err }, 'could not follow a task');
          return undefined;
        });
        if (followed && !latest.has(taskId)) latest.set(taskId, followed.task);
        return followed && { taskId, followed };
      }),
    );
    const kept = found.filter((f) => f !== undefined);
    return {
      ids: kept.map((f) => f.taskId),
      followed: kept.map((f) => f.followed),
      live: (to: ListenSink) => {
        sink = to;
        for (const { taskId } of kept) to.notify(tagged(id, TASK_NOTIFICATION, latest.get(taskId)!));
        latest.clear();
      },
    };
  }

  private drop(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    for (const t of stream.tasks) t.stop();
    this.release(stream.filter.resourceSubscriptions ?? []);
    this.emit('closed', this.streams.size);
  }

  private async acquire(uri: string, signal: AbortSignal): Promise<boolean> {
    const users = this.resourceUsers.get(uri) ?? 0;
    if (users > 0) {
      this.resourceUsers.set(uri, users + 1);
      return true;
    }
    const ok = await this.deps.subscribeResource(uri, signal).catch((err: unknown) => {
      this.deps.logger.debug({ err, uri }, 'resource subscription refused upstream');
      return false;
    });
    if (ok) this.resourceUsers.set(uri, (this.resourceUsers.get(uri) ?? 0) + 1);
    return ok;
  }

  private release(uris: readonly string[]): void {
    for (const uri of uris) {
      const users = (this.resourceUsers.get(uri) ?? 0) - 1;
      if (users > 0) {
        this.resourceUsers.set(uri, users);
        continue;
      }
      this.resourceUsers.delete(uri);
      void this.deps.unsubscribeResource(uri).catch((err: unknown) => {
        this.deps.logger.debug({ err, uri }, 'resource unsubscribe failed upstream');
      });
    }
  }

  private toolsOf(agent: string): string {
    return createHash('sha256')
      .update(JSON.stringify(this.deps.listTools(agent)))
      .digest('base64url');
  }
}

/** The tasks extension's status notification. */
const TASK_NOTIFICATION = 'notifications/tasks';

/** A notification of stream `id`, with the subscription id in `_meta`. */
function tagged(
  id: JsonRpcId,
  method: string,
  params: Record<string, unknown>,
): { jsonrpc: '2.0'; method: string; params: Record<string, unknown> } {
  return { jsonrpc: '2.0', method, params: { ...params, _meta: { [SUBSCRIPTION_ID_META_KEY]: id } } };
}

/** The response that ends stream `id` gracefully. */
function completion(id: JsonRpcId): { jsonrpc: '2.0'; id: JsonRpcId; result: Record<string, unknown> } {
  return {
    jsonrpc: '2.0',
    id,
    result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: id } },
  };
}
