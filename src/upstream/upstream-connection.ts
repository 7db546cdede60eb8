import { EventEmitter } from 'node:events';
import type {
  CallToolResult,
  ClientCapabilities,
  Implementation,
  Prompt,
  ServerCapabilities,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../core/errors.js';
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { LivenessProbe } from './liveness-probe.js';
import { ResourceHolders } from './resource-holders.js';
import { ReconnectSupervisor, type ReconnectOptions } from './reconnect-supervisor.js';
import { UpstreamCatalog } from './upstream-catalog.js';
import { describeError } from './upstream-errors.js';
import { UpstreamForwarder } from './upstream-forwarder.js';
import { UpstreamSession, type SessionIdentity } from './upstream-session.js';
import type {
  RpcMessage,
  ToolCallParams,
  Upstream,
  UpstreamEra,
  UpstreamHooks,
  UpstreamRequestOptions,
  UpstreamState,
} from './types.js';

/** Events an UpstreamConnection emits. */
export interface UpstreamConnectionEvents {
  /** The connection state changed. */
  state: [state: UpstreamState];
  /** The cached tool list changed (after list_changed or a reconnect). */
  'tools-changed': [];
  /** The cached prompt list changed. */
  'prompts-changed': [];
}

/** Options of UpstreamConnection; `reconnect` and `healthyMs` are the ReconnectSupervisor's. */
export interface UpstreamConnectionOptions extends ReconnectOptions {
  /** How Airlock introduces itself to the upstream. @defaultValue `{ name: 'airlock', version: '0.1.0' }` */
  clientInfo?: Implementation;
  /** Capabilities declared to the upstream. @defaultValue sampling, elicitation (form and url), roots with listChanged */
  capabilities?: ClientCapabilities;
  /**
   * Ms allowed for spawning, initialize and the first tools/prompts listing; separate from `timeoutMs`
   * because a cold start (e.g. `npx` fetching a package) can take far longer than any tool call should.
   * @defaultValue 30000, or the server's timeoutMs if larger
   */
  connectTimeoutMs?: number;
}

const DEFAULT_CAPABILITIES: ClientCapabilities = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
};

/** A live MCP client connection to one upstream server, reconnecting with backoff while Airlock runs. */
export class UpstreamConnection extends EventEmitter<UpstreamConnectionEvents> implements Upstream {
  private stateValue: UpstreamState = 'starting';
  private session: UpstreamSession | undefined;
  private connecting: UpstreamSession | undefined;
  private downReason = 'still starting';
  private serverCapabilities: ServerCapabilities | undefined;
  private implementation: Implementation | undefined;
  private serverInstructions: string | undefined;
  private eraValue: UpstreamEra | undefined;
  private readonly connectTimeoutMs: number;
  private startPromise: Promise<void> | undefined;
  /** Requests in flight, so that a request the upstream sends can be told to belong to the only one. */
  private active = 0;
  private readonly log: Logger;
  private readonly supervisor: ReconnectSupervisor;
  private readonly catalog: UpstreamCatalog;
  private readonly forwarder: UpstreamForwarder;
  private readonly probe: LivenessProbe;
  private readonly resourceHolders = new ResourceHolders();

  constructor(
    readonly name: string,
    readonly config: ServerConfig,
    private readonly hooks: UpstreamHooks,
    logger: Logger,
    private readonly options: UpstreamConnectionOptions = {},
  ) {
    super();
    this.log = logger.child({ server: name });
    this.connectTimeoutMs = options.connectTimeoutMs ?? Math.max(30_000, config.timeoutMs);
    this.supervisor = new ReconnectSupervisor(
      { connectOnce: () => this.connectOnce(), downReason: () => this.downReason },
      this.log,
      options,
    );
    this.catalog = new UpstreamCatalog(
      { current: () => this.session, timeoutMs: config.timeoutMs, connectTimeoutMs: this.connectTimeoutMs },
      (event) => this.emit(event),
    );
    this.forwarder = new UpstreamForwarder({
      name,
      timeoutMs: config.timeoutMs,
      session: () => this.requireSession(),
      unavailable: (cause) => this.unavailableError(cause),
      lost: (session, reason) => this.connectionLost(session, reason),
      ask: (request, signal) => this.hooks.onRequest(name, request, signal),
    });
    this.probe = new LivenessProbe(config.timeoutMs, (session, reason) =>
      this.connectionLost(session, reason),
    );
  }

  /** Current connection state. */
  get state(): UpstreamState {
    return this.stateValue;
  }

  /** Capabilities from the last successful initialize (kept while reconnecting). */
  get capabilities(): ServerCapabilities | undefined {
    return this.serverCapabilities;
  }

  /**
   * The era found out on the last successful connect. Kept per connection, not cached: every connect
   * probes again (for stdio, one throwaway spawn), so an upgraded upstream is noticed on its restart.
   */
  get era(): UpstreamEra | undefined {
    return this.eraValue;
  }

  /** serverInfo from the last successful initialize. */
  get serverInfo(): Implementation | undefined {
    return this.implementation;
  }

  /** Instructions from the last successful initialize. */
  get instructions(): string | undefined {
    return this.serverInstructions;
  }

  /** The stdio child's pid while connected; undefined for HTTP or when down. */
  get pid(): number | undefined {
    return this.session?.upstream.pid;
  }

  /** Cached tools; kept while down so agents still see them and get a clear "unavailable" on call. */
  tools(): Tool[] {
    return this.catalog.tools();
  }

  /** Cached prompts, like tools(). */
  prompts(): Prompt[] {
    return this.catalog.prompts();
  }

  /** Connects once; resolves whether or not that worked, and keeps retrying in the background if not. */
  start(): Promise<void> {
    this.startPromise ??= (async () => {
      if (!(await this.connectOnce())) this.supervisor.schedule();
    })();
    return this.startPromise;
  }

  /** Stops reconnecting, closes the session and ends a stdio child; calls in flight reject as unavailable. */
  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    this.supervisor.stop();
    const sessions = [this.session, this.connecting].filter((s): s is UpstreamSession => s !== undefined);
    this.session = undefined;
    this.connecting = undefined;
    await Promise.all(sessions.map((s) => s.end(true)));
  }

  /** Calls a tool upstream; see Upstream.callTool. */
  callTool(params: ToolCallParams, options: UpstreamRequestOptions = {}): Promise<CallToolResult> {
    return this.counted(this.forwarder.callTool(params, options));
  }

  /** Sends any other request upstream and returns its result unchanged; see Upstream.request. */
  request(message: RpcMessage, options: UpstreamRequestOptions = {}): Promise<Record<string, unknown>> {
    return this.counted(this.forwarder.request(message, options));
  }

  /** See Upstream.inFlight. */
  get inFlight(): number {
    return this.active;
  }

  /** Sends a notification upstream; see Upstream.notify. */
  notify(message: RpcMessage): Promise<void> {
    return this.forwarder.notify(message);
  }

  /** See Upstream.subscribeResource. */
  async subscribeResource(uri: string, holder: string): Promise<void> {
    if (!this.resourceHolders.add(uri, holder)) return;
    try {
      await this.forwarder.subscribeResource(uri);
    } catch (err) {
      this.resourceHolders.remove(uri, holder);
      throw err;
    }
  }

  /** See Upstream.unsubscribeResource. */
  async unsubscribeResource(uri: string, holder: string): Promise<void> {
    if (this.resourceHolders.remove(uri, holder)) await this.forwarder.unsubscribeResource(uri);
  }

  /** See Upstream.releaseResources; the upstream hears of it in the background. */
  releaseResources(holder: string): void {
    for (const uri of this.resourceHolders.release(holder)) {
      this.forwarder.unsubscribeResource(uri).catch((err: unknown) => {
        this.log.debug({ err: describeError(err), uri }, 'ending a resource subscription failed');
      });
    }
  }

  /** The error callers get while no session is usable, saying why and that retrying will help. */
  unavailableError(cause?: unknown): AirlockError {
    const why = this.stateValue === 'closed' ? 'Airlock is shutting down' : this.downReason;
    return new AirlockError(
      'UPSTREAM_UNAVAILABLE',
      `Upstream server "${this.name}" is unavailable (${why}); try again shortly`,
      { server: this.name, state: this.stateValue },
      cause === undefined ? undefined : { cause },
    );
  }

  private requireSession(): UpstreamSession {
    const session = this.session;
    if (this.stateValue !== 'ready' || !session || session.lost) throw this.unavailableError();
    return session;
  }

  // A method, not a field read, so TypeScript does not narrow it away across awaits.
  private isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  private setState(state: UpstreamState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emit('state', state);
  }

  private markDown(reason: string): void {
    if (this.stateValue === 'closed') return;
    this.downReason = reason;
    this.supervisor.down();
    this.setState('down');
  }

  /** One connect attempt: initialize, load tools and prompts, go ready. Never throws. */
  private async connectOnce(): Promise<boolean> {
    if (this.stateValue === 'closed') return false;
    // SDK 1.x and v2 describe these the same on the wire; the v2 types are stricter in places.
    const identity = {
      clientInfo: this.options.clientInfo ?? { name: 'airlock', version: '0.1.0' },
      capabilities: this.options.capabilities ?? DEFAULT_CAPABILITIES,
    } as SessionIdentity;
    const session: UpstreamSession = new UpstreamSession(this.config, this.log, identity, {
      // Requests the upstream makes of its client go to the agent whose call is in flight, via the hooks.
      onRequest: (request, signal) => this.hooks.onRequest(this.name, request, signal),
      onNotification: (notification) => this.onNotification(notification),
      onClose: () => this.onSessionClosed(session),
      onError: (err) => this.onSessionError(session, err),
    });
    this.connecting = session;
    try {
      await session.connect(this.connectTimeoutMs);
      if (session.lost) throw new Error('the connection closed during initialization');
      this.session = session;
      await session.listen(this.connectTimeoutMs).catch((err: unknown) => {
        this.log.warn({ err: describeError(err) }, 'upstream refused subscriptions/listen; no list changes');
      });
      await this.catalog.refreshAll();
      if (session.lost) throw new Error('the connection closed while listing tools');
      await this.resubscribe(session);
      this.serverCapabilities = session.client.getServerCapabilities() as ServerCapabilities | undefined;
      this.implementation = session.client.getServerVersion() as Implementation | undefined;
      this.serverInstructions = session.client.getInstructions();
      this.eraValue = session.era;
      session.ready = true;
      this.supervisor.ready();
      this.setState('ready');
      this.log.info(
        {
          upstream: this.implementation,
          era: this.eraValue,
          protocolVersion: session.client.getNegotiatedProtocolVersion(),
          tools: this.catalog.tools().length,
          pid: session.upstream.pid,
        },
        'upstream connected',
      );
      return true;
    } catch (err) {
      if (this.session === session) this.session = undefined;
      void session.end(false);
      if (this.isClosed()) return false;
      const ended = session.upstream.describeEnd(err);
      this.markDown(`${ended ?? `connecting failed: ${describeError(err)}`}; retrying`);
      return false;
    } finally {
      if (this.connecting === session) this.connecting = undefined;
    }
  }

  /** A new session knows no subscriptions; the held ones are made again, each failure only logged. */
  private async resubscribe(session: UpstreamSession): Promise<void> {
    for (const uri of this.resourceHolders.uris()) {
      await session.subscribeResource(uri, this.config.timeoutMs).catch((err: unknown) => {
        this.log.warn({ err: describeError(err), uri }, 'resubscribing to a resource failed');
      });
    }
  }

  private async onNotification(notification: RpcMessage): Promise<void> {
    if (this.isClosed()) return;
    try {
      // Refresh first, so whoever reacts to the forwarded notification already sees the new list.
      await this.catalog.refreshFor(notification.method);
    } catch (err) {
      this.log.warn(
        { err: describeError(err), method: notification.method },
        'refreshing the upstream list failed',
      );
    }
    try {
      this.hooks.onNotification(this.name, notification);
    } catch (err) {
      this.log.error(
        { err: describeError(err), method: notification.method },
        'forwarding an upstream notification failed',
      );
    }
  }

  private onSessionClosed(session: UpstreamSession): void {
    // A session that never became ready is connectOnce's to report; it sees `lost` and fails.
    if (!session.ready || this.session !== session) return;
    this.session = undefined;
    // A closed listen stream leaves the client itself open; a closed transport makes this a no-op.
    void session.end(false);
    this.markDown(`restarting after ${session.upstream.describeEnd() ?? 'its connection closed'}`);
    this.supervisor.schedule();
  }

  private onSessionError(session: UpstreamSession, err: Error): void {
    if (this.isClosed()) return;
    if (session.upstream.kind === 'stdio') {
      // A dead child is reported by onClose; these are stray stdout lines and pipe errors. A progress
      // report that lands in the same read as its final response is dispatched after the SDK has
      // forgotten the request: harmless, so not worth a warning.
      const late = err.message.startsWith('Received a progress notification for an unknown token');
      this.log[late ? 'debug' : 'warn']({ err: describeError(err) }, 'upstream transport error');
      return;
    }
    this.log.debug({ err: describeError(err) }, 'upstream HTTP transport error; checking the connection');
    void this.probe.check(session, err);
  }

  private connectionLost(session: UpstreamSession, reason: string): void {
    if (session.lost) return;
    session.lost = true;
    if (this.session === session) {
      this.session = undefined;
      this.markDown(reason);
      this.supervisor.schedule();
    }
    // Closing rejects the session's calls in flight at once instead of leaving them to time out.
    void session.end(false);
  }

  private async counted<T>(running: Promise<T>): Promise<T> {
    this.active++;
    try {
      return await running;
    } finally {
      this.active--;
    }
  }
}
