import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { decisionOf } from '../../src/gateway/tool-error.js';

const CI_TOKEN = 'ci-bot-token-0123456789abcdef';
const OPS_TOKEN = 'ops-bot-token-0123456789abcdef';

let redis: TestRedis;
let gw: TestAirlock;

before(async () => {
  redis = await startRedis();
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: {
      agents: [
        { id: 'ci-bot', token: CI_TOKEN },
        { id: 'ops-bot', token: OPS_TOKEN },
      ],
    },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          list_vms: {},
          get_vm_console_ticket: {},
          health_checks: { limits: [{ counter: 'hc', window: 'minute', max: 3, scope: 'grant' }] },
          delete_vm: { action: 'deny', reason: 'Deleting is done by people, not agents' },
          stop_vm: { when: [{ agents: ['ops-bot'], action: 'allow' }], action: 'deny' },
          start_vm: { action: 'require_approval', approval: { timeout: '1m', wait: '200ms' } },
        },
      },
    },
  });
});

after(async () => {
  await gw?.stop();
  await redis?.stop();
});

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

test('lists only the tools policy does not deny outright, per agent', async () => {
  const ci = await gw.connect({ token: CI_TOKEN });
  const ops = await gw.connect({ token: OPS_TOKEN });
  const ciTools = (await ci.listTools()).tools.map((t) => t.name).sort();
  const opsTools = (await ops.listTools()).tools.map((t) => t.name).sort();
  assert.ok(ciTools.includes('list_vms'));
  assert.ok(!ciTools.includes('delete_vm'), 'delete_vm is denied outright');
  assert.ok(!ciTools.includes('vm_management'), 'default deny hides unlisted tools');
  assert.ok(!ciTools.includes('stop_vm'), 'stop_vm is denied to ci-bot');
  assert.ok(opsTools.includes('stop_vm'), 'stop_vm is allowed to ops-bot');
  const listed = (await ci.listTools()).tools.find((t) => t.name === 'start_vm');
  assert.equal(listed?.annotations?.destructiveHint, false);
});

test('allowed calls return the upstream result unchanged', async () => {
  const c = await gw.connect({ token: CI_TOKEN });
  const r = (await c.callTool({
    name: 'get_vm_console_ticket',
    arguments: { vm_name: 'web-01' },
  })) as CallToolResult;
  assert.equal(r.isError, undefined);
  assert.match(text(r), /web-01/);
  assert.equal(decisionOf(r), undefined, 'allowed results carry no Airlock meta');
});

test('denied calls get one plain sentence and the decision in _meta', async () => {
  const c = await gw.connect({ token: CI_TOKEN });
  const r = (await c.callTool({ name: 'delete_vm', arguments: { vm_name: 'web-01' } })) as CallToolResult;
  assert.equal(r.isError, true);
  assert.equal(text(r), 'Denied by policy (lab/delete_vm): Deleting is done by people, not agents.');
  const d = decisionOf(r)!;
  assert.equal(d.status, 'denied');
  assert.equal(d.rule, 'lab/delete_vm');
  assert.match(d.requestId, /^ar_/);
  const unlisted = (await c.callTool({
    name: 'vm_management',
    arguments: { vm_name: 'web-01', action: 'snapshot' },
  })) as CallToolResult;
  assert.equal(decisionOf(unlisted)?.status, 'denied');
  assert.equal(decisionOf(unlisted)?.rule, 'lab/default');
});

test('rate limits name the limit and when to retry', async () => {
  const c = await gw.connect({ token: OPS_TOKEN });
  for (let i = 0; i < 3; i++) {
    const ok = (await c.callTool({
      name: 'health_checks',
      arguments: { vm_name: 'web-01' },
    })) as CallToolResult;
    assert.notEqual(ok.isError, true, `call ${i + 1} is within the limit`);
  }
  const r = (await c.callTool({ name: 'health_checks', arguments: { vm_name: 'web-01' } })) as CallToolResult;
  assert.equal(r.isError, true);
  const d = decisionOf(r)!;
  assert.equal(d.status, 'rate_limited');
  assert.ok(d.retryAfter! >= 1 && d.retryAfter! <= 60, `retryAfter ${d.retryAfter}`);
  assert.match(text(r), /limit "hc" allows 3 per minute.*retry after \d+ s/);
  // scope grant: another agent has its own counter
  const other = await gw.connect({ token: CI_TOKEN });
  const fresh = (await other.callTool({
    name: 'health_checks',
    arguments: { vm_name: 'web-01' },
  })) as CallToolResult;
  assert.notEqual(fresh.isError, true);
});

test('unknown tools and hostile arguments get clear errors and the gateway keeps serving', async () => {
  const c = await gw.connect({ token: CI_TOKEN });
  const unknown = (await c.callTool({ name: 'no_such_tool', arguments: {} })) as CallToolResult;
  assert.equal(unknown.isError, true);
  assert.match(text(unknown), /Unknown tool "no_such_tool"/);

  let deep: unknown = 'x';
  for (let i = 0; i < 200; i++) deep = { d: deep };
  const nested = (await c.callTool({ name: 'list_vms', arguments: { deep } })) as CallToolResult;
  assert.equal(nested.isError, true);
  assert.match(text(nested), /nested deeper than 64 levels/);

  // 100,000 levels, sent as raw text: nothing may recurse on it.
  const sessionId = (c.transport as StreamableHTTPClientTransport).sessionId!;
  const n = 100_000;
  const raw = `{"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"list_vms","arguments":{"a":${'['.repeat(n)}${']'.repeat(n)}}}}`;
  const deepRes = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${CI_TOKEN}`,
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-11-25',
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: raw,
  });
  const deepText = await deepRes.text();
  assert.match(deepText, /nested deeper than 64 levels|Invalid|error/i);

  const huge = 'x'.repeat(10 * 1024 * 1024);
  const res = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${CI_TOKEN}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { huge } }),
  });
  assert.equal(res.status, 413);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /exceeds/);

  const bad = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${CI_TOKEN}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: '{"jsonrpc": "2.0", "id": 1, "method": ',
  });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: number } }).error.code, -32700);

  const still = (await c.callTool({ name: 'list_vms', arguments: {} })) as CallToolResult;
  assert.notEqual(still.isError, true);
});

test('a wrong or missing token gets 401 with a clear message; a session belongs to its agent', async () => {
  const noToken = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(noToken.status, 401);
  assert.match(
    ((await noToken.json()) as { error: { message: string } }).error.message,
    /Missing bearer token/,
  );
  const wrong = new Client({ name: 'intruder', version: '1' });
  await assert.rejects(
    wrong.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
        requestInit: { headers: { Authorization: 'Bearer not-a-real-token-at-all' } },
      }),
    ),
    /401|Invalid bearer token/,
  );
  const ci = await gw.connect({ token: CI_TOKEN });
  const sessionId = (ci.transport as StreamableHTTPClientTransport).sessionId!;
  const hijack = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${OPS_TOKEN}`,
      'mcp-session-id': sessionId,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
  });
  assert.equal(hijack.status, 404, "another agent's token cannot use the session");
});

test('DNS rebinding: a foreign Host header is refused on loopback', async () => {
  const { request } = await import('node:http');
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${gw.url}/mcp`, { method: 'POST', headers: { host: 'evil.example:80' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end('{}');
  });
  assert.equal(status, 403);
});

test('a policy edit applies without restart and agents get tools/list_changed', async () => {
  const { ToolListChangedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
  const { writeFileSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const c = await gw.connect({ token: CI_TOKEN });
  assert.ok(!(await c.listTools()).tools.some((t) => t.name === 'vm_management'));
  const changed = new Promise<void>((resolve) =>
    c.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
  );
  const file = join(gw.airlock.config.policies, 'lab.json');
  const policy = JSON.parse(readFileSync(file, 'utf8'));
  policy.tools.vm_management = {};
  writeFileSync(file, JSON.stringify(policy));
  await changed;
  assert.ok((await c.listTools()).tools.some((t) => t.name === 'vm_management'));
  const r = (await c.callTool({
    name: 'vm_management',
    arguments: { vm_name: 'web-01', action: 'snapshot' },
  })) as CallToolResult;
  assert.equal(decisionOf(r), undefined, 'now allowed');
});
