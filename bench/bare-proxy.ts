// The baseline: a bare MCP pass-through proxy built only from the SDK, no policy, no Redis.
// Agent side: Streamable HTTP with stateful sessions (SSE responses, the SDK default, as Airlock's /mcp);
// each session gets a low-level `Server` whose tools/list and tools/call forward to ONE shared SDK
// `Client` connected to the upstream. Run: `node --import tsx bench/bare-proxy.ts PORT UPSTREAM_URL`.
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { serveMcpSessions } from './mcp-http-server.js';

/** Starts the pass-through proxy on 127.0.0.1:`port` in front of `upstreamUrl`; resolves with the bound port. */
export async function startBareProxy(
  port: number,
  upstreamUrl: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const upstream = new Client({ name: 'bare-proxy', version: '1.0.0' });
  await upstream.connect(new StreamableHTTPClientTransport(new URL(upstreamUrl)));

  const sessionServer = (): Server => {
    const server = new Server({ name: 'bare-proxy', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, (req) => upstream.listTools(req.params));
    // A pass-through must let slow tools run: 10 minutes instead of the SDK's 60 s default.
    server.setRequestHandler(CallToolRequestSchema, (req) =>
      upstream.callTool(req.params, undefined, { timeout: 600_000 }),
    );
    return server;
  };

  const served = await serveMcpSessions(port, { sessionServer });
  return {
    port: served.port,
    close: async () => {
      await upstream.close();
      await served.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await startBareProxy(Number(process.argv[2] ?? 0), String(process.argv[3]));
  process.stdout.write(`listening ${port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}
