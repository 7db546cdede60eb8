// `airlock stdio` as a real child process, in both eras: the 2025 SDK client (initialize), the SDK v2
// client pinned to 2026-07-28 (per-request envelope), and raw JSON-RPC lines for what no well-behaved
// client sends. Approvals come through the API of a second Airlock on the same Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as LegacyStdio } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { ResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { labServerCommand, startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { untilChanged } from '../helpers/changes.js';
import { spawnStdio, stdioArgs, type StdioLines } from '../helpers/stdio-lines.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import { META_KEYS } from '../../src/agent/wire/envelope.js';
import { SUBSCRIPTION_ID_META_KEY } from '../../src/agent/listen-stream.js';
import { TASKS_EXTENSION } from '../../src/core/tasks/index.js';

const V = '2026-07-28';
const ALICE = 'alice-token-0123456789abcdef';
const AGENTS = [{ id: 'ci-bot', token: 'agent-token-0123456789abcdef' }];

const labPolicy = (extra: Record<string, unknown> = {}) => ({
  version: '1',
  default: 'deny',
  tools: {
    list_vms: {},
    delete_vm: { action: 'deny', reason: 'Deleting is done by people, not agents' },
    start_vm: {
      action: 'require_approval',
      approval: { approvers: ['alice'], timeout: '1m', wait: '30s' },
    },
    ...extra,
  },
});

let redis: TestRedis;
let api: TestAirlock;
let dir: string;
let config: string;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  redis = await startRedis();
  const prefix = freshPrefix('stdio');
  dir = mkdtempSync(join(tmpdir(), 'airlock-stdio-eras-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'lab.json'), JSON.stringify(labPolicy()));
  const shared = {
    agents: AGENTS,
    reviewers: [{ id: 'alice', token: ALICE }],
    servers: { lab: labServerCommand() },
  };
  config = join(dir, 'airlock.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      ...shared,
      dataDir: join(dir, 'data'),
      redis: { url: redis.url, prefix },
      policies: join(dir, 'policies'),
      log: { level: 'silent' },
    }),
  );
  // The reviewers' side: another Airlock on the same Redis and prefix, whose API approves.
  api = await startTestAirlock({
    redisUrl: redis.url,
    prefix,
    policies: join(dir, 'policies'),
    config: shared,
  });
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
  await api?.stop();
  await redis?.stop();
});

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

async function reviewerApi(path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${api.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return res.json();
}

function pendingFor(vm: string): Promise<any> {
  return untilChanged(
    { redisUrl: redis.url, prefix: api.prefix },
    async () =>
      (await reviewerApi('/requests?status=pending')).requests.find(
        (x: any) => x.tool === 'start_vm' && x.args.vm_name === vm,
      ),
    `a pending start_vm for ${vm}`,
  );
}

function settled(id: string): Promise<any> {
  return untilChanged(
    { redisUrl: redis.url, prefix: api.prefix },
    async () => {
      const r = await reviewerApi(`/requests/${id}`);
      return r.status === 'pending' ? undefined : r;
    },
    `request ${id} to leave pending`,
  );
}

const envelope = (over: Record<string, unknown> = {}) => ({
  [META_KEYS.protocolVersion]: V,
  [META_KEYS.clientCapabilities]: {},
  ...over,
});

/** Opens a listen stream on the channel; its messages arrive among the others. */
function listenOn(p: StdioLines, id: string | number, notifications: Record<string, unknown>): void {
  p.send({ id, method: 'subscriptions/listen', params: { _meta: envelope(), notifications } });
}

function lines(): StdioLines {
  const p = spawnStdio('ci-bot', config);
  cleanups.push(() => p.close());
  return p;
}

test(
  '2025 SDK client over airlock stdio: list, allowed, denied with decision meta, held then approved',
  { timeout: 60_000 },
  async () => {
    const client = new LegacyClient({ name: 'legacy-stdio-agent', version: '1' });
    const [command, ...args] = [process.execPath, ...stdioArgs('ci-bot', config)];
    await client.connect(new LegacyStdio({ command: command!, args, stderr: 'pipe' }));
    cleanups.push(() => client.close());
    assert.equal(client.getServerVersion()?.name, 'airlock');
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('list_vms') && names.includes('start_vm'));
    assert.ok(!names.includes('delete_vm'), 'denied outright, so hidden');
    assert.match(text(await client.callTool({ name: 'list_vms', arguments: {} })), /VM\(s\)/);
    const denied = (await client.callTool({
      name: 'delete_vm',
      arguments: { vm_name: 'web-01' },
    })) as CallToolResult;
    assert.equal(denied.isError, true);
    assert.equal(text(denied), 'Denied by policy (lab/delete_vm): Deleting is done by people, not agents.');
    assert.equal(decisionOf(denied)?.status, 'denied');
    const held = client.callTool({ name: 'start_vm', arguments: { vm_name: 'kali-01' } });
    const req = await pendingFor('kali-01');
    assert.equal(req.agent, 'ci-bot');
    await reviewerApi(`/requests/${req.id}/approve`, { comment: 'ok' });
    const r = (await held) as CallToolResult;
    assert.notEqual(r.isError, true, text(r));
    assert.match(text(r), /kali-01/);
  },
);

test(
  '2025 SDK client that declares the tasks extension over airlock stdio: a held call is a task',
  { timeout: 60_000 },
  async () => {
    const client = new LegacyClient(
      { name: 'legacy-stdio-tasks', version: '1' },
      { capabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    );
    const [command, ...args] = [process.execPath, ...stdioArgs('ci-bot', config)];
    await client.connect(new LegacyStdio({ command: command!, args, stderr: 'pipe' }));
    cleanups.push(() => client.close());
    assert.deepEqual(client.getServerCapabilities()?.extensions, { [TASKS_EXTENSION]: {} });
    const raw = (method: string, params: Record<string, unknown>): Promise<any> =>
      client.request({ method, params } as never, ResultSchema);
    const created = await raw('tools/call', { name: 'start_vm', arguments: { vm_name: 'dc-01' } });
    assert.equal(created.resultType, 'task');
    assert.equal('content' in created, false);
    const req = await pendingFor('dc-01');
    assert.equal((await raw('tasks/get', { taskId: created.taskId })).status, 'working');
    await reviewerApi(`/requests/${req.id}/approve`, {});
    const done = await untilChanged(
      { redisUrl: redis.url, prefix: api.prefix },
      async () => {
        const t = await raw('tasks/get', { taskId: created.taskId });
        return t.status === 'working' ? undefined : t;
      },
      'the task to end',
    );
    assert.equal(done.status, 'completed');
    assert.match(text(done.result), /dc-01/);
  },
);

test(
  'SDK v2 client pinned to 2026-07-28 over airlock stdio: the same calls, progress while held',
  { timeout: 60_000 },
  async () => {
    const client = new Client(
      { name: 'modern-stdio-agent', version: '1' },
      { versionNegotiation: { mode: { pin: V } } },
    );
    const [command, ...args] = [process.execPath, ...stdioArgs('ci-bot', config)];
    await client.connect(new StdioClientTransport({ command: command!, args, stderr: 'pipe' }));
    cleanups.push(() => client.close());
    assert.equal(client.getNegotiatedProtocolVersion(), V);
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('list_vms') && !names.includes('delete_vm'));
    const ok = await client.callTool({ name: 'list_vms', arguments: {} });
    assert.match(text(ok), /VM\(s\)/);
    const denied = await client.callTool({ name: 'delete_vm', arguments: { vm_name: 'web-01' } });
    assert.equal(denied.isError, true);
    assert.equal(decisionOf(denied)?.status, 'denied');
    assert.equal(decisionOf(denied)?.rule, 'lab/delete_vm');
    const progress: string[] = [];
    const held = client.callTool(
      { name: 'start_vm', arguments: { vm_name: 'web-01' } },
      { onprogress: (p) => progress.push(String(p.message)) },
    );
    const req = await pendingFor('web-01');
    await reviewerApi(`/requests/${req.id}/approve`, {});
    const r = await held;
    assert.notEqual(r.isError, true, text(r));
    assert.match(text(r), /web-01/);
    assert.match(progress[0] ?? '', /waiting for approval .*request ar_/);
  },
);

test(
  'raw lines: garbage, missing envelope and unsupported versions get their errors; the process lives on',
  { timeout: 60_000 },
  async () => {
    const p = lines();
    p.writeLine('this is not json {');
    assert.deepEqual((await p.next((m) => m.error?.code === -32700, 'a parse error')).id, null);
    const noEnvelope = await p.request({ id: 1, method: 'tools/list' });
    assert.equal(noEnvelope.error.code, -32602);
    assert.deepEqual(noEnvelope.error.data.envelope.missing, ['_meta']);
    const noCaps = await p.request({
      id: 2,
      method: 'tools/list',
      params: { _meta: { [META_KEYS.protocolVersion]: V } },
    });
    assert.equal(noCaps.error.code, -32602);
    const future = { _meta: envelope({ [META_KEYS.protocolVersion]: '2099-01-01' }) };
    const before = await p.request({ id: 3, method: 'tools/list', params: future });
    assert.equal(before.error.code, -32022);
    assert.deepEqual(before.error.data, {
      supported: ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26'],
      requested: '2099-01-01',
    });
    // server/discover is a probe and does not pin; an ordinary request does.
    const discover = await p.request({ id: 4, method: 'server/discover', params: { _meta: envelope() } });
    assert.equal(discover.result.resultType, 'complete');
    assert.deepEqual(discover.result.capabilities.tools, { listChanged: true });
    const list = await p.request({ id: 5, method: 'tools/list', params: { _meta: envelope() } });
    assert.ok(list.result.tools.some((t: { name: string }) => t.name === 'list_vms'));
    const after = await p.request({ id: 6, method: 'tools/list', params: future });
    assert.deepEqual(after.error.data.supported, ['2026-07-28'], 'pinned to the modern era');
    const init = await p.request({
      id: 7,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    });
    assert.equal(init.error.code, -32022, 'no handshake once modern');
    p.writeLine('[1, 2, 3]');
    p.writeLine('{"jsonrpc":"2.0","id":8,"method":');
    const ok = await p.request({
      id: 9,
      method: 'tools/call',
      params: { name: 'list_vms', arguments: {}, _meta: envelope() },
    });
    assert.equal(ok.result.resultType, 'complete');
    assert.match(ok.result.content[0].text, /VM\(s\)/);
    assert.equal(p.messages.filter((m) => m.error?.code === -32700).length, 2);
    assert.equal(await p.close(), 0, 'stdin closed: a clean exit');
  },
);

test(
  'raw lines, 2025: initialize pins the 2025 era; garbage gets -32700 and the session lives on',
  { timeout: 60_000 },
  async () => {
    const p = lines();
    const init = await p.request({
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    assert.equal(init.result.protocolVersion, '2025-06-18');
    assert.deepEqual(init.result.capabilities.tools, { listChanged: true });
    p.send({ method: 'notifications/initialized' });
    p.writeLine('not json at all');
    assert.equal((await p.next((m) => m.error?.code === -32700, 'a parse error')).id, null);
    const list = await p.request({ id: 2, method: 'tools/list' });
    assert.ok(list.result.tools.some((t: { name: string }) => t.name === 'list_vms'));
    assert.equal(list.result.resultType, undefined, '2025 results carry no resultType');
    const discover = await p.request({ id: 3, method: 'server/discover', params: { _meta: envelope() } });
    assert.equal(discover.error.code, -32601, 'a 2025 session has no server/discover');
    assert.equal(await p.close(), 0);
  },
);

test(
  'raw lines: notifications/cancelled cancels a held call and its approval request',
  { timeout: 60_000 },
  async () => {
    const p = lines();
    const call = {
      name: 'start_vm',
      arguments: { vm_name: 'db-01' },
      _meta: envelope({ progressToken: 'p1' }),
    };
    p.send({ id: 'held', method: 'tools/call', params: call });
    const progress = await p.next((m) => m.method === 'notifications/progress', 'progress');
    assert.match(progress.params.message, /waiting for approval/);
    const req = await pendingFor('db-01');
    p.send({ method: 'notifications/cancelled', params: { requestId: 'held' } });
    assert.equal((await settled(req.id)).status, 'cancelled');
    // Nothing more is sent for a cancelled request: the next response on the channel is the next request's.
    const next = await p.request({ id: 'after', method: 'tools/list', params: { _meta: envelope() } });
    assert.ok(next.result);
    assert.equal(p.messages.filter((m) => m.id === 'held').length, 0);
    await p.close();
  },
);

test(
  'raw lines: a listen stream hears a policy reload that changes the tool list, ends on cancel',
  { timeout: 60_000 },
  async () => {
    const p = lines();
    listenOn(p, 'sub', { toolsListChanged: true, promptsListChanged: true });
    const ack = await p.next((m) => m.method === 'notifications/subscriptions/acknowledged', 'the ack');
    assert.deepEqual(ack.params.notifications, { toolsListChanged: true }, 'no prompts upstream to watch');
    assert.equal(ack.params._meta[SUBSCRIPTION_ID_META_KEY], 'sub');
    writeFileSync(join(dir, 'policies', 'lab.json'), JSON.stringify(labPolicy({ health_checks: {} })));
    const changed = await p.next((m) => m.method === 'notifications/tools/list_changed', 'list_changed');
    assert.equal(changed.params._meta[SUBSCRIPTION_ID_META_KEY], 'sub');
    const list = await p.request({ id: 'l', method: 'tools/list', params: { _meta: envelope() } });
    assert.ok(list.result.tools.some((t: { name: string }) => t.name === 'health_checks'));
    p.send({ method: 'notifications/cancelled', params: { requestId: 'sub' } });
    // Cancelled by the client: no completion response for it, and the channel still serves.
    const after = await p.request({ id: 'a', method: 'tools/list', params: { _meta: envelope() } });
    assert.ok(after.result);
    assert.equal(p.messages.filter((m) => m.id === 'sub').length, 0);
    writeFileSync(join(dir, 'policies', 'lab.json'), JSON.stringify(labPolicy()));
    assert.equal(await p.close(), 0);
  },
);

test(
  'raw lines: shutdown ends an open listen stream with its completion response',
  { timeout: 60_000 },
  async () => {
    const p = lines();
    listenOn(p, 41, { toolsListChanged: true });
    await p.next((m) => m.method === 'notifications/subscriptions/acknowledged', 'the ack');
    p.child.kill('SIGTERM');
    const end = await p.next((m) => m.id === 41, 'the completion response');
    assert.deepEqual(end.result, { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: 41 } });
    await p.close();
  },
);
