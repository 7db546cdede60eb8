// The plain Streamable HTTP server both bench peers (echo upstream, bare proxy) run on: stateful
// sessions, one SDK server per session, nothing else in the way.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/** Options for {@link serveMcpSessions}. */
export interface McpHttpOptions {
  /** Builds the SDK server of one new session. */
  sessionServer: () => Server | McpServer;
  /** Answer with JSON instead of an SSE stream. @defaultValue false */
  enableJsonResponse?: boolean;
  /** Handles a request first; returns true when it answered it. */
  extra?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** Serves MCP on 127.0.0.1:`port`; resolves with the bound port and a close function. */
export async function serveMcpSessions(
  port: number,
  o: McpHttpOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (o.extra?.(req, res)) return;
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (typeof id === 'string' && !transport) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }),
      );
      return;
    }
    if (!transport) {
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: o.enableJsonResponse ?? false,
        onsessioninitialized: (sid) => void sessions.set(sid, t),
        onsessionclosed: (sid) => void sessions.delete(sid),
      });
      t.onclose = () => {
        if (t.sessionId) sessions.delete(t.sessionId);
      };
      await o.sessionServer().connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
