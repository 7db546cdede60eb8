import { CLIENT_CAPABILITIES_META_KEY } from '@modelcontextprotocol/server';
import type { McpServer, RequestStateCodec, ServerContext } from '@modelcontextprotocol/server';
import type { ToolRegistry } from './tool-registry.js';

/** The protocol era one server instance serves. */
export type Era = 'legacy' | 'modern';

/** Where list-change triggers publish, so every open listen stream and legacy session hears them. */
export interface ListChanges {
  toolsChanged(): void;
  promptsChanged(): void;
  /** `notifications/resources/updated` for `uri`, to listen streams that filter on it and legacy sessions. */
  resourceUpdated(uri: string): void;
}

/** What every fixture module receives besides the server it registers on. */
export interface FixtureContext {
  server: McpServer;
  tools: ToolRegistry;
  era: Era;
  changes: ListChanges;
  /** Seals `requestState`; one key per process, so every round of a flow must reach the same process. */
  state: RequestStateCodec<Record<string, unknown>>;
}

/** The capabilities of the caller: per request on the modern wire, from `initialize` on the legacy one. */
export function clientCapabilities(fixture: FixtureContext, ctx: ServerContext): Record<string, unknown> {
  if (fixture.era === 'modern') {
    const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
    return (envelope?.[CLIENT_CAPABILITIES_META_KEY] as Record<string, unknown> | undefined) ?? {};
  }
  return (fixture.server.server.getClientCapabilities() as Record<string, unknown> | undefined) ?? {};
}

/** One text content block, the shape most fixtures answer with. */
export function text(value: string): { content: [{ type: 'text'; text: string }] } {
  return { content: [{ type: 'text', text: value }] };
}

/** Resolves after `ms`, or rejects when the request is cancelled, so cancelled fixtures stop promptly. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort(): void {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}
