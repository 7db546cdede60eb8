// A 2026-07-28 (stateless) agent speaking raw HTTP: every request carries the `_meta` envelope and the
// headers that mirror it, and nothing is kept between requests, so each may land on any replica.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { META_KEYS } from '../../src/agent/wire/envelope.js';
import { BACKEND_HEADER } from './round-robin.js';

/** The revision this agent speaks. */
export const MODERN_VERSION = '2026-07-28';

/** One answer, with the notifications that streamed before it and the replica that served it. */
export interface ModernAnswer {
  status: number;
  /** The JSON-RPC response (undefined for a 202 to a notification). */
  body: any;
  /** Notifications sent on the request's SSE stream before the response. */
  notifications: any[];
  /** The backend that answered, when a round-robin balancer named it. */
  backend?: string;
}

/** A `tools/call` answer, with its result (undefined for a JSON-RPC error). */
export type ToolAnswer = ModernAnswer & { result?: CallToolResult & { resultType?: string } };

/** A raw stateless MCP client for one agent token. */
export class ModernAgent {
  private seq = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly token?: string,
    private readonly name = 'modern-agent',
  ) {}

  /** Sends one enveloped request; throws on a network failure (a reset, a refused connect). */
  async request(
    method: string,
    params: Record<string, unknown> = {},
    meta: Record<string, unknown> = {},
  ): Promise<ModernAnswer> {
    const id = ++this.seq;
    const body = {
      jsonrpc: '2.0',
      id,
      method,
      params: {
        ...params,
        _meta: {
          [META_KEYS.protocolVersion]: MODERN_VERSION,
          [META_KEYS.clientInfo]: { name: this.name, version: '1.0.0' },
          [META_KEYS.clientCapabilities]: {},
          ...meta,
        },
      },
    };
    const target = params['name'] ?? params['uri'];
    const res = await fetch(`${this.baseUrl}/mcp`, {
      method: 'POST',
      headers: modernHeaders(method, target, this.token),
      body: JSON.stringify(body),
    });
    const backend = res.headers.get(BACKEND_HEADER) ?? undefined;
    const text = await res.text();
    const base = { status: res.status, ...(backend && { backend }) };
    if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
      return { ...base, body: text ? JSON.parse(text) : undefined, notifications: [] };
    }
    const messages = parseSse(text);
    const answer = messages.find((m) => m.id === id && ('result' in m || 'error' in m));
    if (!answer) throw new Error(`the SSE stream of request ${id} ended without its response`);
    return { ...base, body: answer, notifications: messages.filter((m) => m.id === undefined) };
  }

  /** `tools/call`; `meta` adds keys (such as a progressToken) to the request's `_meta`. */
  async callTool(
    name: string,
    args: Record<string, unknown>,
    meta: Record<string, unknown> = {},
  ): Promise<ToolAnswer> {
    const answer = await this.request('tools/call', { name, arguments: args }, meta);
    return { ...answer, result: answer.body?.result };
  }
}

/** The JSON messages of a complete SSE body. */
function parseSse(text: string): any[] {
  const out: any[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data) out.push(JSON.parse(data));
  }
  return out;
}

/**
 * One enveloped POST written out by hand, as the tasks suites send them: the mirrored headers (`Mcp-Name`
 * from the name, URI or task id), the given client capabilities, the optional bearer token; the answer as
 * parsed JSON (undefined for an empty body).
 */
export async function postModern(
  baseUrl: string,
  method: string,
  params: Record<string, unknown>,
  o: { token?: string; capabilities: Record<string, unknown> },
): Promise<{ status: number; body: any }> {
  const name = params['name'] ?? params['uri'] ?? params['taskId'];
  const res = await fetch(`${baseUrl}/mcp`, {
    method: 'POST',
    headers: modernHeaders(method, name, o.token),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          [META_KEYS.protocolVersion]: MODERN_VERSION,
          [META_KEYS.clientCapabilities]: o.capabilities,
        },
      },
    }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The headers a 2026-07-28 POST mirrors from its body; `Mcp-Name` only for a string target. */
function modernHeaders(method: string, target: unknown, token: string | undefined): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN_VERSION,
    'mcp-method': method,
    ...(typeof target === 'string' && { 'mcp-name': target }),
    ...(token && { authorization: `Bearer ${token}` }),
  };
}
