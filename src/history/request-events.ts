import type { Redis, Cluster } from 'ioredis';
import type { Logger } from '../log.js';
import { keyspace, type ApprovalKeys } from '../redis/keyspace.js';

/** One change to a request, as pushed to live views. */
export interface RequestChange {
  id: string;
  status: string;
}

/** Options for {@link RequestEvents}. */
export interface RequestEventsOptions {
  /** Command connection, to read the status of a changed record. */
  redis: Redis | Cluster;
  /** Opens the dedicated subscriber connection (SUBSCRIBE blocks a connection). */
  subscriber: () => Redis | Cluster;
  prefix: string;
  logger: Logger;
}

type Listener = (change: RequestChange) => void;

/**
 * Every replica's record writes publish the request id on `{prefix}:released`. This listens there on
 * one dedicated connection (opened when the first listener arrives) and fans each change out, with the
 * record's current status, to every local listener (the SSE clients). Lookups are batched per tick.
 */
export class RequestEvents {
  private readonly listeners = new Set<Listener>();
  private connection: Redis | Cluster | undefined;
  private subscribed: Promise<void> | undefined;
  private readonly queued = new Set<string>();
  private flushing = false;
  private readonly keys: ApprovalKeys;

  constructor(private readonly o: RequestEventsOptions) {
    this.keys = keyspace(o.prefix).approval;
  }

  /** Adds a listener; resolves once the subscription is live, so no change after that is missed. */
  async listen(listener: Listener): Promise<() => void> {
    this.listeners.add(listener);
    try {
      await this.subscribe();
    } catch (err) {
      this.listeners.delete(listener);
      throw err;
    }
    return () => this.listeners.delete(listener);
  }

  /** Number of listeners (SSE clients) on this replica. */
  get size(): number {
    return this.listeners.size;
  }

  /** Drops every listener and the subscriber connection. */
  close(): void {
    this.listeners.clear();
    this.connection?.disconnect();
    this.connection = undefined;
    this.subscribed = undefined;
  }

  private subscribe(): Promise<void> {
    if (!this.subscribed) {
      const c = this.o.subscriber();
      this.connection = c;
      c.on('message', (_channel: string, id: string) => this.enqueue(id));
      this.subscribed = c.subscribe(this.keys.events).then(
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

  private enqueue(id: string): void {
    if (!this.listeners.size) return;
    this.queued.add(id);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    try {
      while (this.queued.size) {
        const ids = [...this.queued].slice(0, 500);
        for (const id of ids) this.queued.delete(id);
        const pipe = this.o.redis.pipeline();
        for (const id of ids) pipe.hget(this.keys.record(id), 'json');
        const replies = (await pipe.exec()) ?? [];
        ids.forEach((id, i) => {
          const raw = replies[i]?.[1];
          if (typeof raw !== 'string') return;
          const change = { id, status: (JSON.parse(raw) as { status: string }).status };
          for (const l of this.listeners) {
            try {
              l(change);
            } catch (err) {
              this.o.logger.warn({ err: (err as Error).message }, 'a live-events listener failed');
            }
          }
        });
      }
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'could not read changed requests for live events');
      this.queued.clear();
    } finally {
      this.flushing = false;
      // An id that arrived during the last read waits for no further message.
      if (this.queued.size) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    }
  }
}
