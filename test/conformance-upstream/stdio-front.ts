import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { McpServer } from '@modelcontextprotocol/server';
import { createFixtureServer, type FixtureShared } from './fixture-server.js';
import type { UpstreamMode } from './upstream-mode.js';

/** Serves the fixtures on this process's stdin/stdout; the first message pins the era (dual and modern). */
export async function serveStdioUpstream(mode: UpstreamMode, state: FixtureShared['state']): Promise<void> {
  const servers = new Set<McpServer>();
  const shared: FixtureShared = {
    state,
    changes: {
      toolsChanged: () => servers.forEach((s) => s.sendToolListChanged()),
      promptsChanged: () => servers.forEach((s) => s.sendPromptListChanged()),
      resourceUpdated: (uri) => servers.forEach((s) => void s.server.sendResourceUpdated({ uri })),
    },
  };
  if (mode === 'legacy') {
    // A server connected straight to the transport is what a 2025 stdio server is: handshake first.
    const server = createFixtureServer('legacy', shared);
    servers.add(server);
    await server.connect(new StdioServerTransport());
    return;
  }
  serveStdio(
    ({ era }) => {
      const server = createFixtureServer(era, shared);
      servers.add(server);
      return server;
    },
    { legacy: mode === 'modern' ? 'reject' : 'serve' },
  );
}
