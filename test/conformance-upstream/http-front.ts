import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createMcpHandler,
  hostHeaderValidationResponse,
  InMemoryServerEventBus,
  isInitializeRequest,
  isLegacyRequest,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  originValidationResponse,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import type { McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createFixtureServer, type FixtureShared } from './fixture-server.js';
import { MemoryEventStore } from './memory-event-store.js';
import type { UpstreamMode } from './upstream-mode.js';

/** A running HTTP upstream. */
export interface HttpUpstream {
  /** The MCP endpoint, `http://127.0.0.1:PORT/mcp`. */
  url: string;
  close(): Promise<void>;
}

/** Serves the fixtures at `/mcp`: modern requests statelessly, legacy ones in real sessions. */
export async function startHttpUpstream(options: {
  mode: UpstreamMode;
  port?: number;
  host?: string;
  state: FixtureShared['state'];
}): Promise<HttpUpstream> {
  const sessions = new Map<
    string,
    { transport: WebStandardStreamableHTTPServerTransport; server: McpServer }
  >();
  const bus = new InMemoryServerEventBus();
  const shared: FixtureShared = {
    state: options.state,
    changes: {
      toolsChanged() {
        bus.publish({ kind: 'tools_list_changed' });
        for (const s of sessions.values()) s.server.sendToolListChanged();
      },
      promptsChanged() {
        bus.publish({ kind: 'prompts_list_changed' });
        for (const s of sessions.values()) s.server.sendPromptListChanged();
      },
      resourceUpdated(uri) {
        bus.publish({ kind: 'resource_updated', uri });
        // Legacy sessions hear every update; Airlock passes on only those its agents subscribed to.
        for (const s of sessions.values()) void s.server.server.sendResourceUpdated({ uri });
      },
    },
  };
  // `reject` keeps the modern handler strict; legacy traffic is routed before it, to sessions the
  // stateless fallback could not offer (server→client requests, setLevel, DELETE).
  const modern = createMcpHandler(({ era }) => createFixtureServer(era, shared), {
    legacy: 'reject',
    bus,
    keepAliveMs: 0,
  });

  async function legacy(request: Request): Promise<Response> {
    const id = request.headers.get('mcp-session-id');
    if (id) {
      const session = sessions.get(id);
      if (!session) return jsonRpcError(404, -32001, 'Session not found');
      return session.transport.handleRequest(request);
    }
    const body: unknown =
      request.method === 'POST'
        ? await request
            .clone()
            .json()
            .catch(() => undefined)
        : undefined;
    if (!isInitializeRequest(body))
      return jsonRpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    const server = createFixtureServer('legacy', shared);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new MemoryEventStore(),
      retryInterval: 500,
      keepAliveMs: 0,
      onsessioninitialized: (sid) => void sessions.set(sid, { transport, server }),
      onsessionclosed: (sid) => void sessions.delete(sid),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport.handleRequest(request);
  }

  async function route(request: Request): Promise<Response> {
    const rejected =
      hostHeaderValidationResponse(request, localhostAllowedHostnames()) ??
      originValidationResponse(request, localhostAllowedOrigins());
    if (rejected) return rejected;
    if (new URL(request.url).pathname !== '/mcp') return new Response('Not found', { status: 404 });
    if (options.mode === 'modern') return modern.fetch(request);
    // Legacy-only: an enveloped request has no session, so it meets the plain 2025 refusal.
    if (options.mode === 'legacy' || (await isLegacyRequest(request))) return legacy(request);
    return modern.fetch(request);
  }

  const http: HttpServer = createServer(toNodeHandler({ fetch: route }));
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
      await modern.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function jsonRpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', id: null, error: { code, message } }, { status });
}
