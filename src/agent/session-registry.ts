import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { RpcMessage, Upstream, UpstreamHooks } from '../upstream/types.js';
import type { Logger } from '../log.js';
import type { ResourceRouter } from './resource-router.js';
import { ModernCalls } from './modern-calls.js';
import type { ReplicaBus } from '../redis/bus.js';
import type { SessionStore } from './session-store.js';

/**
 * What the registry needs of one open 2025 session object: an SDK-served AgentSession (one per stdio
 * channel, or per HTTP request of a shared session), or one call on the hand-written fast path
 * (session-fast-call.ts), which is a session object with exactly one call.
 */
export interface RoutableSession {
  /** The session id; names this session's resource subscriptions on the upstreams. */
  readonly key: string;
  /** True for a session shared through Redis, whose state lives in its record. */
  readonly shared: boolean;
  readonly subscriptions: ReadonlySet<string>;
  hasCallOn(server: string): boolean;
  callsOn(server: string): number;
  relayCallLog(server: string, message: RpcMessage): boolean;
  relayRequest(server: string, request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>>;
  notify(message: RpcMessage): void;
  close(): Promise<void>;
  onclose?: () => void;
  onsubscribe?: (uri: string) => void;
}

/**
 * All open agent sessions. It is the upstreams' way back to the agents: requests an upstream sends
 * during a call go to the agent whose call is open; list_changed and log messages go to every session.
 */
export class SessionRegistry implements UpstreamHooks {
  private readonly sessions = new Set<RoutableSession>();
  /** Stateless (2026-07-28) calls open on this replica; they have no session to reach back to. */
  readonly modern = new ModernCalls();
  resources?: ResourceRouter;
  /** Set when 2025 sessions are shared through Redis: where their subscriptions are and how to reach them. */
  shared?: { store: SessionStore; bus: ReplicaBus };
  /** Shared sessions that subscribed to a URI through this replica, so its upstream updates find them. */
  private readonly subscribers = new Map<string, Set<string>>();
  /**
   * The upstreams by name: the era one speaks decides where its log messages belong, and its requests in
   * flight whether a request it sends can belong to a modern call. @defaultValue none: never asked
   */
  upstreams?: { get(server: string): Pick<Upstream, 'era' | 'inFlight'> | undefined };

  constructor(private readonly logger: Logger) {}

  /** Tracks a session until it closes. */
  add(session: RoutableSession): void {
    this.sessions.add(session);
    session.onsubscribe = (uri) => {
      if (!session.shared) return;
      let set = this.subscribers.get(uri);
      if (!set) this.subscribers.set(uri, (set = new Set()));
      set.add(session.key);
    };
    const prev = session.onclose;
    session.onclose = () => {
      this.sessions.delete(session);
      prev?.();
    };
  }

  /** Number of open sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Every open session. */
  all(): RoutableSession[] {
    return [...this.sessions];
  }

  /** Routes an upstream's request (sampling, elicitation, roots) to exactly one agent, never a guess. */
  async onRequest(
    server: string,
    request: RpcMessage,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const calling = this.all().filter((s) => s.hasCallOn(server));
    const modern = this.modern.on(server);
    // Only a call whose own upstream request is in flight can have caused this one: a call held for
    // approval here is not running (the approval worker's run of it is registered as a call of its own).
    const running = modern.filter((c) => c.upstreamRunning);
    const only = running.length === 1 && calling.length === 0 ? running[0] : undefined;
    // The upstream has exactly one call in flight, and it is this modern call's own: the request is that
    // call's, and its agent gets it as an input_required round. Anything less certain is refused.
    const alone = this.upstreams?.get(server)?.inFlight === 1;
    if (only?.onInput && only.upstreamRunning && alone) return only.onInput(request, signal);
    if (modern.length > 0 && calling.length === 0) {
      // Unattributable (or no relay): a parked call keeps its result, others say so in plain words.
      for (const call of modern) if (!call.onInput) call.refusedInput = request.method;
      throw new McpError(
        ErrorCode.InvalidRequest,
        modern.length > 1
          ? `Airlock cannot tell which of ${modern.length} calls this ${request.method} is for`
          : `${request.method} cannot be relayed to this request`,
      );
    }
    let target: RoutableSession | undefined;
    // A modern call on this server makes the only 2025 session an unsafe guess: the request may be its.
    if (calling.length === 1 && modern.length === 0) target = calling[0];
    else if (calling.length === 0 && modern.length === 0 && this.sessions.size === 1) target = this.all()[0];
    if (!target) {
      // Several agents have calls open on this upstream: sending one agent's sampling to another would leak.
      this.logger.warn(
        { server, method: request.method, candidates: calling.length + modern.length },
        'upstream request not routable',
      );
      throw new McpError(
        ErrorCode.InvalidRequest,
        calling.length + modern.length
          ? `Airlock cannot tell which of ${calling.length + modern.length} agents this ${request.method} is for`
          : `No agent is connected to answer ${request.method}`,
      );
    }
    return target.relayRequest(server, request, signal);
  }

  /** Forwards upstream notifications to the sessions they concern. */
  onNotification(server: string, n: RpcMessage): void {
    if (n.method === 'notifications/resources/list_changed') this.resources?.invalidate();
    if (n.method === 'notifications/resources/updated') {
      const uri = n.params?.uri;
      if (typeof uri !== 'string') return;
      for (const s of this.sessions) if (!s.shared && s.subscriptions.has(uri)) s.notify(n);
      void this.forwardUpdate(uri, n);
      return;
    }
    // Progress belongs to a call (relayed per call); tool and prompt list changes come from the pool's
    // own events, after its cache is refreshed, so forwarding the upstream's copy would send them twice.
    if (
      n.method === 'notifications/progress' ||
      n.method === 'notifications/cancelled' ||
      n.method === 'notifications/tools/list_changed' ||
      n.method === 'notifications/prompts/list_changed'
    ) {
      return;
    }
    if (n.method === 'notifications/message') {
      if (this.upstreams?.get(server)?.era === 'modern') return this.relayModernLog(server, n);
      this.modern.relayLog(server, n);
    }
    this.broadcast(n);
  }

  /**
   * A modern upstream sends log messages only during a request that named a level, so a message belongs
   * to a call, not to every session: it goes to the one call open on `server` that asked for logs, on
   * that call's stream. With several such calls open it cannot be attributed and is dropped.
   */
  private relayModernLog(server: string, n: RpcMessage): void {
    const sessions = this.all().filter((s) => s.hasCallOn(server));
    const modernCalls = this.modern.on(server).filter((c) => c.logLevel !== undefined);
    const open = sessions.reduce((sum, s) => sum + s.callsOn(server), 0) + modernCalls.length;
    if (open !== 1) {
      this.logger.debug({ server, open }, 'upstream log message not attributable to one call; dropped');
      return;
    }
    if (sessions[0]) sessions[0].relayCallLog(server, n);
    else this.modern.relayLog(server, n);
  }

  /**
   * Passes a resource update to the shared sessions that subscribed through this replica, over the bus to
   * whichever replica holds their GET stream. A session that has unsubscribed (maybe through another
   * replica), ended or expired is forgotten here, and its hold on the upstream subscription released.
   */
  private async forwardUpdate(uri: string, n: RpcMessage): Promise<void> {
    const holders = this.subscribers.get(uri);
    if (!holders || !this.shared) return;
    const { store, bus } = this.shared;
    const { _meta: _listenMeta, ...params } = n.params ?? {};
    const message = { jsonrpc: '2.0', method: n.method, params };
    for (const id of [...holders]) {
      try {
        if (await store.isSubscribed(id, uri)) {
          await bus.publish({ session: id, kind: 'out', messages: [message] });
          continue;
        }
        holders.delete(id);
        if (holders.size === 0) this.subscribers.delete(uri);
        await this.resources?.subscription('resources/unsubscribe', uri, id);
      } catch (err) {
        this.logger.warn({ err, uri }, 'passing on a resource update failed');
      }
    }
  }

  /** Sends one notification to every open session. */
  broadcast(n: RpcMessage): void {
    for (const s of this.sessions) s.notify(n);
  }

  /** Closes every session. */
  async closeAll(): Promise<void> {
    await Promise.allSettled(this.all().map((s) => s.close()));
  }
}
