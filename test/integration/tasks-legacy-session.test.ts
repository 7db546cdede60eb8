// The tasks extension (io.modelcontextprotocol/tasks) on 2025 sessions: a real SDK 1.x client that
// declares the extension at initialize, through Airlock on a real Redis with the demo lab over stdio, and a
// second Airlock on the same Redis that serves later requests of the same session. A client that does not
// declare it keeps the long poll.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { TestRedis } from '../helpers/redis.js';
import {
  AGENT_TOKEN as AGENT,
  ALICE_TOKEN as ALICE,
  OTHER_AGENT_TOKEN as OTHER,
  TWO_AGENTS_AND_ALICE,
  useAirlockPair,
  type TestAirlock,
} from '../helpers/airlock-harness.js';
import { TASK_LAB_POLICIES } from '../helpers/task-lab.js';
import { untilChanged } from '../helpers/changes.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import { TASKS_EXTENSION, newTaskId } from '../../src/core/tasks/index.js';
import { keyspace } from '../../src/redis/keyspace.js';

let redis: TestRedis;
let gw: TestAirlock;
let second: TestAirlock;
const executing: string[] = [];
const clients: Client[] = [];

const WITH_TASKS = { extensions: { [TASKS_EXTENSION]: {} } };

useAirlockPair({
  config: TWO_AGENTS_AND_ALICE,
  policies: TASK_LAB_POLICIES,
  beforeStop: () => Promise.allSettled(clients.map((c) => c.close())).then(() => {}),
  onStarted: (pair) => {
    ({ redis, a: gw, b: second } = pair);
    for (const a of [gw, second]) a.airlock.approvals.on('executing', (r) => executing.push(r.id));
  },
});

/** A 2025 session client: initialize on `at`, or later requests of an existing session (`sessionId`). */
async function session(
  o: { token?: string; tasks?: boolean; at?: TestAirlock; sessionId?: string } = {},
): Promise<{ client: Client; sessionId: string }> {
  const client = new Client(
    { name: 'legacy-agent', version: '1.0.0' },
    { capabilities: o.tasks === false ? {} : WITH_TASKS },
  );
  const transport = new StreamableHTTPClientTransport(new URL(`${(o.at ?? gw).url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${o.token ?? AGENT}` } },
    ...(o.sessionId && { sessionId: o.sessionId }),
  });
  // With a session id the SDK client skips initialize: this is the same session, on another replica.
  if (o.sessionId) transport.setProtocolVersion('2025-11-25');
  await client.connect(transport);
  clients.push(client);
  return { client, sessionId: transport.sessionId! };
}

/** The raw answer of a request, without the SDK client's result schemas in between. */
const raw = (client: Client, method: string, params: Record<string, unknown>): Promise<any> =>
  client.request({ method, params } as never, ResultSchema);

const call = (client: Client, name: string, args: Record<string, unknown>) =>
  raw(client, 'tools/call', { name, arguments: args });

/** The JSON-RPC error code a request fails with. */
async function errorCode(request: Promise<unknown>): Promise<{ code: number; data: any }> {
  try {
    await request;
  } catch (err) {
    assert.ok(err instanceof McpError, String(err));
    return { code: err.code, data: err.data };
  }
  assert.fail('the request succeeded');
}

async function api(path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${gw.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return res.json();
}

const TERMINAL = ['completed', 'failed', 'cancelled'];

/** Waits, on approval record changes, until the held call's task has a terminal status. */
function heldTaskEnded(client: Client, taskId: string): Promise<any> {
  return untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () => {
      const t = await raw(client, 'tasks/get', { taskId });
      return TERMINAL.includes(t.status) ? t : undefined;
    },
    `task ${taskId} to end`,
  );
}

/** Waits, on task status changes, until an allowed call's task has a terminal status. */
async function allowedTaskEnded(client: Client, taskId: string): Promise<any> {
  const sub = new Redis(redis.url, { lazyConnect: true });
  sub.on('error', () => {});
  try {
    await sub.connect();
    await sub.subscribe(keyspace(gw.prefix).task.changes);
    const changed = new Promise<void>((resolve) => sub.on('message', (_c, id) => id === taskId && resolve()));
    const now = await raw(client, 'tasks/get', { taskId });
    if (TERMINAL.includes(now.status)) return now;
    await changed;
    return raw(client, 'tasks/get', { taskId });
  } finally {
    sub.disconnect();
  }
}

const requestIdOf = (created: { statusMessage: string }) =>
  /request (ar_[\w-]{20})/.exec(created.statusMessage)![1]!;

test('initialize advertises the extension, never the 2025-11-25 tasks capability', async () => {
  for (const tasks of [true, false]) {
    const { client } = await session({ tasks });
    assert.deepEqual(client.getServerCapabilities()?.extensions, { [TASKS_EXTENSION]: {} });
    assert.equal(client.getServerCapabilities()?.tasks, undefined);
  }
});

test('held call: a task at once, polled on another replica, completed with the result after approval', async () => {
  const { client, sessionId } = await session();
  const created = await call(client, 'start_vm', { vm_name: 'kali-01' });
  assert.equal(created.resultType, 'task');
  assert.match(created.taskId, /^tk_[A-Za-z0-9_-]{32}$/);
  assert.equal(created.status, 'working');
  assert.match(
    created.statusMessage,
    /^waiting for approval in .+ \(request ar_[\w-]{20}\), expires in \S+$/,
  );
  for (const absent of ['result', 'error', 'content', 'ttl', 'pollInterval', 'requestState']) {
    assert.equal(absent in created, false, absent);
  }
  const requestId = requestIdOf(created);

  // The same session on the second replica: it knows from the session record that tasks were negotiated.
  const { client: elsewhere } = await session({ at: second, sessionId });
  const polled = await raw(elsewhere, 'tasks/get', { taskId: created.taskId });
  assert.equal(polled.status, 'working');
  assert.match(polled.statusMessage, new RegExp(`waiting for approval .*${requestId}`));
  assert.equal((await api(`/requests/${requestId}`)).status, 'pending');
  const another = await call(elsewhere, 'stop_vm', { vm_name: 'kali-01' });
  assert.equal(another.resultType, 'task', 'a held call on the second replica is a task too');
  await api(`/requests/${requestIdOf(another)}/reject`, { reason: 'cleanup' });

  await api(`/requests/${requestId}/approve`, { comment: 'go' });
  const done = await heldTaskEnded(elsewhere, created.taskId);
  assert.equal(done.status, 'completed');
  assert.notEqual(done.result.isError, true);
  assert.match(done.result.content[0].text, /VM "kali-01" started/);
  assert.equal(executing.filter((id) => id === requestId).length, 1, 'executed exactly once');
  assert.deepEqual((await raw(client, 'tasks/get', { taskId: created.taskId })).result, done.result);
  assert.equal(executing.filter((id) => id === requestId).length, 1);
});

test('held call rejected: completed with the tool error and the decision', async () => {
  const { client } = await session();
  const created = await call(client, 'start_vm', { vm_name: 'dc-01' });
  const requestId = requestIdOf(created);
  await api(`/requests/${requestId}/reject`, { reason: 'Not during the freeze' });
  const done = await heldTaskEnded(client, created.taskId);
  assert.equal(done.status, 'completed');
  assert.equal(done.result.isError, true);
  assert.match(
    done.result.content[0].text,
    /^Rejected by alice: Not during the freeze\. The call to lab\/start_vm/,
  );
  assert.equal(decisionOf(done.result)?.status, 'rejected');
  assert.equal(decisionOf(done.result)?.requestId, requestId);
  assert.equal(executing.includes(requestId), false);
});

test('tasks/cancel: ack, task cancelled, approval request cancelled; idempotent', async () => {
  const { client, sessionId } = await session();
  const created = await call(client, 'stop_vm', { vm_name: 'web-01' });
  const requestId = requestIdOf(created);
  const { client: elsewhere } = await session({ at: second, sessionId });
  assert.deepEqual(await raw(elsewhere, 'tasks/cancel', { taskId: created.taskId }), {
    resultType: 'complete',
  });
  const after = await raw(client, 'tasks/get', { taskId: created.taskId });
  assert.equal(after.status, 'cancelled');
  assert.equal(after.statusMessage, 'cancelled by the agent');
  assert.equal((await api(`/requests/${requestId}`)).status, 'cancelled');
  assert.deepEqual(await raw(client, 'tasks/cancel', { taskId: created.taskId }), { resultType: 'complete' });
});

test("another agent's task id and a guessed one are unknown (-32602); tasks/result and tasks/list -32601", async () => {
  const { client } = await session();
  const created = await call(client, 'stop_vm', { vm_name: 'db-01' });
  const { client: other } = await session({ token: OTHER });
  for (const [c, taskId] of [
    [other, created.taskId],
    [client, newTaskId()],
    [client, 'not-a-task-id'],
  ] as const) {
    for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
      const { code } = await errorCode(raw(c, method, { taskId, inputResponses: {} }));
      assert.equal(code, -32602, `${method} ${taskId}`);
    }
  }
  assert.equal((await errorCode(raw(client, 'tasks/get', {}))).code, -32602, 'no taskId');
  assert.equal((await raw(client, 'tasks/get', { taskId: created.taskId })).status, 'working');
  for (const method of ['tasks/result', 'tasks/list']) {
    assert.equal((await errorCode(raw(client, method, { taskId: created.taskId }))).code, -32601);
  }
  await raw(client, 'tasks/cancel', { taskId: created.taskId });
});

test('task policy: "required" runs as a task, "optional" too, a plain tool never', async () => {
  const { client } = await session();
  const required = await call(client, 'list_vms', { power: 'all' });
  assert.equal(required.resultType, 'task');
  const done = await allowedTaskEnded(client, required.taskId);
  assert.equal(done.status, 'completed');
  assert.match(done.result.content[0].text, /VM\(s\):/);
  const optional = await call(client, 'health_checks', { vm_name: 'dc-01' });
  assert.equal(optional.resultType, 'task');
  assert.equal((await allowedTaskEnded(client, optional.taskId)).status, 'completed');
  const plain = await call(client, 'get_vm_console_ticket', { vm_name: 'dc-01' });
  assert.equal('resultType' in plain, false);
  assert.ok(Array.isArray(plain.content));
});

test('tools/list shows execution.taskSupport only to a session that negotiated tasks', async () => {
  const support = async (tasks: boolean) => {
    const { client } = await session({ tasks });
    const { tools } = await client.listTools();
    return Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport ?? null]));
  };
  const negotiated = await support(true);
  assert.equal(negotiated['list_vms'], 'required');
  assert.equal(negotiated['health_checks'], 'optional');
  assert.equal(negotiated['start_vm'], 'optional');
  assert.equal(negotiated['get_vm_console_ticket'], null);
  assert.ok(Object.values(await support(false)).every((s) => s === null));
});

test('without the extension: the long poll, -32021 for a task-only tool and for tasks/*', async () => {
  const { client, sessionId } = await session({ tasks: false });
  const held = await call(client, 'start_vm', { vm_name: 'web-01' });
  assert.equal('resultType' in held, false);
  assert.equal(decisionOf(held)?.status, 'pending');
  assert.match(held.content[0].text, /^Approval pending \(request ar_[\w-]{20}\)/);
  await api(`/requests/${decisionOf(held)!.requestId}/reject`, { reason: 'cleanup' });

  // A malformed call is the caller's fault, checked before anything runs.
  assert.equal((await errorCode(raw(client, 'tools/call', { arguments: {} }))).code, -32602);

  const { client: elsewhere } = await session({ at: second, sessionId, tasks: false });
  const plain = await call(elsewhere, 'health_checks', { vm_name: 'dc-01' });
  assert.ok(Array.isArray(plain.content), 'an optional task tool answers in the request');
  const refused = await errorCode(call(elsewhere, 'list_vms', {}));
  assert.equal(refused.code, -32021);
  assert.deepEqual(refused.data.requiredCapabilities, WITH_TASKS);
  for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
    const e = await errorCode(raw(client, method, { taskId: newTaskId() }));
    assert.equal(e.code, -32021, method);
    assert.deepEqual(e.data.requiredCapabilities, WITH_TASKS);
  }
});
