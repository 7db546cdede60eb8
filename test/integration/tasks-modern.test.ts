// Held calls and task-policy tools as tasks (the extension io.modelcontextprotocol/tasks) on 2026-07-28
// requests: real Redis, the demo lab over stdio, raw POSTs with the envelope and mirrored headers, and a
// second Airlock on the same Redis that answers for tasks the first one created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
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
import { TaskStore } from '../../src/tasks/task-store.js';
import { postModern } from '../helpers/modern-agent.js';

let redis: TestRedis;
let gw: TestAirlock;
let second: TestAirlock;
const executing: string[] = [];

useAirlockPair({
  config: TWO_AGENTS_AND_ALICE,
  policies: TASK_LAB_POLICIES,
  onStarted: (pair) => {
    ({ redis, a: gw, b: second } = pair);
    for (const a of [gw, second]) a.airlock.approvals.on('executing', (r) => executing.push(r.id));
  },
});

const WITH_TASKS = { extensions: { [TASKS_EXTENSION]: {} } };

/** A modern POST with the mirrored headers; `Mcp-Name` follows name, uri or taskId. */
async function rpc(
  method: string,
  params: Record<string, unknown>,
  o: { token?: string; at?: TestAirlock; capabilities?: Record<string, unknown> } = {},
): Promise<{ status: number; body: any }> {
  return postModern((o.at ?? gw).url, method, params, {
    token: o.token ?? AGENT,
    capabilities: o.capabilities ?? WITH_TASKS,
  });
}

const call = (tool: string, args: Record<string, unknown>, o: Parameters<typeof rpc>[2] = {}) =>
  rpc('tools/call', { name: tool, arguments: args }, o);

const getTask = async (taskId: string, o: Parameters<typeof rpc>[2] = {}) =>
  (await rpc('tasks/get', { taskId }, o)).body.result;

async function api(path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${gw.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return res.json();
}

/** Waits, on approval record changes, until the task has a terminal status. */
function taskEnded(taskId: string, at: TestAirlock = gw): Promise<any> {
  return untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () => {
      const t = await getTask(taskId, { at });
      return ['completed', 'failed', 'cancelled'].includes(t.status) ? t : undefined;
    },
    `task ${taskId} to end`,
  );
}

/** Waits, on task status changes, until an allowed call's task has a terminal status. */
async function allowedTaskEnded(taskId: string): Promise<any> {
  const sub = new Redis(redis.url, { lazyConnect: true });
  sub.on('error', () => {});
  try {
    await sub.connect();
    await sub.subscribe(keyspace(gw.prefix).task.changes);
    const changed = new Promise<void>((resolve) => sub.on('message', (_c, id) => id === taskId && resolve()));
    const now = await getTask(taskId);
    if (['completed', 'failed', 'cancelled'].includes(now.status)) return now;
    await changed;
    return getTask(taskId);
  } finally {
    sub.disconnect();
  }
}

test('server/discover advertises the tasks extension', async () => {
  const { body } = await rpc('server/discover', {});
  assert.deepEqual(body.result.capabilities.extensions, { [TASKS_EXTENSION]: {} });
  assert.equal(body.result.capabilities.tasks, undefined);
});

test('held call: CreateTaskResult at once, working while pending, completed after approval, run once', async () => {
  const { status, body } = await call('start_vm', { vm_name: 'kali-01' });
  assert.equal(status, 200);
  const created = body.result;
  assert.equal(created.resultType, 'task');
  assert.match(created.taskId, /^tk_[A-Za-z0-9_-]{32}$/);
  assert.equal(created.status, 'working');
  assert.match(
    created.statusMessage,
    /^waiting for approval in .+ \(request ar_[\w-]{20}\), expires in \S+$/,
  );
  assert.equal(created.ttlMs, 60_000 + 60 * 60 * 1000);
  for (const absent of ['result', 'error', 'content', 'ttl', 'pollInterval', 'requestState']) {
    assert.equal(absent in created, false, absent);
  }
  const requestId = /request (ar_[\w-]{20})/.exec(created.statusMessage)![1]!;

  // Pending and polled through the other replica.
  const polled = await getTask(created.taskId, { at: second });
  assert.equal(polled.resultType, 'complete');
  assert.equal(polled.status, 'working');
  assert.match(polled.statusMessage, new RegExp(`waiting for approval .*${requestId}`));
  assert.equal((await api(`/requests/${requestId}`)).status, 'pending');

  await api(`/requests/${requestId}/approve`, { comment: 'go' });
  const done = await taskEnded(created.taskId, second);
  assert.equal(done.status, 'completed');
  assert.notEqual(done.result.isError, true);
  assert.match(done.result.content[0].text, /VM "kali-01" started/);
  assert.equal(executing.filter((id) => id === requestId).length, 1, 'executed exactly once');
  // Read again on the first replica: the same stored result, no second run.
  assert.deepEqual((await getTask(created.taskId)).result, done.result);
  assert.equal(executing.filter((id) => id === requestId).length, 1);
});

test('held call rejected: completed with the tool error and the decision', async () => {
  const created = (await call('start_vm', { vm_name: 'dc-01' })).body.result;
  const requestId = /request (ar_[\w-]{20})/.exec(created.statusMessage)![1]!;
  await api(`/requests/${requestId}/reject`, { reason: 'Not during the freeze' });
  const done = await taskEnded(created.taskId);
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

test('tasks/cancel: empty ack, task cancelled, approval request cancelled; idempotent', async () => {
  const created = (await call('stop_vm', { vm_name: 'web-01' })).body.result;
  const requestId = /request (ar_[\w-]{20})/.exec(created.statusMessage)![1]!;
  const ack = await rpc('tasks/cancel', { taskId: created.taskId }, { at: second });
  assert.equal(ack.status, 200);
  assert.deepEqual(ack.body.result, { resultType: 'complete' });
  const after = await getTask(created.taskId);
  assert.equal(after.status, 'cancelled');
  assert.equal(after.statusMessage, 'cancelled by the agent');
  assert.equal((await api(`/requests/${requestId}`)).status, 'cancelled');
  const again = await rpc('tasks/cancel', { taskId: created.taskId });
  assert.deepEqual(again.body.result, { resultType: 'complete' });
});

test("another agent's task id and a guessed one are both unknown (-32602)", async () => {
  const created = (await call('stop_vm', { vm_name: 'db-01' })).body.result;
  for (const [taskId, token] of [
    [created.taskId, OTHER],
    [newTaskId(), AGENT],
    ['not-a-task-id', AGENT],
  ] as const) {
    for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
      const { status, body } = await rpc(method, { taskId, inputResponses: {} }, { token });
      assert.equal(status, 400, `${method} ${taskId}`);
      assert.equal(body.error.code, -32602);
    }
  }
  // The other agent's cancel changed nothing.
  assert.equal((await getTask(created.taskId)).status, 'working');
  assert.deepEqual((await rpc('tasks/cancel', { taskId: created.taskId })).body.result, {
    resultType: 'complete',
  });
});

test('tasks/* without the extension on the request: -32021; tasks/result and tasks/list: -32601', async () => {
  for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
    const { status, body } = await rpc(method, { taskId: newTaskId() }, { capabilities: {} });
    assert.equal(status, 400);
    assert.equal(body.error.code, -32021);
    assert.deepEqual(body.error.data.requiredCapabilities, { extensions: { [TASKS_EXTENSION]: {} } });
  }
  for (const method of ['tasks/result', 'tasks/list']) {
    for (const capabilities of [WITH_TASKS, {}]) {
      const { status, body } = await rpc(method, { taskId: newTaskId() }, { capabilities });
      assert.equal(status, 404);
      assert.equal(body.error.code, -32601);
    }
  }
});

test('held call without the extension keeps the long poll', async () => {
  const { body } = await call('start_vm', { vm_name: 'web-01' }, { capabilities: {} });
  assert.equal(body.result.resultType, 'complete');
  assert.equal(decisionOf(body.result)?.status, 'pending');
  assert.match(body.result.content[0].text, /^Approval pending \(request ar_[\w-]{20}\)/);
  await api(`/requests/${decisionOf(body.result)!.requestId}/reject`, { reason: 'cleanup' });
});

test('task "required": -32021 without the extension, a task with it', async () => {
  const refused = await call('list_vms', {}, { capabilities: {} });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.code, -32021);
  assert.deepEqual(refused.body.error.data.requiredCapabilities, { extensions: { [TASKS_EXTENSION]: {} } });

  const created = (await call('list_vms', { power: 'all' })).body.result;
  assert.equal(created.resultType, 'task');
  assert.equal(typeof created.pollIntervalMs, 'number');
  const done = await allowedTaskEnded(created.taskId);
  assert.equal(done.status, 'completed');
  assert.match(done.result.content[0].text, /VM\(s\):/);
});

test('task "optional": a task with the extension, the plain result without it', async () => {
  const sync = (await call('health_checks', { vm_name: 'dc-01' }, { capabilities: {} })).body.result;
  assert.equal(sync.resultType, 'complete');
  assert.ok(Array.isArray(sync.content));
  const created = (await call('health_checks', { vm_name: 'dc-01' })).body.result;
  assert.equal(created.resultType, 'task');
  const done = await allowedTaskEnded(created.taskId);
  assert.equal(done.status, 'completed');
  assert.ok(Array.isArray(done.result.content));
  // A plain allowed tool is never a task.
  const plain = (await call('get_vm_console_ticket', { vm_name: 'dc-01' })).body.result;
  assert.equal(plain.resultType, 'complete');
});

test('tools/list shows execution.taskSupport from policy', async () => {
  const { body } = await rpc('tools/list', {});
  const support = Object.fromEntries(
    body.result.tools.map((t: any) => [t.name, t.execution?.taskSupport ?? null]),
  );
  assert.equal(support['list_vms'], 'required');
  assert.equal(support['health_checks'], 'optional');
  assert.equal(support['start_vm'], 'optional');
  assert.equal(support['get_vm_console_ticket'], null);
});

test('an allowed task whose replica stopped renewing its lease ends failed on the next read', async () => {
  const connection = new Redis(redis.url);
  try {
    const store = new TaskStore(connection, gw.prefix);
    const { task } = await store.create({
      agent: 'ci-bot',
      server: 'lab',
      tool: 'list_vms',
      ttlMs: 60_000,
      leaseUntil: Date.now() - 1,
    });
    const got = await getTask(task.id, { at: second });
    assert.equal(got.status, 'failed');
    assert.equal(got.error.code, -32603);
    assert.match(got.error.message, /replica running this call stopped/);
    assert.equal('result' in got, false);
  } finally {
    connection.disconnect();
  }
});
