import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  type ClientCapabilities,
  type Implementation,
  type Notification,
  type Prompt,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createUpstreamTransport, type UpstreamTransport } from './upstream-transport.js';
import type { RpcMessage } from './types.js';

/** What a session reports to the connection that owns it. */
export interface SessionCallbacks {
  /** A request the upstream sends its client (sampling, elicitation, roots). */
  onRequest(request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>>;
  /** Any notification the SDK does not handle itself (progress and cancelled it does). */
  onNotification(notification: RpcMessage): Promise<void>;
  /** The connection ended without `end()` being called: the child died or the transport closed. */
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

  constructor(config: ServerConfig, logger: Logger, identity: SessionIdentity, callbacks: SessionCallbacks) {
    this.upstream = createUpstreamTransport(config, logger);
    this.client = new Client(identity.clientInfo, { capabilities: identity.capabilities });
    const client = this.client;

    // The SDK validates sampling and elicitation results against their schemas before they go upstream.
    client.setRequestHandler(
      CreateMessageRequestSchema,
      async (req, extra) => (await callbacks.onRequest(toRpc(req), extra.signal)) as never,
    );
    client.setRequestHandler(
      ElicitRequestSchema,
      async (req, extra) => (await callbacks.onRequest(toRpc(req), extra.signal)) as never,
    );
    client.setRequestHandler(
      ListRootsRequestSchema,
      async (req, extra) => (await callbacks.onRequest(toRpc(req), extra.signal)) as never,
    );
    client.fallbackNotificationHandler = async (notification: Notification) => {
      if (!this.lost) await callbacks.onNotification(toRpc(notification));
    };
    client.onclose = () => {
      if (this.lost) return;
      this.lost = true;
      callbacks.onClose();
    };
    client.onerror = (err: Error) => {
      if (!this.lost) callbacks.onError(err);
    };
  }

  /** Starts the transport and runs initialize. */
  async connect(timeoutMs: number): Promise<void> {
    await this.client.connect(this.upstream.transport, { timeout: timeoutMs });
  }

  /** Every tool, following cursors; empty when the server has no tools capability. */
  async listTools(timeoutMs: number): Promise<Tool[]> {
    if (!this.client.getServerCapabilities()?.tools) return [];
    return this.paginate(async (cursor) => {
      const page = await this.client.listTools(cursor === undefined ? undefined : { cursor }, {
        timeout: timeoutMs,
      });
      return { items: page.tools, nextCursor: page.nextCursor };
    });
  }

  /** Every prompt, following cursors; empty when the server has no prompts capability. */
  async listPrompts(timeoutMs: number): Promise<Prompt[]> {
    if (!this.client.getServerCapabilities()?.prompts) return [];
    return this.paginate(async (cursor) => {
      const page = await this.client.listPrompts(cursor === undefined ? undefined : { cursor }, {
        timeout: timeoutMs,
      });
      return { items: page.prompts, nextCursor: page.nextCursor };
    });
  }

  /**
   * Closes the client, which rejects its calls in flight at once and ends a stdio child. With
   * `terminate`, an HTTP session is first deleted on the server, bounded so a dead server can't stall us.
   */
  async end(terminate: boolean): Promise<void> {
    this.lost = true;
    if (terminate && this.upstream.kind === 'http' && this.ready) {
      const transport = this.upstream.transport as StreamableHTTPClientTransport;
      const deleted = transport.terminateSession().catch(() => undefined);
      await Promise.race([deleted, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    }
    await this.client.close().catch(() => undefined);
  }

  private async paginate<T>(
    fetch: (cursor?: string) => Promise<{ items: T[]; nextCursor?: string }>,
  ): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { items, nextCursor } = await fetch(cursor);
      all.push(...items);
      if (nextCursor === undefined) break;
      cursor = nextCursor;
    }
    return all;
  }
}
