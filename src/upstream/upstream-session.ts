import {
  Client,
  ProtocolError,
  ProtocolErrorCode,
  type ClientCapabilities,
  type Implementation,
  type McpSubscription,
  type Notification,
  type Prompt,
  type ProtocolEra,
  type StreamableHTTPClientTransport,
  type SubscriptionFilter,
  type Tool,
} from '@modelcontextprotocol/client';
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { z } from 'zod';
import { DirectHttpForwarder, type LegacySession } from './direct-http.js';
import { createUpstreamTransport, type UpstreamTransport } from './upstream-transport.js';
import type { RpcMessage } from './types.js';

/** What a session reports to the connection that owns it. */
export interface SessionCallbacks {
  /** A request the upstream makes of its client (sampling, elicitation, roots), in either era. */
  onRequest(request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>>;
  /** Any notification the SDK does not handle itself (progress and cancelled it does). */
  onNotification(notification: RpcMessage): Promise<void>;
  /** The connection ended without `end()` being called: the child died, the transport or listen stream closed. */
  onClose(): void;
  /** A transport error that did not (yet) close the connection. */
  onError(err: Error): void;
}

/** Identity and capabilities Airlock presents upstream. */
export interface SessionIdentity {
  clientInfo: Implementation;
  capabilities: ClientCapabilities;
}

// A page count no real server needs; stops a server that keeps returning a cursor from looping forever.
const MAX_PAGES = 1000;

// Subscribe and unsubscribe answer an empty result; a proxy does not judge its shape.
const ANY_RESULT = z.looseObject({});

// The server→client requests Airlock relays to the calling agent.
const RELAYED_METHODS = ['sampling/createMessage', 'elicitation/create', 'roots/list'] as const;

function toRpc(message: { method: string; params?: unknown }): RpcMessage {
  return {
    method: message.method,
    ...(message.params ? { params: message.params as Record<string, unknown> } : {}),
  };
}

/** One connection attempt: an SDK client on a fresh transport. A reconnect makes a new session. */
export class UpstreamSession {
  readonly client: Client;
  readonly upstream: UpstreamTransport;
  /** Initialized and its lists loaded; only then does losing it make the connection reconnect by itself. */
  ready = false;
  /** Closed, or given up on; nothing it reports matters any more. */
  lost = false;
  /** The allow path's own HTTP leg, once connected to an HTTP upstream (see direct-http.ts). */
  direct: DirectHttpForwarder | undefined;
  private subscription: McpSubscription | undefined;
  /** Open `subscriptions/listen` streams carrying one resource's updates each (modern upstreams only). */
  private readonly resourceStreams = new Map<string, McpSubscription>();

  constructor(
    private readonly config: ServerConfig,
    logger: Logger,
    private readonly identity: SessionIdentity,
    private readonly callbacks: SessionCallbacks,
  ) {
    this.upstream = createUpstreamTransport(config, logger);
    this.client = new Client(identity.clientInfo, {
      capabilities: identity.capabilities,
      // `auto` probes with server/discover and falls back to initialize: one client for both eras.
      versionNegotiation: { mode: 'auto' },
      // Auto-fulfilment (the default) hands a modern upstream's `input_required` requests to the same
      // handlers a legacy upstream's server→client requests reach, and retries the call with the answers.
      inputRequired: { autoFulfill: true },
      listMaxPages: MAX_PAGES,
    });
    const client = this.client;
    for (const method of RELAYED_METHODS) {
      // The SDK validates sampling and elicitation results against their schemas before they go upstream.
      client.setRequestHandler(
        method,
        async (req, ctx) => (await callbacks.onRequest(toRpc(req), ctx.mcpReq.signal)) as never,
      );
    }
    client.fallbackNotificationHandler = async (notification: Notification) => {
      if (!this.lost) await callbacks.onNotification(toRpc(notification));
    };
    client.onclose = () => this.closed();
    client.onerror = (err: Error) => {
      if (!this.lost) callbacks.onError(err);
    };
  }

  /** The era the upstream speaks, once connected: `modern` (2026-07-28) or `legacy` (2025 revisions). */
  get era(): ProtocolEra | undefined {
    return this.client.getProtocolEra();
  }

  /** Starts the transport, finds out the upstream's era and runs initialize (legacy) or adopts discover. */
  async connect(timeoutMs: number): Promise<void> {
    await this.client.connect(this.upstream.transport, { timeout: timeoutMs });
    const version = this.client.getNegotiatedProtocolVersion();
    if (this.config.kind !== 'http' || version === undefined) return;
    const legacy = this.era === 'modern' ? undefined : this.legacySession();
    if (this.era !== 'modern' && !legacy) return;
    const identity = { ...this.identity, protocolVersion: version, ...(legacy && { legacy }) };
    this.direct = new DirectHttpForwarder(this.config, identity, (notification) => {
      if (!this.lost) void this.callbacks.onNotification(notification);
    });
  }

  /**
   * What the direct leg shares of a 2025 session with the SDK client: its transport's session id, the
   * client's request id counter (so that the leg's ids never repeat the client's on the session), and the
   * handler its relayed requests reach. Undefined when the client has no such counter: the SDK path stays.
   */
  private legacySession(): LegacySession | undefined {
    const counter = this.client as unknown as { _requestMessageId?: unknown };
    if (typeof counter._requestMessageId !== 'number') return undefined;
    const transport = this.upstream.transport as StreamableHTTPClientTransport;
    return {
      sessionId: () => transport.sessionId,
      nextId: () => (counter._requestMessageId as number)++,
      onRequest: (request, signal) => this.callbacks.onRequest(request, signal),
    };
  }

  /**
   * A modern upstream sends list changes only on a `subscriptions/listen` stream; a legacy one sends them
   * unasked. Its end is a lost connection: the reconnect listens again and reloads the lists.
   */
  async listen(timeoutMs: number): Promise<void> {
    const caps = this.client.getServerCapabilities();
    if (this.era !== 'modern' || !caps) return;
    const filter: SubscriptionFilter = {
      ...(caps.tools?.listChanged ? { toolsListChanged: true } : {}),
      ...(caps.prompts?.listChanged ? { promptsListChanged: true } : {}),
      ...(caps.resources?.listChanged ? { resourcesListChanged: true } : {}),
    };
    if (Object.keys(filter).length === 0) return;
    this.subscription = await this.client.listen(filter, { timeout: timeoutMs });
    void this.subscription.closed.then((how) => {
      if (how !== 'local') this.closed();
    });
  }

  /**
   * Starts receiving `notifications/resources/updated` for `uri`. A legacy upstream gets
   * `resources/subscribe`; a modern one has no such method, so Airlock opens a listen stream filtered to
   * the URI (a stream per URI: a filter cannot be changed once the stream is open). The updates reach
   * `onNotification` like a legacy upstream's.
   */
  async subscribeResource(uri: string, timeoutMs: number): Promise<void> {
    if (this.era !== 'modern') {
      await this.client.request({ method: 'resources/subscribe', params: { uri } }, ANY_RESULT, {
        timeout: timeoutMs,
      });
      return;
    }
    if (this.resourceStreams.has(uri)) return;
    if (!this.client.getServerCapabilities()?.resources?.subscribe) {
      throw new ProtocolError(
        ProtocolErrorCode.MethodNotFound,
        'The upstream does not support resource subscriptions',
      );
    }
    const stream = await this.client.listen({ resourceSubscriptions: [uri] }, { timeout: timeoutMs });
    if (this.lost) {
      await stream.close().catch(() => undefined);
      return;
    }
    this.resourceStreams.set(uri, stream);
    void stream.closed.then(() => {
      if (this.resourceStreams.get(uri) === stream) this.resourceStreams.delete(uri);
    });
  }

  /** Stops the updates of `uri`: `resources/unsubscribe` (legacy) or closing its listen stream (modern). */
  async unsubscribeResource(uri: string, timeoutMs: number): Promise<void> {
    if (this.era !== 'modern') {
      await this.client.request({ method: 'resources/unsubscribe', params: { uri } }, ANY_RESULT, {
        timeout: timeoutMs,
      });
      return;
    }
    const stream = this.resourceStreams.get(uri);
    this.resourceStreams.delete(uri);
    await stream?.close();
  }

  /** Every tool, following cursors; empty when the server has no tools capability. */
  async listTools(timeoutMs: number): Promise<Tool[]> {
    if (!this.client.getServerCapabilities()?.tools) return [];
    const { tools } = await this.client.listTools(undefined, { timeout: timeoutMs, cacheMode: 'bypass' });
    return tools;
  }

  /** Every prompt, following cursors; empty when the server has no prompts capability. */
  async listPrompts(timeoutMs: number): Promise<Prompt[]> {
    if (!this.client.getServerCapabilities()?.prompts) return [];
    const { prompts } = await this.client.listPrompts(undefined, { timeout: timeoutMs, cacheMode: 'bypass' });
    return prompts;
  }

  /**
   * Closes the client, which rejects its calls in flight at once and ends a stdio child. With
   * `terminate`, an HTTP session is first deleted on the server, bounded so a dead server can't stall us.
   */
  async end(terminate: boolean): Promise<void> {
    this.lost = true;
    await this.subscription?.close().catch(() => undefined);
    const streams = [...this.resourceStreams.values()];
    this.resourceStreams.clear();
    await Promise.all(streams.map((stream) => stream.close().catch(() => undefined)));
    const transport = this.upstream.transport as StreamableHTTPClientTransport;
    if (terminate && this.upstream.kind === 'http' && this.ready && transport.sessionId !== undefined) {
      const deleted = transport.terminateSession().catch(() => undefined);
      await Promise.race([deleted, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    }
    await this.client.close().catch(() => undefined);
    await this.direct?.close();
  }

  private closed(): void {
    if (this.lost) return;
    this.lost = true;
    this.callbacks.onClose();
  }
}
