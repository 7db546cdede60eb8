// A 2025-era agent as real clients build it: the SDK 1.x `Client` over Streamable HTTP, one session
// opened with `initialize` and kept for every call, whichever replica each request lands on.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** The revision the SDK 1.x client negotiates with Airlock. */
export const SESSION_VERSION = '2025-11-25';

/** Options for {@link SessionAgent}. */
export interface SessionAgentOptions {
  /**
   * How long one call may take before the client gives up on it. A response stream cut by a dying
   * replica is never resumed (no event ids), so without it the call would wait for the SDK's 60 s.
   * @defaultValue 10 s
   */
  callTimeoutMs?: number;
}

/** A session client for one agent token; it opens its session on first use and again if it was lost. */
export class SessionAgent {
  private client: Client | undefined;
  private transport: StreamableHTTPClientTransport | undefined;
  /** Sessions opened, the first included. */
  sessions = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly name = 'session-agent',
    private readonly options: SessionAgentOptions = {},
  ) {}

  /** One tools/call on the session; throws what the client saw (a reset, a 502, a timeout, a JSON-RPC error). */
  async callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    const client = await this.connected();
    try {
      return (await client.callTool({ name, arguments: args }, undefined, {
        timeout: this.options.callTimeoutMs ?? 10_000,
      })) as CallToolResult;
    } catch (err) {
      // A session the gateway no longer knows is opened anew on the next call, as SDK users do.
      if (/\b404\b|session not found/i.test(String(err))) await this.drop();
      throw err;
    }
  }

  /** Ends the session (DELETE) and the client. */
  async close(): Promise<void> {
    await this.transport?.terminateSession().catch(() => {});
    await this.drop();
  }

  private async connected(): Promise<Client> {
    if (this.client) return this.client;
    const transport = new StreamableHTTPClientTransport(new URL(`${this.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${this.token}` } },
    });
    const client = new Client({ name: this.name, version: '1.0.0' }, { capabilities: {} });
    // Cut GET streams and their reconnects are reported here; each call reports its own failure.
    client.onerror = () => {};
    try {
      await client.connect(transport, { timeout: this.options.callTimeoutMs ?? 10_000 });
    } catch (err) {
      await client.close().catch(() => {});
      throw err;
    }
    this.sessions++;
    this.client = client;
    this.transport = transport;
    return client;
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.transport = undefined;
    await client?.close().catch(() => {});
  }
}
