// An HTTP MCP upstream, in the test's own process, that counts every execution of every call by the
// call's `id` argument. Several Airlock replicas share it, so it outlives any of them being killed, and
// its counts are the ground truth for "executed exactly once".
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';

/** The tools it offers; each takes a unique `id` per logical call. */
export const COUNTING_TOOLS = ['read_status', 'deploy', 'wipe'] as const;
export type CountingTool = (typeof COUNTING_TOOLS)[number];

/** A running counting upstream. */
export interface CountingUpstream {
  /** The MCP endpoint, `http://127.0.0.1:PORT/mcp`. */
  readonly url: string;
  /** How many times `tool` ran with `id`. */
  runs(tool: CountingTool, id: string): number;
  /** Every `(tool, id)` that ran, with its count. */
  all(): ReadonlyMap<string, number>;
  /**
   * Makes the next run of `tool` with `id` block (counted, but not answering) until `open` is called;
   * `reached` resolves when that run started.
   */
  gate(tool: CountingTool, id: string): { reached: Promise<void>; open: () => void };
  close(): Promise<void>;
}

const TOOL_TEXT: Record<CountingTool, string> = {
  read_status: 'Reads the status of a service; changes nothing.',
  deploy: 'Deploys a release to production.',
  wipe: 'Erases a disk.',
};

/** Serves both protocol eras on `/mcp` (the SDK's stateless legacy fallback beside 2026-07-28). */
export async function startCountingUpstream(): Promise<CountingUpstream> {
  const counts = new Map<string, number>();
  const gates = new Map<string, { arrive: () => void; opened: Promise<void> }>();
  const key = (tool: string, id: string) => `${tool}:${id}`;
  const build = () => {
    const server = new McpServer({ name: 'counting-upstream', version: '1.0.0' });
    for (const tool of COUNTING_TOOLS) {
      server.registerTool(
        tool,
        {
          description: TOOL_TEXT[tool],
          inputSchema: z.object({ id: z.string().describe('Unique id of this logical call') }),
          annotations: { readOnlyHint: tool === 'read_status', destructiveHint: tool !== 'read_status' },
        },
        async ({ id }) => {
          const n = (counts.get(key(tool, id)) ?? 0) + 1;
          counts.set(key(tool, id), n);
          const gate = gates.get(key(tool, id));
          if (gate) {
            gates.delete(key(tool, id));
            gate.arrive();
            await gate.opened;
          }
          return { content: [{ type: 'text', text: `${tool} ${id}: run ${n}` }] };
        },
      );
    }
    return server;
  };
  const handler = createMcpHandler(build, { keepAliveMs: 0 });
  const http: Server = createServer(toNodeHandler(handler));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    runs: (tool, id) => counts.get(key(tool, id)) ?? 0,
    all: () => counts,
    gate(tool, id) {
      let arrive!: () => void;
      let open!: () => void;
      const reached = new Promise<void>((r) => (arrive = r));
      const opened = new Promise<void>((r) => (open = r));
      gates.set(key(tool, id), { arrive, opened });
      return { reached, open };
    },
    async close() {
      await handler.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
