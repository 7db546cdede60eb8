// Which POSTs of a 2025 session the hand-written path answers (src/agent/session-fast-call.ts): one
// `tools/call` or `tools/list` that the SDK's Streamable HTTP transport and its Server would take as they
// are. Everything else — a batch, an unusual header, a body the SDK's schemas might reject or reshape —
// goes to the SDK path, whose answer is today's by construction, so no error the fast path could give
// differs from the SDK's. The checks mirror SDK 1.x (`webStandardStreamableHttp.js` handlePostRequest, the
// request schemas in `types.js`, and the Server's tools/call validation), which is pinned.
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { HeaderMap } from './headers.js';

/**
 * A request the fast path answers; `params` as the SDK's schemas would hand them to the handler.
 * `jsonFirst`: the client ranks a JSON body above an SSE stream (see {@link prefersJson}).
 */
export type SessionFastRequest = { readonly id: string | number; readonly jsonFirst: boolean } & (
  | { readonly method: 'tools/call'; readonly params: Record<string, unknown> }
  | { readonly method: 'tools/list' }
);

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The media type SDK clients send on every POST, with or without the charset they may add. */
const JSON_CONTENT_TYPE = /^application\/json(?:\s*;\s*charset=(?:"utf-8"|utf-8))?$/i;

/**
 * The request the fast path takes from this POST, or undefined for the SDK path. `headers` are Node's
 * (lower-case names, repeated values joined), `body` the parsed JSON.
 */
export function sessionFastRequest(headers: HeaderMap, body: unknown): SessionFastRequest | undefined {
  // The transport's checks: Accept names both forms (as a substring, like the SDK), the body is JSON, and a
  // version header, when sent, is one the SDK supports.
  const accept = headers['accept'];
  if (typeof accept !== 'string' || !accept.includes('application/json')) return undefined;
  if (!accept.includes('text/event-stream')) return undefined;
  const contentType = headers['content-type'];
  if (typeof contentType !== 'string' || !JSON_CONTENT_TYPE.test(contentType)) return undefined;
  const version = headers['mcp-protocol-version'];
  if (
    version !== undefined &&
    (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))
  ) {
    return undefined;
  }
  // JSONRPCRequestSchema is strict: exactly these keys, an integer or string id.
  if (!isObject(body) || body['jsonrpc'] !== '2.0') return undefined;
  for (const key in body) {
    if (key !== 'jsonrpc' && key !== 'id' && key !== 'method' && key !== 'params') return undefined;
  }
  const id = body['id'];
  if (typeof id !== 'string' && !Number.isSafeInteger(id)) return undefined;
  const params = body['params'];
  if (params !== undefined && (!isObject(params) || !plainMeta(params['_meta']))) return undefined;
  const method = body['method'];
  if (method === 'tools/list') {
    const cursor = params?.['cursor'];
    if (cursor !== undefined && typeof cursor !== 'string') return undefined;
    return { method, id: id as string | number, jsonFirst: prefersJson(accept) };
  }
  if (method !== 'tools/call' || params === undefined || typeof params['name'] !== 'string') return undefined;
  // Task-augmented calls have their own result schema; the SDK path serves them.
  if (params['task'] !== undefined) return undefined;
  const args = params['arguments'];
  if (args !== undefined && (!isObject(args) || Object.hasOwn(args, '__proto__'))) return undefined;
  return { method, id: id as string | number, jsonFirst: prefersJson(accept), params };
}

/**
 * True when `accept` ranks application/json above text/event-stream: by q-value, then, on a tie, by
 * order, as Express's own negotiation (`req.accepts`) ranks them. SDK clients list JSON first; a client
 * that lists the stream first gets the stream, exactly as the SDK would answer it.
 */
export function prefersJson(accept: string): boolean {
  let json: { q: number; at: number } | undefined;
  let sse: { q: number; at: number } | undefined;
  const ranges = accept.split(',');
  for (let at = 0; at < ranges.length; at++) {
    const [type = '', ...params] = ranges[at]!.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const rank = { q: q === undefined ? 1 : Number(q.slice(2)) || 0, at };
    if (type === 'application/json') json ??= rank;
    else if (type === 'text/event-stream') sse ??= rank;
  }
  if (!json || json.q <= 0) return false;
  if (!sse || sse.q <= 0) return true;
  return json.q > sse.q || (json.q === sse.q && json.at < sse.at);
}

/**
 * True for a `_meta` the SDK's RequestMetaSchema passes through unchanged: absent, or an object whose
 * progress token is a string or an integer, with no related-task key (task messages are the SDK's) and no
 * own `__proto__` key (the schema's copy would turn it into a prototype).
 */
function plainMeta(meta: unknown): boolean {
  if (meta === undefined) return true;
  if (!isObject(meta) || Object.hasOwn(meta, '__proto__')) return false;
  if (meta['io.modelcontextprotocol/related-task'] !== undefined) return false;
  const token = meta['progressToken'];
  return token === undefined || typeof token === 'string' || Number.isSafeInteger(token);
}
