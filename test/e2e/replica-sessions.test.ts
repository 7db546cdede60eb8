import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { startServe, writeDeployment, type ServeProcess } from '../helpers/serve-process.js';
import { labServerCommand } from '../helpers/airlock-harness.js';
import { startUpstream, type UpstreamProcess } from '../helpers/conformance-upstream.js';
import { startRoundRobin, type RoundRobin } from '../helpers/round-robin.js';
import { untilChanged } from '../helpers/changes.js';
import { decisionOf } from '../../src/gateway/tool-error.js';

// Two `airlock serve` processes on one Redis behind a per-request round-robin balancer: a 2025 session
// client must not notice which replica serves which of its requests.

const REVIEWER = 'alice-token-0123456789abcdef';
const AGENT = 'ci-bot-token-0123456789abcdef';
const OTHER = 'other-token-0123456789abcdef';
let redis: TestRedis;
let upstream: UpstreamProcess;
let a: ServeProcess;
let b: ServeProcess;
let lb: RoundRobin;
const prefix = freshPrefix('{sess}');

before(async () => {
  redis = await startRedis();
  upstream = await startUpstream('modern');
  const deployment = writeDeployment({
    redisUrl: redis.url,
    prefix,
    config: {
      reviewers: [{ id: 'alice', token: REVIEWER }],
      agents: [
        { id: 'ci-bot', token: AGENT },
        { id: 'other', token: OTHER },
      ],
      servers: { lab: labServerCommand(), up: { url: upstream.url } },
    },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          health_checks: {},
          start_vm: {
            action: 'require_approval',
            approval: { approvers: ['alice'], timeout: '2m', wait: '30s' },
          },
          stop_vm: {
            action: 'require_approval',
            approval: { approvers: ['alice'], timeout: '2m', wait: '100ms' },
          },
        },
      },
      up: { version: '1', default: 'allow' },
    },
  });
  [a, b] = await Promise.all([startServe(deployment.configFor), startServe(deployment.configFor)]);
  lb = await startRoundRobin([a.url, b.url]);
});

after(async () => {
  await lb?.stop();
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await upstream?.stop();
  await redis?.stop();
});

async function api(gw: ServeProcess, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gw.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${REVIEWER}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

const until = <T>(fn: () => Promise<T | undefined>, what: string): Promise<T> =>
  untilChanged({ redisUrl: redis.url, prefix }, fn, what);

async function sessionClient(
  url: string,
  token: string,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'rr-agent', version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport);
  return { client, transport };
}

/** One JSON-RPC POST, answered as JSON or as an SSE stream that ends with the response. */
async function post(url: string, token: string, session: string | undefined, body: unknown) {
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
      ...(session ? { 'mcp-session-id': session } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const data = text.startsWith('{') ? text : (text.match(/^data: (.*)$/m)?.[1] ?? 'null');
  return { status: res.status, session: res.headers.get('mcp-session-id'), json: JSON.parse(data) };
}

const initialize = (url: string, token: string) =>
  post(url, token, undefined, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });

test('a session through a round-robin balancer: list, calls, a held call approved elsewhere, retry, DELETE', async () => {
  const { client, transport } = await sessionClient(lb.url, AGENT);
  const before = [...lb.stats.forwarded.values()];
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === 'health_checks'));
  for (let i = 0; i < 4; i++) {
    const r = (await client.callTool({
      name: 'health_checks',
      arguments: { vm_name: 'web-01' },
    })) as CallToolResult;
    assert.notEqual(r.isError, true, JSON.stringify(r));
  }
  const served = [...lb.stats.forwarded.values()].map((n, i) => n - (before[i] ?? 0));
  assert.ok(
    served.every((n) => n > 0),
    `both replicas served the session (${served.join(', ')})`,
  );

  // Held until a reviewer approves, through a replica chosen here, not by the balancer.
  const held = client.callTool({ name: 'start_vm', arguments: { vm_name: 'kali-01' } });
  const pending = await until(
    async () =>
      (await api(b, '/requests?status=pending')).json.requests.find((r: any) => r.tool === 'start_vm'),
    'pending start_vm',
  );
  assert.equal((await api(a, `/requests/${pending.id}/approve`, {})).status, 200);
  const released = (await held) as CallToolResult;
  assert.notEqual(released.isError, true, JSON.stringify(released));
  assert.match(JSON.stringify(released.content), /kali-01/);

  // Pending past its wait, approved, then the identical retry gets the stored result.
  const args = { vm_name: 'db-01' };
  const answer = (await client.callTool({ name: 'stop_vm', arguments: args })) as CallToolResult;
  assert.equal(decisionOf(answer)?.status, 'pending');
  const id = decisionOf(answer)!.requestId;
  assert.equal((await api(b, `/requests/${id}/approve`, {})).status, 200);
  await until(
    async () => ((await api(a, `/requests/${id}`)).json.status === 'executed' ? true : undefined),
    'run',
  );
  const retry = (await client.callTool({ name: 'stop_vm', arguments: args })) as CallToolResult;
  assert.notEqual(retry.isError, true, JSON.stringify(retry));
  assert.match(JSON.stringify(retry.content), /db-01/);

  const sessionId = transport.sessionId!;
  await transport.terminateSession();
  for (const replica of [a, b]) {
    const after = await post(replica.url, AGENT, sessionId, { jsonrpc: '2.0', id: 9, method: 'tools/list' });
    assert.equal(after.status, 404, 'a deleted session is gone on every replica');
  }
  await client.close();
});

test("a forged session id and another agent's session id get 404", async () => {
  const opened = await initialize(a.url, AGENT);
  assert.equal(opened.status, 200);
  const id = opened.session!;
  assert.match(id, /^s_/);
  const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
  assert.equal((await post(b.url, AGENT, id, list)).status, 200, 'the real one works on the other replica');
  assert.equal((await post(b.url, OTHER, id, list)).status, 404, "another agent's token with this id");
  const forged = `${id.slice(0, -4)}AAAA`;
  assert.equal((await post(b.url, AGENT, forged, list)).status, 404, 'a forged tag');
  assert.equal((await post(a.url, AGENT, 'not-a-session', list)).status, 404, 'not an id at all');
  const noToken = await fetch(`${b.url}/mcp`, { method: 'POST', body: JSON.stringify(list) });
  assert.equal(noToken.status, 401, 'the token is checked on every request, session or not');
});

test('a resource update produced on replica A reaches the GET stream held by replica B', async () => {
  const opened = await initialize(a.url, AGENT);
  const id = opened.session!;
  await post(b.url, AGENT, id, { jsonrpc: '2.0', method: 'notifications/initialized' });
  const stream = await fetch(`${b.url}/mcp`, {
    headers: {
      authorization: `Bearer ${AGENT}`,
      accept: 'text/event-stream',
      'mcp-session-id': id,
      'mcp-protocol-version': '2025-11-25',
    },
  });
  assert.equal(stream.status, 200);
  const reader = stream.body!.getReader();
  const uri = 'test://watched-resource';
  const sub = await post(a.url, AGENT, id, {
    jsonrpc: '2.0',
    id: 3,
    method: 'resources/subscribe',
    params: { uri },
  });
  assert.deepEqual(sub.json.result, {});
  const call = { name: 'test_trigger_resource_update', arguments: {} };
  const fired = await post(a.url, AGENT, id, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: call });
  assert.equal(fired.json.result.isError, undefined);
  let seen = '';
  const decoder = new TextDecoder();
  while (!seen.includes('notifications/resources/updated')) {
    const { value, done } = await reader.read();
    assert.equal(done, false, 'the GET stream ended before the update');
    seen += decoder.decode(value);
  }
  const event = JSON.parse(seen.match(/^data: (.*notifications\/resources\/updated.*)$/m)![1]!);
  assert.deepEqual(event.params, { uri });
  await reader.cancel();
});
