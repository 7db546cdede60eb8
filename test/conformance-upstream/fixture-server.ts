import { McpServer } from '@modelcontextprotocol/server';
import type { RequestStateCodec } from '@modelcontextprotocol/server';
import { registerContentTools } from './content-tools.js';
import { registerInputTools } from './input-tools.js';
import { registerResourcesAndPrompts } from './resources-prompts.js';
import { registerTaskTools } from './task-tools.js';
import { ToolRegistry } from './tool-registry.js';
import type { Era, ListChanges } from './fixture-context.js';

/** What all server instances of one upstream process share. */
export interface FixtureShared {
  changes: ListChanges;
  state: RequestStateCodec<Record<string, unknown>>;
}

const CACHE = { ttlMs: 60_000, cacheScope: 'public' } as const;

/** McpServer whose tools live in a {@link ToolRegistry}. */
class FixtureMcpServer extends McpServer {
  readonly tools = new ToolRegistry();

  // The HTTP entry asks this before dispatch to validate `Mcp-Param-*` headers; McpServer's own answer
  // would only know tools registered through it.
  override toolInputSchemaJson(name: string): Record<string, unknown> | undefined {
    return this.tools.inputSchema(name);
  }
}

/** One server instance carrying every fixture, for one modern request or one legacy session. */
export function createFixtureServer(era: Era, shared: FixtureShared): McpServer {
  const server = new FixtureMcpServer(
    { name: 'airlock-conformance-upstream', version: '1.0.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        logging: {},
        completions: {},
      },
      cacheHints: {
        'tools/list': CACHE,
        'prompts/list': CACHE,
        'resources/list': CACHE,
        'resources/templates/list': CACHE,
        'resources/read': CACHE,
        'server/discover': CACHE,
      },
      requestState: { verify: (state, ctx) => shared.state.verify(state, ctx) },
    },
  );
  const fixture = { server, tools: server.tools, era, ...shared };
  registerContentTools(fixture);
  registerInputTools(fixture);
  registerTaskTools(fixture);
  registerResourcesAndPrompts(fixture);
  server.tools.install(server.server);
  return server;
}
