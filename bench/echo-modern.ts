// A 2026-07-28-only MCP server over HTTP with the `echo` tool, built from the SDK v2 line: every request
// is stateless and enveloped, answered with plain JSON. The upstream of the bench's 2026-07-28 rows.
// Run as its own process: `node --import tsx bench/echo-modern.ts PORT`; prints "listening PORT".
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';

function echoServer(): McpServer {
  const server = new McpServer({ name: 'bench-echo-modern', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns its message', inputSchema: z.object({ message: z.string() }) },
    ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );
  return server;
}

/** Serves `/mcp` (2026-07-28 only) on 127.0.0.1:`port`; resolves with the bound port. */
export async function startModernEcho(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const handler = createMcpHandler(() => echoServer(), { legacy: 'reject', keepAliveMs: 0 });
  const http = createServer(toNodeHandler({ fetch: (request: Request) => handler.fetch(request) }));
  http.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const addr = http.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: async () => {
      await handler.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await startModernEcho(Number(process.argv[2] ?? 0));
  process.stdout.write(`listening ${port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}
