// `/mcp` is served by node:http in front of the Express app (src/http-listener.ts). These pin what the
// move must not change: which targets reach the endpoint, the host guard on a loopback listen, the body
// limit, and the JSON form of its answers, while every other path still goes through Express.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { isMcpPath } from '../../src/http-listener.js';
import { MAX_MCP_BODY_BYTES } from '../../src/agent/http-endpoint.js';

const TOKEN = 'listener-bot-token-0123456789abcdef';

let redis: TestRedis;
let gw: TestAirlock;

before(async () => {
  redis = await startRedis();
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: { agents: [{ id: 'listener-bot', token: TOKEN }] },
    policies: { lab: { version: '1', default: 'deny', tools: { list_vms: {} } } },
  });
});

after(async () => {
  await gw?.stop();
  await redis?.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw HTTP request (any Host, any target, an optional body); resolves with the whole answer. */
function raw(
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const url = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method: o.method ?? 'POST', headers: o.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

test('the targets Express routed to /mcp are the ones the listener takes', () => {
  for (const yes of ['/mcp', '/mcp/', '/MCP', '/Mcp/', '/mcp?x=1', '/mcp/?a=b&c']) {
    assert.equal(isMcpPath(yes), true, yes);
  }
  for (const no of ['/', '/mcpx', '/mcp/x', '/mcp//', '/api/mcp', '/mc', '', '?/mcp', undefined]) {
    assert.equal(isMcpPath(no), false, String(no));
  }
});

test('any case and a trailing slash reach the endpoint, with its JSON-RPC answers', async () => {
  for (const path of ['/MCP', '/mcp/?probe=1']) {
    const r = await raw(path, {
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{"jsonrpc": "2.0", "id": 1, "method": ',
    });
    assert.equal(r.status, 400, path);
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
    assert.deepEqual(JSON.parse(r.body), {
      jsonrpc: '2.0',
      error: { code: -32700, message: 'Parse error: body is not valid JSON' },
      id: null,
    });
  }
  const noToken = await raw('/mcp', { body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(noToken.status, 401);
  assert.equal(noToken.headers['www-authenticate'], 'Bearer realm="airlock"');
  assert.equal((JSON.parse(noToken.body) as { error: { code: number } }).error.code, -32001);
});

test('a foreign Host is refused on /mcp in JSON-RPC form, and on other paths by Express as before', async () => {
  const mcp = await raw('/mcp', {
    headers: { host: 'evil.example:80', authorization: `Bearer ${TOKEN}` },
    body: '{}',
  });
  assert.equal(mcp.status, 403);
  assert.equal(mcp.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(JSON.parse(mcp.body), {
    jsonrpc: '2.0',
    error: { code: -32000, message: 'Forbidden: Host "evil.example:80" is not allowed' },
    id: null,
  });
  const api = await raw('/api/requests', { method: 'GET', headers: { host: 'evil.example' } });
  assert.equal(api.status, 403);
  assert.equal((JSON.parse(api.body) as { error: { code: string } }).error.code, 'FORBIDDEN');
  // A path under /mcp that the endpoint never served still meets Express's host guard.
  const under = await raw('/mcp/other', { headers: { host: 'evil.example' }, body: '{}' });
  assert.equal(under.status, 403);
  assert.equal((JSON.parse(under.body) as { jsonrpc?: string }).jsonrpc, '2.0');
});

test('a path under /mcp that is not the endpoint is not served by it', async () => {
  const r = await raw('/mcp/other', {
    headers: { authorization: 'Bearer wrong-token-wrong-token', 'content-type': 'application/json' },
    body: '{}',
  });
  assert.notEqual(r.status, 401, 'the endpoint would have refused the token');
  assert.equal(r.status, 404);
});

test('a body declared over the limit is refused with 413 before it is sent', async () => {
  const url = new URL(gw.url);
  const answer = await new Promise<Answer>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: '/mcp',
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/json',
          'content-length': String(MAX_MCP_BODY_BYTES + 1),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          req.destroy();
        });
      },
    );
    req.on('error', reject);
    // Only the headers go out: the answer must come without the body.
    req.flushHeaders();
  });
  assert.equal(answer.status, 413);
  assert.deepEqual(JSON.parse(answer.body), {
    jsonrpc: '2.0',
    error: { code: -32600, message: `Request body exceeds ${MAX_MCP_BODY_BYTES} bytes` },
    id: null,
  });
});
