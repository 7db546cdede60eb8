import { EventEmitter } from 'node:events';
import {
  CompatibilityCallToolResultSchema,
  ErrorCode,
  McpError,
  ResultSchema,
  type CallToolResult,
  type ClientCapabilities,
  type Implementation,
  type Prompt,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../core/errors.js';
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { CoalescedTask } from './coalesced-task.js';
import { describeError, formatSeconds, isHttpConnectionFailure, isLocalTimeout } from './upstream-errors.js';
import { UpstreamSession, type SessionIdentity } from './upstream-session.js';
import type { RpcMessage, Upstream, UpstreamHooks, UpstreamRequestOptions, UpstreamState } from './types.js';

/** Events an UpstreamConnection emits. */
export interface UpstreamConnectionEvents {
  /** The connection state changed. */
  state: [state: UpstreamState];
  /** The cached tool list changed (after list_changed or a reconnect). */
  'tools-changed': [];
  /** The cached prompt list changed. */
  'prompts-changed': [];
}

/** Options of UpstreamConnection. */
export interface UpstreamConnectionOptions {
  /** Delays between reconnect attempts. @defaultValue 250 ms doubling to 30 s, ±20% jitter */
  reconnect?: BackoffOptions;
  /** After this many ms of being ready, a failure starts the backoff from its first delay again. @defaultValue 60000 */
  healthyMs?: number;
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
  private toolList: Tool[] = [];
  private promptList: Prompt[] = [];
  private serverCapabilities: ServerCapabilities | undefined;
  private implementation: Implementation | undefined;
  private serverInstructions: string | undefined;
  private readonly backoff: Backoff;
  private readonly healthyMs: number;
  private readonly connectTimeoutMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readyAt = 0;
  private startPromise: Promise<void> | undefined;
  private probing = false;
  private readonly log: Logger;
  private readonly toolsRefresh = new CoalescedTask(() => this.loadTools());
  private readonly promptsRefresh = new CoalescedTask(() => this.loadPrompts());

  constructor(
    readonly name: string,
    readonly config: ServerConfig,
    private readonly hooks: UpstreamHooks,
    logger: Logger,
    private readonly options: UpstreamConnectionOptions = {},
  ) {
    super();
    this.log = logger.child({ server: name });
    this.backoff = new Backoff(options.reconnect);
    this.healthyMs = options.healthyMs ?? 60_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? Math.max(30_000, config.timeoutMs);
  }

  /** Current connection state. */
  get state(): UpstreamState {
    return this.stateValue;
  }

  /** Capabilities from the last successful initialize (kept while reconnecting). */
  get capabilities(): ServerCapabilities | undefined {
    return this.serverCapabilities;
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
    return this.toolList;
  }

  /** Cached prompts, like tools(). */
  prompts(): Prompt[] {
    return this.promptList;
  }

  /** Connects once; resolves whether or not that worked, and keeps retrying in the background if not. */
  start(): Promise<void> {
    this.startPromise ??= (async () => {
      if (!(await this.connectOnce())) this.scheduleReconnect();
    })();
    return this.startPromise;
  }

  /** Stops reconnecting, closes the session and ends a stdio child; calls in flight reject as unavailable. */
  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    const sessions = [this.session, this.connecting].filter((s): s is UpstreamSession => s !== undefined);
    this.session = undefined;
    this.connecting = undefined;
    await Promise.all(sessions.map((s) => s.end(true)));
  }

  /** Calls a tool upstream; see Upstream.callTool. */
  async callTool(
    params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> },
    options: UpstreamRequestOptions = {},
  ): Promise<CallToolResult> {
    const session = this.requireSession();
    const timeout = options.timeoutMs ?? this.config.timeoutMs;
    try {
      // client.request rather than client.callTool: a proxy passes results through as they are, without
      // the SDK's output-schema checks (the agent's own client does those).
      const result = await session.client.request(
        { method: 'tools/call', params },
        CompatibilityCallToolResultSchema,
        {
          timeout,
          resetTimeoutOnProgress: true,
          ...(options.signal ? { signal: options.signal } : {}),
          // Always ask for progress: the token lets the upstream report it, and each report keeps the timeout alive.
          onprogress: (progress) => options.onprogress?.(progress),
        },
      );
      return toCallToolResult(result);
    } catch (err) {
      throw this.translate(err, session, 'tools/call', timeout, options.signal);
    }
  }

  /** Sends any other request upstream and returns its result unchanged; see Upstream.request. */
  async request(message: RpcMessage, options: UpstreamRequestOptions = {}): Promise<Record<string, unknown>> {
    const session = this.requireSession();
    const timeout = options.timeoutMs ?? this.config.timeoutMs;
    try {
      return await session.client.request(
        { method: message.method, ...(message.params ? { params: message.params } : {}) },
        ResultSchema,
        {
          timeout,
          resetTimeoutOnProgress: true,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onprogress ? { onprogress: options.onprogress } : {}),
        },
      );
    } catch (err) {
      throw this.translate(err, session, message.method, timeout, options.signal);
    }
  }

  /** Sends a notification upstream; see Upstream.notify. */
  async notify(message: RpcMessage): Promise<void> {
    const session = this.requireSession();
    try {
      await session.client.notification({
        method: message.method,
        ...(message.params ? { params: message.params } : {}),
      });
    } catch (err) {
      throw this.translate(err, session, message.method, this.config.timeoutMs, undefined);
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
    if (this.readyAt && Date.now() - this.readyAt >= this.healthyMs) this.backoff.reset();
    this.readyAt = 0;
    this.setState('down');
  }

  private scheduleReconnect(): void {
    if (this.stateValue === 'closed') return;
    clearTimeout(this.reconnectTimer);
    const delay = this.backoff.next();
    this.log.warn({ reason: this.downReason, retryInMs: delay }, 'upstream unavailable; will reconnect');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connectOnce().then((ok) => {
        if (!ok) this.scheduleReconnect();
      });
    }, delay);
  }

  /** One connect attempt: initialize, load tools and prompts, go ready. Never throws. */
  private async connectOnce(): Promise<boolean> {
    if (this.stateValue === 'closed') return false;
    const identity: SessionIdentity = {
      clientInfo: this.options.clientInfo ?? { name: 'airlock', version: '0.1.0' },
      capabilities: this.options.capabilities ?? DEFAULT_CAPABILITIES,
    };
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
      await Promise.all([this.toolsRefresh.run(), this.promptsRefresh.run()]);
      if (session.lost) throw new Error('the connection closed while listing tools');
      this.serverCapabilities = session.client.getServerCapabilities();
      this.implementation = session.client.getServerVersion();
      this.serverInstructions = session.client.getInstructions();
      session.ready = true;
      this.readyAt = Date.now();
      this.setState('ready');
      this.log.info(
        { upstream: this.implementation, tools: this.toolList.length, pid: session.upstream.pid },
        'upstream connected',
      );
      return true;
    } catch (err) {
      if (this.session === session) this.session = undefined;
      void session.end(false);
      if (this.isClosed()) return false;
      const ended = session.upstream.describeEnd();
      this.markDown(`${ended ?? `connecting failed: ${describeError(err)}`}; retrying`);
      return false;
    } finally {
      if (this.connecting === session) this.connecting = undefined;
    }
  }

  private async onNotification(notification: RpcMessage): Promise<void> {
    if (this.isClosed()) return;
    try {
      // Refresh first, so whoever reacts to the forwarded notification already sees the new list.
      if (notification.method === 'notifications/tools/list_changed') await this.toolsRefresh.run();
      if (notification.method === 'notifications/prompts/list_changed') await this.promptsRefresh.run();
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
    this.markDown(`restarting after ${session.upstream.describeEnd() ?? 'its connection closed'}`);
    this.scheduleReconnect();
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
    void this.probe(session, err);
  }

  /**
   * HTTP transports report stream errors but never close by themselves; a ping tells a dead or restarted
   * server (reconnect, which re-initializes) from a stream that merely dropped and recovered.
   */
  private async probe(session: UpstreamSession, trigger: Error): Promise<void> {
    if (this.probing || !session.ready) return;
    this.probing = true;
    try {
      await session.client.ping({ timeout: Math.min(5_000, this.config.timeoutMs) });
    } catch (err) {
      if (!(err instanceof McpError) || err.code === ErrorCode.RequestTimeout) {
        this.connectionLost(
          session,
          `reconnecting after ${describeError(isHttpConnectionFailure(err) ? err : trigger)}`,
        );
      }
    } finally {
      this.probing = false;
    }
  }

  private connectionLost(session: UpstreamSession, reason: string): void {
    if (session.lost) return;
    session.lost = true;
    if (this.session === session) {
      this.session = undefined;
      this.markDown(reason);
      this.scheduleReconnect();
    }
    // Closing rejects the session's calls in flight at once instead of leaving them to time out.
    void session.end(false);
  }

  private translate(
    err: unknown,
    session: UpstreamSession,
    method: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): unknown {
    // The caller cancelled: give them their own reason back, nothing went wrong upstream.
    if (signal?.aborted) return signal.reason ?? err;
    if (err instanceof AirlockError) return err;
    if (isLocalTimeout(err, timeoutMs)) {
      return new AirlockError(
        'UPSTREAM_ERROR',
        `Upstream server "${this.name}" did not answer ${method} within ${formatSeconds(timeoutMs)}`,
        { server: this.name, method, timeoutMs },
        { cause: err },
      );
    }
    if (session.lost) return this.unavailableError(err);
    // A JSON-RPC error the upstream answered with: the proxy forwards its code and message as they are.
    if (err instanceof McpError) return err;
    if (session.upstream.kind === 'http' && isHttpConnectionFailure(err)) {
      this.connectionLost(session, `reconnecting after ${describeError(err)}`);
      return this.unavailableError(err);
    }
    return new AirlockError(
      'UPSTREAM_ERROR',
      `Upstream server "${this.name}" failed ${method}: ${describeError(err)}`,
      { server: this.name, method },
      { cause: err },
    );
  }

  // Listing during connect shares the connect budget; later refreshes are ordinary requests.
  private listTimeoutMs(session: UpstreamSession): number {
    return session.ready ? this.config.timeoutMs : this.connectTimeoutMs;
  }

  private async loadTools(): Promise<void> {
    const session = this.session;
    if (!session || session.lost) return;
    const tools = await session.listTools(this.listTimeoutMs(session));
    if (session !== this.session) return; // a reconnect replaced this session meanwhile
    if (JSON.stringify(tools) === JSON.stringify(this.toolList)) return;
    this.toolList = tools;
    this.emit('tools-changed');
  }

  private async loadPrompts(): Promise<void> {
    const session = this.session;
    if (!session || session.lost) return;
    const prompts = await session.listPrompts(this.listTimeoutMs(session));
    if (session !== this.session) return;
    if (JSON.stringify(prompts) === JSON.stringify(this.promptList)) return;
    this.promptList = prompts;
    this.emit('prompts-changed');
  }
}

/** Accepts pre-2025 `{ toolResult }` answers too, presenting them as ordinary text content. */
function toCallToolResult(result: Record<string, unknown>): CallToolResult {
  const content = result.content;
  if ('toolResult' in result && (!Array.isArray(content) || content.length === 0)) {
    const { toolResult, ...rest } = result;
    return { ...rest, content: [{ type: 'text', text: JSON.stringify(toolResult) }] };
  }
  return result as CallToolResult;
}
