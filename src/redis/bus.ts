import type { Logger } from '../log.js';
import type { RedisClient } from './connection.js';
import { keyspace } from './keyspace.js';

/**
 * One message for a 2025-era session, for whichever replica holds its streams:
 * - `out`: notifications the session's GET stream carries (e.g. `notifications/resources/updated`);
 * - `in`: JSON-RPC messages the agent posted that belong to a request open on some replica (its
 *   responses to relayed requests, `notifications/cancelled`);
 * - `closed`: the session was deleted; every replica ends its streams.
 */
export interface SessionBusMessage {
  session: string;
  kind: 'out' | 'in' | 'closed';
  messages?: Record<string, unknown>[];
}

type Listener = (message: SessionBusMessage) => void;

/**
 * The replica bus: Redis pub/sub on one channel all replicas subscribe to. Delivery is best-effort,
 * like MCP notifications themselves; each replica hands messages to the sessions it has streams for.
 */
export class ReplicaBus {
  private readonly channel: string;
  private readonly listeners = new Map<string, Set<Listener>>();
  private subscriber: RedisClient | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly connect: () => RedisClient,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = keyspace(prefix).bus.sessions;
  }

  /** Subscribes this replica to the bus. */
  async start(): Promise<void> {
    const sub = this.connect();
    this.subscriber = sub;
    sub.on('message', (channel: string, raw: string) => {
      if (channel === this.channel) this.dispatch(raw);
    });
    await sub.subscribe(this.channel);
  }

  /** Calls `listener` with every message for `session` until the returned function is called. */
  on(session: string, listener: Listener): () => void {
    let set = this.listeners.get(session);
    if (!set) this.listeners.set(session, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(session) === set) this.listeners.delete(session);
    };
  }

  /** Sends `message` to every replica (this one included). */
  async publish(message: SessionBusMessage): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify(message));
  }

  /** Leaves the bus. */
  close(): void {
    this.subscriber?.disconnect();
    this.listeners.clear();
  }

  private dispatch(raw: string): void {
    let message: SessionBusMessage;
    try {
      message = JSON.parse(raw) as SessionBusMessage;
    } catch {
      this.logger.warn('replica bus: a message that is not JSON was ignored');
      return;
    }
    for (const listener of this.listeners.get(message.session) ?? []) listener(message);
  }
}
