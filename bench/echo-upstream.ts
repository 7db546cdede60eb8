// A minimal MCP server over Streamable HTTP with one tool, `echo`, that answers at once.
// Run as its own process: `node --import tsx bench/echo-upstream.ts PORT`; prints "listening PORT".
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { serveMcpSessions } from './mcp-http-server.js';
import { z } from 'zod';

/** Calls of the `hold` tool currently held (they never answer). */
let holding = 0;

/** Builds the MCP server of one session: `echo` returns its `message` at once; `hold` never answers. */
export function createEchoServer(): McpServer {
  const server = new McpServer({ name: 'bench-echo', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns its message', inputSchema: { message: z.string() } },
    ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );
  server.registerTool(
    'hold',
    {
      description: 'Never answers (for memory baselines of held calls)',
      inputSchema: { message: z.string() },
    },
    () => {
      holding++;
      return new Promise<never>(() => {});
    },
  );
  return server;
}

/** Serves `/mcp` (stateful sessions, JSON responses) and `GET /holding` on 127.0.0.1:`port`; resolves with the bound port. */
export async function startEchoUpstream(port: number): Promise<{ port: number; close(): Promise<void> }> {
  return serveMcpSessions(port, {
    sessionServer: createEchoServer,
    enableJsonResponse: true,
    extra: (req, res) => {
      if (req.url === '/holding') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(String(holding));
        return true;
      }
      if (!req.url?.startsWith('/mcp')) {
        res.writeHead(404).end();
        return true;
      }
      return false;
    },
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await startEchoUpstream(Number(process.argv[2] ?? 0));
  process.stdout.write(`listening ${port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}
