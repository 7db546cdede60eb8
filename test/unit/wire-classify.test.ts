import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyInboundRequest,
  isLegacyRequest,
  type InboundClassificationOutcome,
} from '@modelcontextprotocol/server';
import {
  classifyHttpRequest,
  classifyStdioMessage,
  isRemovedMethod,
  removedMethodError,
  REMOVED_REQUEST_METHODS,
  type HttpClassification,
  type InboundHttpRequest,
} from '../../src/agent/wire/classify.js';
import { META_KEYS, validateModernRequest } from '../../src/agent/wire/envelope.js';
import { httpStatusForWireError } from '../../src/agent/wire/errors.js';

const V = '2026-07-28';
const meta = (over: Record<string, unknown> = {}) => ({
  [META_KEYS.protocolVersion]: V,
  [META_KEYS.clientCapabilities]: {},
  ...over,
});
const req = (method: string, params?: unknown, id: unknown = 1) => ({
  jsonrpc: '2.0',
  id,
  method,
  ...(params !== undefined && { params }),
});
const note = (method: string, params?: unknown) => ({
  jsonrpc: '2.0',
  method,
  ...(params !== undefined && { params }),
});
const modernHeaders = (method: string, extra: Record<string, string> = {}) => ({
  'MCP-Protocol-Version': V,
  'Mcp-Method': method,
  ...extra,
});
const initialize = req('initialize', {
  protocolVersion: '2025-06-18',
  capabilities: {},
  clientInfo: { name: 'c', version: '1' },
});
const session = { 'Mcp-Session-Id': 's-1' };
const deepValue = (depth: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { v };
  return v;
};

interface Case {
  readonly name: string;
  readonly request: InboundHttpRequest;
  /** Our kind, and for rejections (or modern requests after validation) the JSON-RPC code. */
  readonly kind: HttpClassification['kind'];
  readonly code?: number;
}

const post = (body: unknown, headers: Record<string, string> = {}): InboundHttpRequest => ({
  method: 'POST',
  headers,
  body,
});

const cases: Case[] = [
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
function ours(request: InboundHttpRequest): { kind: HttpClassification['kind']; code?: number } {
  const c = classifyHttpRequest(request);
  if (c.kind === 'malformed-modern' || c.kind === 'bad-request') return { kind: c.kind, code: c.error.code };
  if (c.kind === 'modern' && !c.isNotification) {
    const v = validateModernRequest(c.message, request.headers);
    return v.ok ? { kind: c.kind } : { kind: c.kind, code: v.error.code };
  }
  return { kind: c.kind };
}

describe('classifyHttpRequest', () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = ours(c.request);
      assert.equal(got.kind, c.kind);
      assert.equal(got.code, c.code);
    });
  }

  it('hands back the session id and the requested legacy version', () => {
    assert.deepEqual(classifyHttpRequest({ method: 'get', headers: { 'mcp-session-id': ' s-9 ' } }), {
      kind: 'legacy-session',
      httpMethod: 'GET',
      sessionId: 's-9',
    });
    const hs = classifyHttpRequest(post(initialize));
    assert.equal(hs.kind === 'legacy-handshake' && hs.requestedVersion, '2025-06-18');
  });

  it('classifies arbitrarily deep params without walking them', () => {
    const got = classifyHttpRequest(
      post(req('tools/call', { name: 'x', arguments: deepValue(200_000) }), session),
    );
    assert.equal(got.kind, 'legacy-session');
  });

  it('answers bad requests with 400, and methods other than GET/POST/DELETE with 405', () => {
    const bad = classifyHttpRequest(post('x'));
    assert.equal(bad.kind === 'bad-request' && bad.status, 400);
    const put = classifyHttpRequest({ method: 'PATCH', headers: {} });
    assert.equal(put.kind === 'bad-request' && put.status, 405);
  });
});

/** What each SDK outcome must map to here; the SDK does not look at sessions, Airlock requires one. */
function agrees(
  sdk: InboundClassificationOutcome,
  request: InboundHttpRequest,
  got: ReturnType<typeof ours>,
): void {
  const hasSession = Object.keys(request.headers).some((h) => h.toLowerCase() === 'mcp-session-id');
  if (sdk.kind === 'modern') {
    assert.equal(got.kind, 'modern');
    return;
  }
  if (sdk.kind === 'legacy') {
    if (sdk.reason === 'initialize') assert.equal(got.kind, 'legacy-handshake');
    else if (sdk.reason === 'http-method') {
      const method = request.method.toUpperCase();
      assert.equal(got.kind, method === 'GET' || method === 'DELETE' ? 'legacy-session' : 'bad-request');
    } else assert.equal(got.kind, hasSession ? 'legacy-session' : 'bad-request', `legacy ${sdk.reason}`);
    return;
  }
  // A rejection: we must end with the same code; the era we put it in only tells where it is checked.
  assert.notEqual(got.kind, 'legacy-session');
  assert.notEqual(got.kind, 'legacy-handshake');
  assert.equal(got.code, sdk.code, `SDK ${sdk.cell}`);
}

describe('era classification agrees with @modelcontextprotocol/server 2.4.0', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const headers: Record<string, string> = Object.fromEntries(
        Object.entries(c.request.headers).map(([k, v]) => [k.toLowerCase(), String(v)]),
      );
      const sdk = classifyInboundRequest({
        httpMethod: c.request.method,
        protocolVersionHeader: headers['mcp-protocol-version'],
        mcpMethodHeader: headers['mcp-method'],
        mcpNameHeader: headers['mcp-name'],
        body: c.request.body,
      });
      agrees(sdk, c.request, ours(c.request));
      // The SDK's own predicate: legacy exactly when we route to a 2025 path (or refuse a session-less one).
      if (c.request.method === 'POST' && c.request.body !== undefined) {
        const web = new Request('http://127.0.0.1/mcp', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(c.request.body),
        });
        const legacy = await isLegacyRequest(web, c.request.body);
        const got = ours(c.request);
        const oursLegacy =
          got.kind === 'legacy-handshake' ||
          got.kind === 'legacy-session' ||
          (got.kind === 'bad-request' && got.code === -32000);
        assert.equal(oursLegacy, legacy);
      }
    });
  }
});

describe('removed methods', () => {
  it('answers the methods 2026-07-28 removed with -32601, 404 on HTTP', () => {
    for (const method of [...REMOVED_REQUEST_METHODS, 'notifications/initialized']) {
      assert.equal(isRemovedMethod(method), true, method);
      const error = removedMethodError(method);
      assert.equal(error?.code, -32601);
      assert.equal(httpStatusForWireError(error.code), 404);
    }
    for (const method of [
      'tools/call',
      'tasks/get',
      'tasks/update',
      'tasks/cancel',
      'server/discover',
      'subscriptions/listen',
    ]) {
      assert.equal(removedMethodError(method), undefined, method);
    }
  });
});

describe('classifyStdioMessage', () => {
  const discover = req('server/discover', { _meta: meta() });
  const table: Array<[string, unknown, 'modern' | 'legacy' | undefined, string, boolean?]> = [
    ['initialize opens the 2025 era', initialize, undefined, 'legacy-handshake'],
    ['server/discover is a probe: modern, not pinned', discover, undefined, 'modern', false],
    ['an enveloped tools/list pins modern', req('tools/list', { _meta: meta() }), undefined, 'modern', true],
    [
      'an enveloped initialize is a modern (removed) method',
      req('initialize', { _meta: meta() }),
      undefined,
      'modern',
      true,
    ],
    [
      'after pinning modern, nothing re-pins',
      req('tools/list', { _meta: meta() }),
      'modern',
      'modern',
      false,
    ],
    ['a claim-less request first', req('tools/list'), undefined, 'malformed-modern'],
    ['a claim-less notification first', note('notifications/initialized'), undefined, 'bad-request'],
    [
      'modern notifications need no envelope',
      note('notifications/cancelled', { requestId: 1 }),
      'modern',
      'modern',
      false,
    ],
    ['initialize on a modern process', initialize, 'modern', 'malformed-modern'],
    ['a legacy process takes everything', req('tools/list', { _meta: meta() }), 'legacy', 'legacy-session'],
    ['a response first', { jsonrpc: '2.0', id: 1, result: {} }, undefined, 'bad-request'],
    ['garbage', [1, 2], undefined, 'bad-request'],
  ];
  for (const [name, message, pinned, kind, pins] of table) {
    it(name, () => {
      const c = classifyStdioMessage(message, pinned);
      assert.equal(c.kind, kind);
      if (pins !== undefined) assert.equal(c.kind === 'modern' && c.pins, pins);
    });
  }

  it('a modern process refuses initialize with the modern versions only', () => {
    const c = classifyStdioMessage(initialize, 'modern');
    assert.ok(c.kind === 'malformed-modern');
    assert.equal(c.error.code, -32022);
    assert.deepEqual(c.error.data, { supported: ['2026-07-28'], requested: '2025-06-18' });
  });
});
