import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CallToolRequestSchema,
  JSONRPCMessageSchema,
  ListToolsRequestSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import { prefersJson, sessionFastRequest } from '../../src/agent/wire/session-fast-request.js';

// The fast path may take only what the SDK path would take unchanged: for every body and header set it
// accepts, the SDK transport's header checks pass, its JSON-RPC schema parses the body, and the method's
// request schema hands the handler the same name, arguments and _meta. Whatever it declines goes to the
// SDK, so declining too much only costs speed; taking too much would change an answer.

const HEADERS = {
  accept: 'application/json, text/event-stream',
  'content-type': 'application/json',
  'mcp-protocol-version': '2025-11-25',
};
const call = (params: unknown, extra: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params,
  ...extra,
});

const bodies: [string, unknown][] = [
  ['a plain call', call({ name: 'echo', arguments: { message: 'x' } })],
  ['no arguments', call({ name: 'echo' })],
  ['a string id', { ...call({ name: 'echo' }), id: 'a-1' }],
  ['a progress token', call({ name: 'echo', _meta: { progressToken: 'p' } })],
  ['an integer progress token', call({ name: 'echo', _meta: { progressToken: 7 } })],
  ['a fractional progress token', call({ name: 'echo', _meta: { progressToken: 1.5 } })],
  ['other _meta keys', call({ name: 'echo', _meta: { 'x/y': { z: 1 } } })],
  ['_meta null', call({ name: 'echo', _meta: null })],
  ['_meta an array', call({ name: 'echo', _meta: [] })],
  [
    'a related task',
    call({ name: 'echo', _meta: { 'io.modelcontextprotocol/related-task': { taskId: 't' } } }),
  ],
  ['a task', call({ name: 'echo', task: { ttl: 1000 } })],
  ['arguments an array', call({ name: 'echo', arguments: [1] })],
  ['arguments null', call({ name: 'echo', arguments: null })],
  ['arguments a string', call({ name: 'echo', arguments: 'x' })],
  ['a __proto__ argument', call({ name: 'echo', arguments: JSON.parse('{"__proto__": {"admin": true}}') })],
  ['a __proto__ _meta key', call({ name: 'echo', _meta: JSON.parse('{"__proto__": {"a": 1}}') })],
  ['a numeric name', call({ name: 5 })],
  ['no params', { jsonrpc: '2.0', id: 1, method: 'tools/call' }],
  ['params an array', call([1])],
  ['an extra top-level key', call({ name: 'echo' }, { extra: 1 })],
  ['a fractional id', { ...call({ name: 'echo' }), id: 1.5 }],
  ['an unsafe integer id', { ...call({ name: 'echo' }), id: 2 ** 60 }],
  ['a null id', { ...call({ name: 'echo' }), id: null }],
  ['jsonrpc 1.0', { ...call({ name: 'echo' }), jsonrpc: '1.0' }],
  ['extra params keys', call({ name: 'echo', cursor: 'c', other: [1] })],
  ['tools/list', { jsonrpc: '2.0', id: 2, method: 'tools/list' }],
  ['tools/list with a cursor', { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { cursor: 'c' } }],
  [
    'tools/list with a numeric cursor',
    { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { cursor: 3 } },
  ],
  ['another method', { jsonrpc: '2.0', id: 3, method: 'prompts/list' }],
  ['a batch', [call({ name: 'echo' })]],
  ['a response', { jsonrpc: '2.0', id: 3, result: {} }],
];

/** What the SDK path would hand AgentSession's handler, or undefined where it answers an error. */
function sdkHandles(body: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(body) || !JSONRPCMessageSchema.safeParse(body).success) return undefined;
  const method = (body as { method?: unknown }).method;
  const schema =
    method === 'tools/call'
      ? CallToolRequestSchema
      : method === 'tools/list'
        ? ListToolsRequestSchema
        : undefined;
  const parsed = schema?.safeParse(body);
  return parsed?.success ? (parsed.data as Record<string, unknown>) : undefined;
}

describe('which 2025 session POSTs the fast path takes', () => {
  for (const [name, body] of bodies) {
    it(name, () => {
      const fast = sessionFastRequest(HEADERS, body);
      if (!fast) return;
      const sdk = sdkHandles(body);
      assert.ok(sdk, `taken by the fast path, but the SDK path answers an error: ${JSON.stringify(body)}`);
      assert.equal(fast.method, sdk['method']);
      assert.equal(fast.id, (body as { id: unknown }).id);
      if (fast.method !== 'tools/call') return;
      const given = sdk['params'] as Record<string, unknown>;
      assert.equal(given['task'], undefined, 'task-augmented calls are the SDK path');
      for (const key of ['name', 'arguments', '_meta']) {
        assert.deepEqual(fast.params[key], given[key], `${key} as the SDK handler would see it`);
      }
    });
  }

  it('takes the common calls at all (or it would be no fast path)', () => {
    for (const name of ['a plain call', 'no arguments', 'a progress token', 'tools/list']) {
      assert.ok(sessionFastRequest(HEADERS, bodies.find(([n]) => n === name)![1]), name);
    }
  });

  it('takes only headers the SDK transport accepts', () => {
    const body = call({ name: 'echo' });
    const headerSets: Record<string, string | undefined>[] = [
      {},
      { accept: 'application/json' },
      { accept: 'text/event-stream' },
      { accept: undefined },
      { accept: '*/*' },
      { accept: 'text/event-stream, application/json' },
      { accept: 'application/json;q=0.5, text/event-stream' },
      { 'content-type': 'application/json; charset=utf-8' },
      { 'content-type': 'APPLICATION/JSON' },
      { 'content-type': 'text/plain' },
      { 'content-type': 'text/plain; a=application/json' },
      { 'content-type': undefined },
      { 'mcp-protocol-version': undefined },
      { 'mcp-protocol-version': '2025-03-26' },
      { 'mcp-protocol-version': '2024-11-05' },
      { 'mcp-protocol-version': '2099-01-01' },
      { 'mcp-protocol-version': '' },
    ];
    let taken = 0;
    for (const over of headerSets) {
      const headers = { ...HEADERS, ...over };
      if (!sessionFastRequest(headers, body)) continue;
      taken++;
      const accept = headers.accept ?? '';
      assert.ok(accept.includes('application/json') && accept.includes('text/event-stream'), accept);
      assert.ok(isJsonContentType(headers['content-type']), String(headers['content-type']));
      const v = headers['mcp-protocol-version'];
      assert.ok(v === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(v), String(v));
    }
    assert.ok(taken >= 6, `the usual header sets are taken (${taken})`);
  });
});

describe('the form a client prefers', () => {
  it('ranks by q-value, then by order', () => {
    assert.equal(prefersJson('application/json, text/event-stream'), true);
    assert.equal(prefersJson('text/event-stream, application/json'), false);
    assert.equal(prefersJson('text/event-stream;q=0.9, application/json'), true);
    assert.equal(prefersJson('application/json;q=0.5, text/event-stream'), false);
    assert.equal(prefersJson('Application/JSON ; q=1, text/event-stream;q=1'), true);
    assert.equal(prefersJson('application/json;q=0, text/event-stream'), false);
    assert.equal(prefersJson('text/event-stream;q=0, application/json;q=0.1'), true);
  });
});
