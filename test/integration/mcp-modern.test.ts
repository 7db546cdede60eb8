// 2026-07-28 (stateless) requests on /mcp, through the SDK v2 client pinned to the modern era and through
// raw fetch for every malformed envelope, header and version; beside a 2025 session on the same endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { untilChanged } from '../helpers/changes.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import { META_KEYS } from '../../src/agent/wire/envelope.js';

const AGENT = 'agent-token-0123456789abcdef';
const OTHER = 'other-token-0123456789abcdef';
const ALICE = 'alice-token-0123456789abcdef';
const V = '2026-07-28';

let redis: TestRedis;
let gw: TestAirlock;
const clients: Client[] = [];

before(async () => {
  redis = await startRedis();
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: {
      agents: [
        { id: 'ci-bot', token: AGENT },
        { id: 'ops-bot', token: OTHER },
      ],
      reviewers: [{ id: 'alice', token: ALICE }],
    },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          list_vms: {},
          get_vm_console_ticket: {},
          health_checks: { limits: [{ counter: 'hc', window: 'minute', max: 2, scope: 'grant' }] },
          delete_vm: { action: 'deny', reason: 'Deleting is done by people, not agents' },
          stop_vm: { when: [{ agents: ['ops-bot'], action: 'allow' }], action: 'deny' },
          start_vm: {
            action: 'require_approval',
            approval: { approvers: ['alice'], timeout: '1m', wait: '20s' },
          },
          capture_network_traffic: {
            action: 'require_approval',
            approval: { approvers: ['alice'], timeout: '1m', wait: '300ms' },
          },
        },
      },
    },
  });
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await gw?.stop();
  await redis?.stop();
});

/** An SDK v2 client pinned to 2026-07-28: no initialize, the envelope on every request. */
async function modernClient(token = AGENT): Promise<Client> {
  const client = new Client(
    { name: 'modern-agent', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: V } } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const envelope = (over: Record<string, unknown> = {}) => ({
  [META_KEYS.protocolVersion]: V,
  [META_KEYS.clientCapabilities]: {},
  ...over,
});

/** A raw modern POST; `headers` override the mirrored ones (undefined drops one). */
async function rpc(
  method: string,
  params: Record<string, unknown> = { _meta: envelope() },
  headers: Record<string, string | undefined> = {},
): Promise<{ status: number; body: any; res: Response }> {
  const name = (params['name'] ?? params['uri']) as string | undefined;
  const all: Record<string, string | undefined> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${AGENT}`,
    'mcp-protocol-version': V,
    'mcp-method': method,
    ...(name !== undefined && { 'mcp-name': name }),
    ...headers,
  };
  const sent = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
  const res = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: sent,
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }),
  });
  const textBody = await res.text();
  return { status: res.status, body: textBody ? JSON.parse(textBody) : undefined, res };
}

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

async function api(path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${gw.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return res.json();
}

function pendingFor(tool: string): Promise<any> {
  return untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () => (await api('/requests?status=pending')).requests.find((x: any) => x.tool === tool),
    `a pending request for ${tool}`,
  );
}

function recordWhen(id: string, done: (status: string) => boolean): Promise<any> {
  return untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () => {
      const r = await api(`/requests/${id}`);
      return done(r.status) ? r : undefined;
    },
    `request ${id}`,
  );
}

test('server/discover describes Airlock: versions, only working capabilities, serverInfo, cache hints', async () => {
  const { status, body, res } = await rpc('server/discover');
  assert.equal(status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const r = body.result;
  assert.deepEqual(r.supportedVersions, ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26']);
  assert.deepEqual(r.capabilities.tools, { listChanged: true }, 'list changes arrive on listen streams');
  assert.equal(r.capabilities.prompts, undefined, 'the lab has no prompts, so none are advertised');
  assert.equal(r.capabilities.resources?.subscribe, undefined);
  assert.equal(r._meta['io.modelcontextprotocol/serverInfo'].name, 'airlock');
  assert.equal(r.resultType, 'complete');
  assert.equal(r.cacheScope, 'private');
  assert.equal(r.ttlMs, 0);
  const prompts = await rpc('prompts/list');
  assert.equal(prompts.status, 404, 'not advertised, not served');
  assert.equal(prompts.body.error.code, -32601);
});

test('SDK v2 client pinned to 2026-07-28: tools/list is filtered per agent as in 2025 sessions', async () => {
  const ci = await modernClient(AGENT);
  const ops = await modernClient(OTHER);
  assert.equal(ci.getNegotiatedProtocolVersion(), V);
  const ciTools = (await ci.listTools()).tools.map((t) => t.name).sort();
  const opsTools = (await ops.listTools()).tools.map((t) => t.name).sort();
  assert.ok(ciTools.includes('list_vms'));
  assert.ok(!ciTools.includes('delete_vm'), 'denied outright');
  assert.ok(!ciTools.includes('vm_management'), 'default deny hides unlisted tools');
  assert.ok(!ciTools.includes('stop_vm') && opsTools.includes('stop_vm'), 'per-agent rule');
  const raw = await rpc('tools/list');
  assert.equal(raw.body.result.resultType, 'complete');
  assert.equal(raw.body.result.cacheScope, 'private');
  assert.deepEqual(raw.body.result.tools.map((t: { name: string }) => t.name).sort(), ciTools);
});

test('allowed, denied and rate-limited calls answer as in 2025 sessions', async () => {
  const c = await modernClient();
  const ok = await c.callTool({ name: 'get_vm_console_ticket', arguments: { vm_name: 'web-01' } });
  assert.equal(ok.isError, undefined);
  assert.match(text(ok), /web-01/);
  const denied = await c.callTool({ name: 'delete_vm', arguments: { vm_name: 'web-01' } });
  assert.equal(denied.isError, true);
  assert.equal(text(denied), 'Denied by policy (lab/delete_vm): Deleting is done by people, not agents.');
  assert.equal(decisionOf(denied)?.status, 'denied');
  const calls = [];
  for (let i = 0; i < 3; i++) calls.push(await c.callTool({ name: 'health_checks', arguments: {} }));
  const limited = calls[2]!;
  assert.equal(limited.isError, true);
  assert.match(text(limited), /Rate limited by policy \(lab\/health_checks\).*retry after \d+ s\./);
  assert.equal(decisionOf(limited)?.status, 'rate_limited');
  const raw = await rpc('tools/call', { name: 'list_vms', arguments: {}, _meta: envelope() });
  assert.equal(raw.body.result.resultType, 'complete');
});

test('held call: progress on the stream while waiting, then the approved result', async () => {
  const c = await modernClient();
  const progress: string[] = [];
  const call = c.callTool(
    { name: 'start_vm', arguments: { vm_name: 'kali-01' } },
    {
      onprogress: (p) => progress.push(String(p.message)),
    },
  );
  const req = await pendingFor('start_vm');
  assert.equal(req.agent, 'ci-bot');
  await api(`/requests/${req.id}/approve`, { comment: 'go' });
  const r = await call;
  assert.notEqual(r.isError, true, text(r));
  assert.match(text(r), /kali-01/);
  assert.match(progress[0] ?? '', /waiting for approval .*request ar_.*expires in/);
});

test('still pending after wait; the identical retry re-attaches and gets the result once', async () => {
  const c = await modernClient();
  const args = { vm_name: 'web-01', interface: 'eth0', duration: 120 };
  const first = await c.callTool({ name: 'capture_network_traffic', arguments: args });
  assert.equal(decisionOf(first)?.status, 'pending');
  assert.match(text(first), /^Approval pending \(request ar_.+\)\. Call again with the same arguments/);
  const id = decisionOf(first)!.requestId;
  const retry = await c.callTool({ name: 'capture_network_traffic', arguments: { ...args } });
  assert.equal(decisionOf(retry)?.requestId, id, 'same request, no second one');
  await api(`/requests/${id}/approve`, {});
  assert.equal((await recordWhen(id, (s) => s === 'executed' || s === 'failed')).status, 'executed');
  const got = await c.callTool({ name: 'capture_network_traffic', arguments: args });
  assert.notEqual(got.isError, true, text(got));
  assert.match(text(got), /packets/i);
});

test('closing the request stream cancels a held call and its approval request', async () => {
  const abort = new AbortController();
  const params = {
    name: 'start_vm',
    arguments: { vm_name: 'db-01' },
    _meta: envelope({ progressToken: 'p1' }),
  };
  const res = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    signal: abort.signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${AGENT}`,
      'mcp-protocol-version': V,
      'mcp-method': 'tools/call',
      'mcp-name': 'start_vm',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params }),
  });
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/, 'progress needs a stream');
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /notifications\/progress.*waiting for approval/);
  const req = (await api('/requests?status=pending')).requests.find(
    (x: any) => x.tool === 'start_vm' && x.args.vm_name === 'db-01',
  );
  abort.abort();
  assert.equal((await recordWhen(req.id, (s) => s !== 'pending')).status, 'cancelled');
});

test('bad envelopes, headers and versions get the revision errors with the right HTTP status', async () => {
  const missingCaps = await rpc('tools/list', { _meta: { [META_KEYS.protocolVersion]: V } });
  assert.deepEqual([missingCaps.status, missingCaps.body.error.code], [400, -32602]);
  const noMeta = await rpc('tools/list', {});
  assert.deepEqual([noMeta.status, noMeta.body.error.code], [400, -32602], 'header claims modern');
  assert.equal(noMeta.body.id, 7, 'the error answers the request by its id');

  const method = await rpc('tools/list', undefined, { 'mcp-method': 'TOOLS/LIST' });
  assert.deepEqual([method.status, method.body.error.code], [400, -32020]);
  const noMethod = await rpc('tools/list', undefined, { 'mcp-method': undefined });
  assert.deepEqual([noMethod.status, noMethod.body.error.code], [400, -32020]);
  const name = await rpc(
    'tools/call',
    { name: 'list_vms', arguments: {}, _meta: envelope() },
    { 'mcp-name': 'delete_vm' },
  );
  assert.deepEqual([name.status, name.body.error.code], [400, -32020]);
  const noName = await rpc(
    'tools/call',
    { name: 'list_vms', arguments: {}, _meta: envelope() },
    { 'mcp-name': undefined },
  );
  assert.deepEqual([noName.status, noName.body.error.code], [400, -32020]);
  const bodyV999 = await rpc('tools/list', {
    _meta: envelope({ [META_KEYS.protocolVersion]: 'v999.0.0' }),
  });
  assert.deepEqual([bodyV999.status, bodyV999.body.error.code], [400, -32020], 'mismatch before support');

  const future = await rpc(
    'tools/list',
    { _meta: envelope({ [META_KEYS.protocolVersion]: '2099-01-01' }) },
    { 'mcp-protocol-version': '2099-01-01' },
  );
  assert.deepEqual([future.status, future.body.error.code], [400, -32022]);
  assert.equal(future.body.error.data.requested, '2099-01-01');
  assert.ok(future.body.error.data.supported.includes(V));

  for (const removed of ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe']) {
    const r = await rpc(removed, { uri: 'lab://x', _meta: envelope() });
    assert.deepEqual([r.status, r.body.error.code], [404, -32601], removed);
  }
  const unknown = await rpc('tools/explode');
  assert.deepEqual([unknown.status, unknown.body.error.code], [404, -32601]);
  const badName = await rpc('tools/call', { name: 42, _meta: envelope() });
  assert.deepEqual([badName.status, badName.body.error.code], [400, -32602]);
});

test('every modern request checks the token', async () => {
  const wrong = await rpc('server/discover', undefined, { authorization: 'Bearer nope-0123456789abcdef' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.res.headers.get('www-authenticate'), 'Bearer realm="airlock"');
  const none = await rpc('tools/list', undefined, { authorization: undefined });
  assert.equal(none.status, 401);
});

test('a 2025 session and a 2026 client side by side on the same endpoint', async () => {
  const legacy = await gw.connect({ token: AGENT });
  const modern = await modernClient();
  assert.equal(modern.getNegotiatedProtocolVersion(), V);
  const [a, b] = await Promise.all([legacy.listTools(), modern.listTools()]);
  assert.deepEqual(
    a.tools.map((t) => t.name).sort(),
    b.tools.map((t) => t.name).sort(),
    'the same policy view in both eras',
  );
  const [x, y] = await Promise.all([
    legacy.callTool({ name: 'list_vms', arguments: {} }),
    modern.callTool({ name: 'list_vms', arguments: {} }),
  ]);
  assert.equal(text(x), text(y));
  assert.equal((x as { resultType?: string }).resultType, undefined, '2025 results carry no resultType');
  // A 2025 request without a session is still refused as before.
  const stray = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${AGENT}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(stray.status, 400);
});
