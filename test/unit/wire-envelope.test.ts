import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  META_KEYS,
  TASKS_EXTENSION,
  declaresExtension,
  missingClientCapabilities,
  parseEnvelope,
  validateModernRequest,
} from '../../src/agent/wire/envelope.js';
import { decodeHeaderValue, encodeHeaderValue, readHeader } from '../../src/agent/wire/headers.js';

const V = '2026-07-28';
const meta = (over: Record<string, unknown> = {}) => ({
  [META_KEYS.protocolVersion]: V,
  [META_KEYS.clientInfo]: { name: 'c', version: '1' },
  [META_KEYS.clientCapabilities]: {},
  ...over,
});
const call = (params: Record<string, unknown>, method = 'tools/call', id: unknown = 7) => ({
  jsonrpc: '2.0',
  id,
  method,
  params: { ...params, _meta: meta((params['_meta'] as Record<string, unknown>) ?? {}) },
});
const std = (method: string, name?: string): Record<string, string> => ({
  'MCP-Protocol-Version': V,
  'Mcp-Method': method,
  ...(name !== undefined && { 'Mcp-Name': name }),
});
const b64 = (s: string) => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;

/** The error code (or 'ok') that validateModernRequest gives. */
function outcome(message: unknown, headers?: Record<string, string | string[]>): number | 'ok' {
  const r = validateModernRequest(message, headers);
  return r.ok ? 'ok' : r.error.code;
}

describe('parseEnvelope', () => {
  const cases: Array<[string, unknown, number | 'ok']> = [
    ['full envelope', { _meta: meta() }, 'ok'],
    [
      'without clientInfo (a SHOULD, never required)',
      { _meta: meta({ [META_KEYS.clientInfo]: undefined }) },
      'ok',
    ],
    ['params missing', undefined, -32602],
    ['params an array', [meta()], -32602],
    ['params a string', 'x', -32602],
    ['no _meta', {}, -32602],
    ['_meta null', { _meta: null }, -32602],
    ['_meta an array', { _meta: [meta()] }, -32602],
    ['_meta a string', { _meta: 'meta' }, -32602],
    ['no protocolVersion', { _meta: { [META_KEYS.clientCapabilities]: {} } }, -32602],
    ['no clientCapabilities', { _meta: { [META_KEYS.protocolVersion]: V } }, -32602],
    ['protocolVersion a number', { _meta: meta({ [META_KEYS.protocolVersion]: 20260728 }) }, -32602],
    ['protocolVersion empty', { _meta: meta({ [META_KEYS.protocolVersion]: '' }) }, -32602],
    ['capabilities an array', { _meta: meta({ [META_KEYS.clientCapabilities]: [] }) }, -32602],
    ['capabilities null', { _meta: meta({ [META_KEYS.clientCapabilities]: null }) }, -32602],
    [
      'sampling not an object',
      { _meta: meta({ [META_KEYS.clientCapabilities]: { sampling: true } }) },
      -32602,
    ],
    [
      'extension entry not an object',
      { _meta: meta({ [META_KEYS.clientCapabilities]: { extensions: { x: 1 } } }) },
      -32602,
    ],
    [
      'roots.listChanged a string',
      { _meta: meta({ [META_KEYS.clientCapabilities]: { roots: { listChanged: 'y' } } }) },
      -32602,
    ],
    ['clientInfo without version', { _meta: meta({ [META_KEYS.clientInfo]: { name: 'c' } }) }, -32602],
    ['logLevel unknown', { _meta: meta({ [META_KEYS.logLevel]: 'verbose' }) }, -32602],
    ['logLevel ok', { _meta: meta({ [META_KEYS.logLevel]: 'warning' }) }, 'ok'],
    ['progressToken a float', { _meta: meta({ progressToken: 1.5 }) }, -32602],
    ['progressToken an object', { _meta: meta({ progressToken: {} }) }, -32602],
    [
      'unknown capability slots pass through',
      { _meta: meta({ [META_KEYS.clientCapabilities]: { future: 1 } }) },
      'ok',
    ],
  ];
  for (const [name, params, expected] of cases) {
    it(name, () => {
      const r = parseEnvelope(params);
      assert.equal(r.ok ? 'ok' : r.error.code, expected);
    });
  }

  it('returns the typed context, keeping the whole _meta for forwarding', () => {
    const m = meta({ [META_KEYS.logLevel]: 'info', progressToken: 'p1', traceparent: '00-ab-cd-01' });
    const r = parseEnvelope({ _meta: m });
    assert.ok(r.ok);
    assert.equal(r.value.protocolVersion, V);
    assert.deepEqual(r.value.clientInfo, { name: 'c', version: '1' });
    assert.equal(r.value.logLevel, 'info');
    assert.equal(r.value.progressToken, 'p1');
    assert.equal(r.value.meta['traceparent'], '00-ab-cd-01');
  });

  it('names every missing required key', () => {
    const r = parseEnvelope({ _meta: {} });
    assert.ok(!r.ok);
    assert.deepEqual((r.error.data as any).envelope.missing, [
      META_KEYS.protocolVersion,
      META_KEYS.clientCapabilities,
    ]);
  });

  it('copes with huge and deep params without walking them', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    const wide = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]));
    const r = parseEnvelope({
      _meta: meta({ [META_KEYS.clientCapabilities]: { experimental: { x: deep } } }),
      wide,
    });
    assert.ok(r.ok);
  });
});

describe('validateModernRequest: headers against the body, in the conformance order', () => {
  const cases: Array<[string, unknown, Record<string, string | string[]> | undefined, number | 'ok']> = [
    ['conformant tools/list', call({}, 'tools/list'), std('tools/list'), 'ok'],
    ['conformant tools/call', call({ name: 'echo' }), std('tools/call', 'echo'), 'ok'],
    ['stdio: no header layer at all', call({ name: 'echo' }), undefined, 'ok'],
    [
      'header names lowercased',
      call({}, 'tools/list'),
      { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' },
      'ok',
    ],
    [
      'header names uppercased',
      call({}, 'tools/list'),
      { 'MCP-PROTOCOL-VERSION': V, 'MCP-METHOD': 'tools/list' },
      'ok',
    ],
    [
      'whitespace around values is trimmed',
      call({ name: 'echo' }),
      { ...std('tools/call'), 'Mcp-Name': ' \techo  ' },
      'ok',
    ],
    ['values are case-sensitive', call({}, 'tools/list'), std('TOOLS/LIST'), -32020],
    ['Mcp-Method mismatched', call({}, 'tools/list'), std('prompts/list'), -32020],
    ['Mcp-Method missing', call({}, 'tools/list'), { 'MCP-Protocol-Version': V }, -32020],
    ['MCP-Protocol-Version missing', call({}, 'tools/list'), { 'Mcp-Method': 'tools/list' }, -32020],
    ['Mcp-Name mismatched', call({ name: 'echo' }), std('tools/call', 'wrong_tool_name'), -32020],
    ['Mcp-Name missing while body has params.name', call({ name: 'echo' }), std('tools/call'), -32020],
    ['Mcp-Name for prompts/get', call({ name: 'p' }, 'prompts/get'), std('prompts/get', 'p'), 'ok'],
    [
      'Mcp-Name is params.uri for resources/read',
      call({ uri: 'file:///a' }, 'resources/read'),
      std('resources/read', 'file:///a'),
      'ok',
    ],
    [
      'resources/read with name instead of uri',
      call({ uri: 'file:///a' }, 'resources/read'),
      std('resources/read', 'a'),
      -32020,
    ],
    [
      'Mcp-Name is params.taskId for tasks/get',
      call({ taskId: 'tk_1' }, 'tasks/get'),
      std('tasks/get', 'tk_1'),
      'ok',
    ],
    ['tasks/cancel without Mcp-Name', call({ taskId: 'tk_1' }, 'tasks/cancel'), std('tasks/cancel'), -32020],
    [
      'tasks/update with another task id',
      call({ taskId: 'tk_1' }, 'tasks/update'),
      std('tasks/update', 'tk_2'),
      -32020,
    ],
    ['no Mcp-Name needed on tools/list', call({ name: 'x' }, 'tools/list'), std('tools/list'), 'ok'],
    ['Mcp-Name base64 of a non-ASCII name', call({ name: 'grüße' }), std('tools/call', b64('grüße')), 'ok'],
    ['Mcp-Name base64 of another name', call({ name: 'grüße' }), std('tools/call', b64('gruesse')), -32020],
    ['Mcp-Name invalid base64', call({ name: 'echo' }), std('tools/call', '=?base64?ZWNobw?='), -32020],
    [
      'Mcp-Name upper-case markers are literal',
      call({ name: 'echo' }),
      std('tools/call', '=?BASE64?ZWNobw==?='),
      -32020,
    ],
    ['Mcp-Name raw non-ASCII is invalid', call({ name: 'grüße' }), std('tools/call', 'grüße'), -32020],
    ['Mcp-Name with a control character', call({ name: 'a\u0001b' }), std('tools/call', 'a\u0001b'), -32020],
    [
      'Mcp-Name sent twice',
      call({ name: 'echo' }),
      { ...std('tools/call'), 'Mcp-Name': ['echo', 'echo'] },
      -32020,
    ],
    [
      'header 2026-07-28 over body v999.0.0: mismatch first',
      call({ _meta: { [META_KEYS.protocolVersion]: 'v999.0.0' } }, 'server/discover'),
      std('server/discover'),
      -32020,
    ],
    [
      'header and body both v999.0.0: unsupported',
      call({ _meta: { [META_KEYS.protocolVersion]: 'v999.0.0' } }, 'server/discover'),
      { ...std('server/discover'), 'MCP-Protocol-Version': 'v999.0.0' },
      -32022,
    ],
    [
      'an enveloped legacy revision is not served per request',
      call({ _meta: { [META_KEYS.protocolVersion]: '2025-11-25' } }, 'tools/list'),
      { ...std('tools/list'), 'MCP-Protocol-Version': '2025-11-25' },
      -32022,
    ],
    [
      'missing envelope key beats a header mismatch',
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { [META_KEYS.protocolVersion]: V } } },
      std('prompts/list'),
      -32602,
    ],
    [
      'mismatch beats an unsupported version',
      call({ _meta: { [META_KEYS.protocolVersion]: '1900-01-01' } }, 'tools/list'),
      { 'MCP-Protocol-Version': '1900-01-01', 'Mcp-Method': 'prompts/list' },
      -32020,
    ],
    ['not an object', 'tools/list', std('tools/list'), -32600],
    [
      'method not a string',
      { jsonrpc: '2.0', id: 1, method: 5, params: { _meta: meta() } },
      std('5'),
      -32600,
    ],
    [
      'notification may omit the headers',
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { _meta: meta() } },
      {},
      'ok',
    ],
    [
      'notification headers, when sent, must agree',
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { _meta: meta() } },
      { 'Mcp-Method': 'x' },
      -32020,
    ],
  ];
  for (const [name, message, headers, expected] of cases) {
    it(name, () => assert.equal(outcome(message, headers), expected));
  }

  it('-32022 carries supported (all four revisions) and the requested body value', () => {
    const r = validateModernRequest(
      call({ _meta: { [META_KEYS.protocolVersion]: 'v999.0.0' } }, 'server/discover'),
      {
        ...std('server/discover'),
        'MCP-Protocol-Version': 'v999.0.0',
      },
    );
    assert.ok(!r.ok);
    assert.deepEqual(r.error.data, {
      supported: ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26'],
      requested: 'v999.0.0',
    });
  });

  it('-32020 says which header disagreed with what', () => {
    const r = validateModernRequest(call({ name: 'echo' }), std('tools/call', 'wrong'));
    assert.ok(!r.ok);
    assert.deepEqual(r.error.data, { header: 'Mcp-Name', expected: 'echo', received: 'wrong' });
  });

  it('keeps the id (and no id for a notification)', () => {
    const r = validateModernRequest(call({}, 'tools/list', 'abc'), std('tools/list'));
    assert.ok(r.ok);
    assert.equal(r.value.id, 'abc');
    const n = validateModernRequest({ jsonrpc: '2.0', method: 'notifications/x', params: { _meta: meta() } });
    assert.ok(n.ok);
    assert.equal(Object.hasOwn(n.value, 'id'), false);
  });
});

describe('header helpers', () => {
  it('decodes the spec encoding table and refuses bad base64', () => {
    const table: Array<[string, string]> = [
      ['us-west1', 'us-west1'],
      ['Hello, 世界', '=?base64?SGVsbG8sIOS4lueVjA==?='],
      [' padded ', '=?base64?IHBhZGRlZCA=?='],
      ['line1\nline2', '=?base64?bGluZTEKbGluZTI=?='],
      ['=?base64?literal?=', '=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?='],
    ];
    for (const [plain, encoded] of table) {
      assert.equal(encodeHeaderValue(plain), encoded, plain);
      assert.deepEqual(decodeHeaderValue(encoded), { ok: true, value: plain });
    }
    for (const bad of [
      '=?base64?SGVsbG8?=',
      '=?base64?SGVs!!!bG8=?=',
      '=?base64?SGVsbG9=?=',
      '=?base64?/w==?=',
    ]) {
      assert.deepEqual(decodeHeaderValue(bad), { ok: false }, bad);
    }
    assert.deepEqual(decodeHeaderValue('SGVsbG8='), { ok: true, value: 'SGVsbG8=' });
    assert.deepEqual(decodeHeaderValue('=?base64?SGVsbG8='), { ok: true, value: '=?base64?SGVsbG8=' });
    assert.deepEqual(decodeHeaderValue('=?base64??='), { ok: true, value: '' });
  });

  it('reads headers case-insensitively and refuses duplicates', () => {
    assert.deepEqual(readHeader({ 'mcp-name': ' a ' }, 'Mcp-Name'), { state: 'present', value: 'a' });
    assert.deepEqual(readHeader({ 'Mcp-Name': ['a'] }, 'mcp-name'), { state: 'present', value: 'a' });
    assert.equal(readHeader({}, 'Mcp-Name').state, 'absent');
    assert.equal(readHeader({ 'Mcp-Name': 'a', 'mcp-name': 'a' }, 'Mcp-Name').state, 'invalid');
    assert.equal(readHeader({ 'Mcp-Name': 'a\r\nX: y' }, 'Mcp-Name').state, 'invalid');
  });
});

describe('capabilities', () => {
  it('tells which required capabilities a request lacks, as a ClientCapabilities object', () => {
    const tasks = { extensions: { [TASKS_EXTENSION]: {} } };
    assert.deepEqual(missingClientCapabilities(tasks, {}), tasks);
    assert.equal(missingClientCapabilities(tasks, tasks), undefined);
    assert.deepEqual(missingClientCapabilities({ sampling: {}, elicitation: {} }, { elicitation: {} }), {
      sampling: {},
    });
    assert.equal(declaresExtension({ extensions: { [TASKS_EXTENSION]: {} } }, TASKS_EXTENSION), true);
    assert.equal(
      declaresExtension({ extensions: { [TASKS_EXTENSION]: true } as any }, TASKS_EXTENSION),
      false,
    );
  });
});
