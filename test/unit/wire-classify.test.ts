import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyHttpRequest,
  classifyStdioMessage,
  isRemovedMethod,
  removedMethodError,
  REMOVED_REQUEST_METHODS,
} from '../../src/agent/wire/classify.js';
import { httpStatusForWireError } from '../../src/agent/wire/errors.js';
import {
  cases,
  deepValue,
  initialize,
  meta,
  note,
  ours,
  post,
  req,
  session,
} from '../helpers/wire-requests.js';

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
