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
 * A message for one address, which exactly one replica listens on: a parked call's replica, or the
 * request on another replica waiting for that call's answer (src/agent/input-relay.ts).
 */
export interface RelayMessage {
  to: string;
  body: Record<string, unknown>;
}

type RelayListener = (body: Record<string, unknown>) => void;

/**
 * The replica bus: Redis pub/sub on one channel all replicas subscribe to. Delivery is best-effort,
 * like MCP notifications themselves; each replica hands messages to the sessions it has streams for.
 */
export class ReplicaBus {
  private readonly channel: string;
  private readonly relayChannel: string;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly addresses = new Map<string, RelayListener>();
  private subscriber: RedisClient | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly connect: () => RedisClient,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = keyspace(prefix).bus.sessions;
    this.relayChannel = keyspace(prefix).bus.relay;
  }

  /** Subscribes this replica to the bus. */
  async start(): Promise<void> {
    const sub = this.connect();
    this.subscriber = sub;
    sub.on('message', (channel: string, raw: string) => {
      if (channel === this.channel) this.dispatch(raw);
      else if (channel === this.relayChannel) this.deliver(raw);
    });
    await sub.subscribe(this.channel, this.relayChannel);
  }

  /** Calls `listener` with every message sent to `address` until the returned function is called. */
  listen(address: string, listener: RelayListener): () => void {
    this.addresses.set(address, listener);
    return () => {
      if (this.addresses.get(address) === listener) this.addresses.delete(address);
    };
  }

  /** Sends `message` to the replica listening on its address (none: it is dropped). */
  async send(message: RelayMessage): Promise<void> {
    await this.redis.publish(this.relayChannel, JSON.stringify(message));
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
    this.addresses.clear();
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

  private deliver(raw: string): void {
    let message: RelayMessage;
    try {
      message = JSON.parse(raw) as RelayMessage;
    } catch {
      this.logger.warn('replica bus: a relay message that is not JSON was ignored');
      return;
    }
    this.addresses.get(message.to)?.(message.body);
  }
}
