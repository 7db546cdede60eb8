import type { Redis, Cluster } from 'ioredis';
import type { Logger } from '../log.js';

/** Options for {@link TaskWatch}. */
export interface TaskWatchOptions {
  /** Opens the dedicated subscriber connection (SUBSCRIBE blocks a connection). */
  subscriber: () => Redis | Cluster;
  /** The task store's `changes` channel and the approval store's `events` channel. */
  channels: { tasks: string; approvals: string };
  logger: Logger;
}

/** What a watcher is told: the task may have changed; read it to know how. */
type Listener = () => void;

/**
 * Which tasks may have changed, whichever replica changed them. The task store announces every status
 * change of a task on `task-changes`; a held call's task follows its approval request, whose record
 * changes (a decision, an expiry, the release) are announced on the approval store's channel without the
 * task's own record changing. One connection (opened by the first watch) hears both and calls the
 * watchers of the task concerned; best-effort, like the pub/sub under it.
 */
export class TaskWatch {
  private readonly byTask = new Map<string, Set<Listener>>();
  private readonly byApproval = new Map<string, Set<Listener>>();
  private connection: Redis | Cluster | undefined;
  private subscribed: Promise<void> | undefined;
  private readonly channels: { tasks: string; approvals: string };

  constructor(private readonly o: TaskWatchOptions) {
    this.channels = o.channels;
  }

  /**
   * Calls `listener` after each change of task `id` (or of its approval request `approvalId`) until the
   * returned function is called; resolves once changes are heard, so none after that is missed.
   */
  async watch(id: string, approvalId: string | undefined, listener: Listener): Promise<() => void> {
    add(this.byTask, id, listener);
    if (approvalId !== undefined) add(this.byApproval, approvalId, listener);
    const unwatch = () => {
      remove(this.byTask, id, listener);
      if (approvalId !== undefined) remove(this.byApproval, approvalId, listener);
    };
    try {
      await this.subscribe();
    } catch (err) {
      unwatch();
      throw err;
    }
    return unwatch;
  }

  /** Number of tasks watched on this replica. */
  get size(): number {
    return this.byTask.size;
  }

  /** Drops every watcher and the subscriber connection. */
  close(): void {
    this.byTask.clear();
    this.byApproval.clear();
    this.connection?.disconnect();
    this.connection = undefined;
    this.subscribed = undefined;
  }

  private subscribe(): Promise<void> {
    if (!this.subscribed) {
      const c = this.o.subscriber();
      this.connection = c;
      c.on('message', (channel: string, id: string) =>
        this.notify(channel === this.channels.tasks ? this.byTask : this.byApproval, id),
      );
      this.subscribed = c.subscribe(this.channels.tasks, this.channels.approvals).then(
        () => undefined,
        (err: unknown) => {
          this.subscribed = undefined;
          c.disconnect();
          throw err;
        },
      );
    }
    return this.subscribed;
  }

  private notify(index: Map<string, Set<Listener>>, id: string): void {
    for (const listener of [...(index.get(id) ?? [])]) {
      try {
        listener();
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'a task watcher failed');
      }
    }
  }
}

function add(index: Map<string, Set<Listener>>, key: string, listener: Listener): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(listener);
}

function remove(index: Map<string, Set<Listener>>, key: string, listener: Listener): void {
  const set = index.get(key);
  if (!set?.delete(listener)) return;
  if (set.size === 0) index.delete(key);
}
