// The request table the era classifier is tested on, shared by its own test and the SDK differential.
import type { HttpClassification, InboundHttpRequest } from '../../src/agent/wire/classify.js';
import { classifyHttpRequest } from '../../src/agent/wire/classify.js';
import { META_KEYS, validateModernRequest } from '../../src/agent/wire/envelope.js';

/** The modern revision the rows speak. */
export const V = '2026-07-28';
/** A valid envelope, with keys overridden or added. */
export const meta = (over: Record<string, unknown> = {}) => ({
  [META_KEYS.protocolVersion]: V,
  [META_KEYS.clientCapabilities]: {},
  ...over,
});
/** A JSON-RPC request. */
export const req = (method: string, params?: unknown, id: unknown = 1) => ({
  jsonrpc: '2.0',
  id,
  method,
  ...(params !== undefined && { params }),
});
/** A JSON-RPC notification. */
export const note = (method: string, params?: unknown) => ({
  jsonrpc: '2.0',
  method,
  ...(params !== undefined && { params }),
});
const modernHeaders = (method: string, extra: Record<string, string> = {}) => ({
  'MCP-Protocol-Version': V,
  'Mcp-Method': method,
  ...extra,
});
/** A 2025 `initialize` request. */
export const initialize = req('initialize', {
  protocolVersion: '2025-06-18',
  capabilities: {},
  clientInfo: { name: 'c', version: '1' },
});
/** The header of an existing 2025 session. */
export const session = { 'Mcp-Session-Id': 's-1' };
/** A value nested `depth` objects deep. */
export const deepValue = (depth: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { v };
  return v;
};

/** One row: a request and what Airlock makes of it. */
export interface Case {
  readonly name: string;
  readonly request: InboundHttpRequest;
  /** Our kind, and for rejections (or modern requests after validation) the JSON-RPC code. */
  readonly kind: HttpClassification['kind'];
  readonly code?: number;
}

/** A POST with a parsed body. */
export const post = (body: unknown, headers: Record<string, string> = {}): InboundHttpRequest => ({
  method: 'POST',
  headers,
  body,
});

/** The table: every era rule and hostile body shape. */
export const cases: Case[] = [
  { name: 'GET stream', request: { method: 'GET', headers: session }, kind: 'legacy-session' },
  { name: 'DELETE session', request: { method: 'DELETE', headers: session }, kind: 'legacy-session' },
  { name: 'PUT', request: { method: 'PUT', headers: {} }, kind: 'bad-request', code: -32600 },
  { name: 'initialize handshake', request: post(initialize), kind: 'legacy-handshake' },
  {
    name: 'initialize with a 2025 header',
    request: post(initialize, { 'MCP-Protocol-Version': '2025-06-18' }),
    kind: 'legacy-handshake',
  },
  {
    name: 'initialize with a modern header and no envelope',
    request: post(initialize, { 'MCP-Protocol-Version': V }),
    kind: 'malformed-modern',
    code: -32020,
  },
  {
    name: 'initialize with a modern envelope is a (removed) modern method',
    request: post(req('initialize', { _meta: meta() }), modernHeaders('initialize')),
    kind: 'modern',
  },
  {
    name: 'initialize with a malformed claim stays the handshake',
    request: post(
      req('initialize', { protocolVersion: '2025-06-18', _meta: { [META_KEYS.protocolVersion]: V } }),
    ),
    kind: 'legacy-handshake',
  },
  {
    name: 'initialize whose claim names a 2025 revision stays the handshake',
    request: post(req('initialize', { _meta: meta({ [META_KEYS.protocolVersion]: '2025-11-25' }) })),
    kind: 'legacy-handshake',
  },
  {
    name: 'enveloped tools/list',
    request: post(req('tools/list', { _meta: meta() }), modernHeaders('tools/list')),
    kind: 'modern',
  },
  {
    name: 'enveloped, headers stripped: still modern',
    request: post(req('tools/list', { _meta: meta() })),
    kind: 'modern',
    code: -32020,
  },
  {
    name: 'enveloped with a session id: the body wins',
    request: post(req('tools/list', { _meta: meta() }), { ...modernHeaders('tools/list'), ...session }),
    kind: 'modern',
  },
  {
    name: 'claim with a malformed envelope',
    request: post(
      req('tools/list', { _meta: { [META_KEYS.protocolVersion]: 5, [META_KEYS.clientCapabilities]: {} } }),
      modernHeaders('tools/list'),
    ),
    kind: 'modern',
    code: -32602,
  },
  {
    name: 'claim without clientCapabilities',
    request: post(
      req('server/discover', { _meta: { [META_KEYS.protocolVersion]: V } }),
      modernHeaders('server/discover'),
    ),
    kind: 'modern',
    code: -32602,
  },
  {
    name: 'header/body version mismatch',
    request: post(
      req('server/discover', { _meta: meta({ [META_KEYS.protocolVersion]: 'v999.0.0' }) }),
      modernHeaders('server/discover'),
    ),
    kind: 'modern',
    code: -32020,
  },
  {
    name: 'Mcp-Method mismatch',
    request: post(req('tools/list', { _meta: meta() }), modernHeaders('prompts/list')),
    kind: 'modern',
    code: -32020,
  },
  {
    name: 'unsupported version in header and body',
    request: post(
      req('server/discover', { _meta: meta({ [META_KEYS.protocolVersion]: 'v999.0.0' }) }),
      modernHeaders('server/discover', { 'MCP-Protocol-Version': 'v999.0.0' }),
    ),
    kind: 'modern',
    code: -32022,
  },
  {
    name: 'enveloped 2025 revision',
    request: post(
      req('tools/list', { _meta: meta({ [META_KEYS.protocolVersion]: '2025-11-25' }) }),
      modernHeaders('tools/list', { 'MCP-Protocol-Version': '2025-11-25' }),
    ),
    kind: 'modern',
    code: -32022,
  },
  {
    name: 'modern header, no _meta',
    request: post(req('server/discover', {}), modernHeaders('server/discover')),
    kind: 'malformed-modern',
    code: -32602,
  },
  {
    name: 'modern header, no params',
    request: post(req('tools/list'), modernHeaders('tools/list')),
    kind: 'malformed-modern',
    code: -32602,
  },
  {
    name: 'modern header, _meta without protocolVersion',
    request: post(
      req('server/discover', { _meta: { [META_KEYS.clientCapabilities]: {} } }),
      modernHeaders('server/discover'),
    ),
    kind: 'malformed-modern',
    code: -32602,
  },
  {
    name: 'future revision header, no envelope',
    request: post(req('tools/list', {}), { 'MCP-Protocol-Version': '2027-01-01' }),
    kind: 'malformed-modern',
    code: -32602,
  },
  {
    name: '2025 request in a session',
    request: post(req('tools/list', {}), { ...session, 'MCP-Protocol-Version': '2025-06-18' }),
    kind: 'legacy-session',
  },
  {
    name: '2025 request in a session, no version header',
    request: post(req('tools/list'), session),
    kind: 'legacy-session',
  },
  {
    name: '2025 request without a session',
    request: post(req('tools/list', {}), { 'MCP-Protocol-Version': '2025-06-18' }),
    kind: 'bad-request',
    code: -32000,
  },
  {
    name: 'claim-less request, no headers at all',
    request: post(req('tools/list')),
    kind: 'bad-request',
    code: -32000,
  },
  {
    name: 'claim-less server/discover is not modern',
    request: post(req('server/discover', {})),
    kind: 'bad-request',
    code: -32000,
  },
  {
    name: 'initialized notification in a session',
    request: post(note('notifications/initialized'), session),
    kind: 'legacy-session',
  },
  {
    name: 'notification without a session',
    request: post(note('notifications/initialized')),
    kind: 'bad-request',
    code: -32000,
  },
  {
    name: 'notification with a modern header',
    request: post(note('notifications/cancelled', {}), { 'MCP-Protocol-Version': V }),
    kind: 'modern',
  },
  {
    name: 'enveloped notification',
    request: post(note('notifications/x', { _meta: meta() })),
    kind: 'modern',
  },
  {
    name: 'posted response in a session',
    request: post({ jsonrpc: '2.0', id: 4, result: {} }, session),
    kind: 'legacy-session',
  },
  {
    name: 'posted error response without a session',
    request: post({ jsonrpc: '2.0', id: 4, error: { code: 1, message: 'x' } }),
    kind: 'bad-request',
    code: -32000,
  },
  {
    name: 'legacy batch in a session',
    request: post([req('tools/list'), note('notifications/x')], session),
    kind: 'legacy-session',
  },
  {
    name: 'legacy batch without a session',
    request: post([req('tools/list')]),
    kind: 'bad-request',
    code: -32000,
  },
  { name: 'empty batch', request: post([]), kind: 'bad-request', code: -32600 },
  {
    name: 'batch with a modern element',
    request: post([req('tools/list', { _meta: meta() })], session),
    kind: 'bad-request',
    code: -32600,
  },
  {
    name: 'batch with garbage',
    request: post([req('tools/list'), 42], session),
    kind: 'bad-request',
    code: -32600,
  },
  { name: 'body a string', request: post('tools/list'), kind: 'bad-request', code: -32600 },
  { name: 'body null', request: post(null), kind: 'bad-request', code: -32600 },
  { name: 'body missing', request: post(undefined), kind: 'bad-request', code: -32600 },
  { name: 'body an empty object', request: post({}), kind: 'bad-request', code: -32600 },
  {
    name: 'jsonrpc 1.0',
    request: post({ ...req('tools/list'), jsonrpc: '1.0' }),
    kind: 'bad-request',
    code: -32600,
  },
  {
    name: 'id an object',
    request: post(req('tools/list', { _meta: meta() }, { a: 1 })),
    kind: 'bad-request',
    code: -32600,
  },
  {
    name: 'id a float',
    request: post(req('tools/list', { _meta: meta() }, 1.5)),
    kind: 'bad-request',
    code: -32600,
  },
  {
    name: 'method a number',
    request: post({ jsonrpc: '2.0', id: 1, method: 7 }),
    kind: 'bad-request',
    code: -32600,
  },
  {
    name: 'params a string',
    request: post({ ...req('tools/list'), params: 'x' }),
    kind: 'bad-request',
    code: -32600,
  },
  {
    name: 'array params',
    request: post({ ...req('tools/list'), params: [1, 2] }, session),
    kind: 'bad-request',
    code: -32600,
  },
  {
    name: 'deep params without envelope in a session',
    request: post(req('tools/call', { name: 'x', arguments: deepValue(1_000) }), session),
    kind: 'legacy-session',
  },
  {
    name: '_meta an array',
    request: post(req('tools/list', { _meta: [meta()] }), modernHeaders('tools/list')),
    kind: 'bad-request',
    code: -32600,
  },
  {
    name: '_meta null',
    request: post(req('tools/list', { _meta: null }), modernHeaders('tools/list')),
    kind: 'bad-request',
    code: -32600,
  },
  {
    name: '_meta a string',
    request: post(req('tools/list', { _meta: 'm' }), modernHeaders('tools/list')),
    kind: 'bad-request',
    code: -32600,
  },
];

/** Our kind, and the JSON-RPC code our pipeline (classify, then for modern requests validate) ends with. */
export function ours(request: InboundHttpRequest): { kind: HttpClassification['kind']; code?: number } {
  const c = classifyHttpRequest(request);
  if (c.kind === 'malformed-modern' || c.kind === 'bad-request') return { kind: c.kind, code: c.error.code };
  if (c.kind === 'modern' && !c.isNotification) {
    const v = validateModernRequest(c.message, request.headers);
    return v.ok ? { kind: c.kind } : { kind: c.kind, code: v.error.code };
  }
  return { kind: c.kind };
}
