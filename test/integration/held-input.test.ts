// Input rounds inside held calls that are tasks: once a reviewer approves, the approval worker (on
// whichever of two Airlocks on one Redis takes the job) runs the call, and when its tool asks the agent —
// a 2026-07-28 upstream answering `input_required`, or a 2025 upstream sending elicitation/create during
// the call — the task shows the question on tasks/get from either replica, tasks/update from either one
// answers it, and the call completes, run once. Only the agent that made the call sees or answers its
// questions, and only questions it declared it can answer are asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { TestRedis } from '../helpers/redis.js';
import {
  AGENT_TOKEN as AGENT,
  ALICE_TOKEN as ALICE,
  OTHER_AGENT_TOKEN as OTHER,
  ROOT,
  TWO_AGENTS_AND_ALICE,
  useAirlockPair,
  type TestAirlock,
} from '../helpers/airlock-harness.js';
import { upstreamCommand } from '../helpers/conformance-upstream.js';
import { TASKS_EXTENSION } from '../../src/core/tasks/index.js';
import { keyspace } from '../../src/redis/keyspace.js';
import { postModern } from '../helpers/modern-agent.js';

const TASKS = { extensions: { [TASKS_EXTENSION]: {} } };
const ASKS = { ...TASKS, elicitation: {}, sampling: {} };

let redis: TestRedis;
let a: TestAirlock;
let b: TestAirlock;
/** Approval ids by the replica whose worker started them. */
const executing = new Map<string, string[]>();

const held = { action: 'require_approval', approval: { approvers: ['alice'], timeout: '5m', wait: '300ms' } };
const heldLong = { ...held, approval: { ...held.approval, wait: '1m' } };
const policy = {
  version: '1',
  default: 'allow',
  tools: {
    confirm_delete: held,
    test_sampling: held,
    test_elicitation: heldLong,
    test_streaming_elicitation: { task: 'optional' },
  },
};

useAirlockPair({
  config: {
    ...TWO_AGENTS_AND_ALICE,
    servers: {
      modern: { ...upstreamCommand(['--stdio', '--mode', 'modern']), cwd: ROOT, toolPrefix: 'm_' },
      legacy: { ...upstreamCommand(['--stdio', '--mode', 'legacy']), cwd: ROOT, toolPrefix: 'l_' },
    },
  },
  policies: { modern: policy, legacy: policy },
  onStarted: (pair) => {
    ({ redis, a, b } = pair);
    for (const [name, gw] of [
      ['a', a],
      ['b', b],
    ] as const) {
      executing.set(name, []);
      gw.airlock.approvals.on('executing', (r) => executing.get(name)!.push(r.id));
    }
  },
});

async function rpc(
  method: string,
  params: Record<string, unknown>,
  o: { at?: TestAirlock; token?: string; capabilities?: Record<string, unknown> } = {},
): Promise<{ status: number; body: any }> {
  return postModern((o.at ?? a).url, method, params, {
    token: o.token ?? AGENT,
    capabilities: o.capabilities ?? ASKS,
  });
}

async function getTask(taskId: string, at: TestAirlock): Promise<any> {
  const { body } = await rpc('tasks/get', { taskId }, { at });
  assert.equal(body.error, undefined, JSON.stringify(body.error));
  return body.result;
}

async function api(path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${a.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return res.json();
}

/** Waits, on task and approval changes from every replica, until tasks/get on `at` satisfies `done`. */
async function taskWhen(taskId: string, at: TestAirlock, done: (t: any) => boolean): Promise<any> {
  const sub = new Redis(redis.url, { lazyConnect: true });
  sub.on('error', () => {});
  const keys = keyspace(a.prefix);
  try {
    await sub.connect();
    await sub.subscribe(keys.task.changes, keys.approval.events);
    return await new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`task ${taskId} did not get there`)), 30_000);
      const check = () =>
        getTask(taskId, at).then((t) => {
          if (done(t)) {
            clearTimeout(timer);
            resolve(t);
          }
        }, reject);
      sub.on('message', () => void check());
      void check();
    });
  } finally {
    sub.disconnect();
  }
}

const ended = (t: any) => ['completed', 'failed', 'cancelled'].includes(t.status);
const askingOrEnded = (t: any) => t.status === 'input_required' || ended(t);
const runs = (id: string) => [...executing.values()].flat().filter((x) => x === id).length;

/** Calls a held tool as a task through `a` and approves it; the task and its approval request id. */
async function heldTask(
  tool: string,
  args: Record<string, unknown>,
  capabilities: Record<string, unknown> = ASKS,
): Promise<{ taskId: string; requestId: string }> {
  const { body } = await rpc('tools/call', { name: tool, arguments: args }, { capabilities });
  assert.equal(body.result?.resultType, 'task', JSON.stringify(body));
  const requestId = /request (ar_[\w-]{20})/.exec(body.result.statusMessage)![1]!;
  const record = await api(`/requests/${requestId}/approve`, { comment: 'go' });
  assert.equal(record.status, 'approved', JSON.stringify(record));
  return { taskId: body.result.taskId, requestId };
}

for (const [era, tool, key] of [
  ['2026-07-28', 'm_confirm_delete', 'r1.confirm'],
  ['2025', 'l_confirm_delete', 'r1.input_1'],
] as const) {
  test(`${era} upstream: an approved task's question shows on either replica, is answered there, runs once`, async () => {
    const { taskId, requestId } = await heldTask(tool, { filename: `${era}.txt` });
    const asking = await taskWhen(taskId, b, askingOrEnded);
    assert.equal(asking.status, 'input_required', JSON.stringify(asking));
    assert.deepEqual(Object.keys(asking.inputRequests), [key]);
    assert.equal(asking.inputRequests[key].method, 'elicitation/create');
    assert.match(asking.inputRequests[key].params.message, new RegExp(`Delete ${era}\\.txt\\?`));
    assert.match(asking.statusMessage, /tasks\/update/);
    // The same question from the other replica.
    assert.deepEqual((await getTask(taskId, a)).inputRequests, asking.inputRequests);

    // Another agent neither sees nor answers it.
    for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
      const { status, body } = await rpc(
        method,
        { taskId, inputResponses: { [key]: { action: 'decline' } } },
        { at: b, token: OTHER },
      );
      assert.equal(status, 400, method);
      assert.equal(body.error.code, -32602, method);
    }
    assert.equal((await getTask(taskId, a)).status, 'input_required');

    const ack = await rpc(
      'tasks/update',
      { taskId, inputResponses: { [key]: { action: 'accept', content: { confirm: true } } } },
      { at: b },
    );
    assert.deepEqual(ack.body.result, { resultType: 'complete' });
    const done = await taskWhen(taskId, a, ended);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.result.content[0].text, `Deleted ${era}.txt`);
    assert.equal(runs(requestId), 1, 'executed exactly once');
    const record = await api(`/requests/${requestId}`);
    assert.equal(record.status, 'executed');
    assert.deepEqual(record.clientCapabilities, { elicitation: {}, sampling: {} });
    assert.equal(record.inputRequired, undefined, 'a task asks through the task, not a long poll');
  });
}

test('sampling is relayed too, from a 2025 upstream', async () => {
  const { taskId } = await heldTask('l_test_sampling', { prompt: 'Hi' });
  const asking = await taskWhen(taskId, a, askingOrEnded);
  const [key] = Object.keys(asking.inputRequests ?? {});
  assert.equal(asking.inputRequests?.[key!]?.method, 'sampling/createMessage', JSON.stringify(asking));
  const sampled = { role: 'assistant', content: { type: 'text', text: 'Hello!' }, model: 'm' };
  await rpc('tasks/update', { taskId, inputResponses: { [key!]: sampled } }, { at: b });
  const done = await taskWhen(taskId, b, ended);
  assert.deepEqual(done.result?.content, [{ type: 'text', text: 'LLM response: Hello!' }]);
});

test('an agent that did not declare elicitation is not asked: the approved call is refused as before', async () => {
  for (const tool of ['m_confirm_delete', 'l_confirm_delete']) {
    const { taskId, requestId } = await heldTask(tool, { filename: 'x.txt' }, TASKS);
    const done = await taskWhen(taskId, b, ended);
    assert.notEqual(done.status, 'input_required');
    assert.equal(done.inputRequests, undefined);
    const text = JSON.stringify(done);
    assert.doesNotMatch(text, /Deleted x\.txt/, tool);
    if (tool === 'm_confirm_delete') {
      // The upstream saw the agent's capabilities and refused itself, as it would for a direct call.
      assert.equal(done.status, 'failed');
      assert.equal(done.error.code, -32021);
      assert.ok(done.error.data.requiredCapabilities.elicitation, JSON.stringify(done.error));
    }
    const record = await untilFinished(requestId);
    assert.equal(record.status, 'failed', tool);
    assert.equal(record.clientCapabilities, undefined);
    assert.equal(runs(requestId), 1);
  }
});

test('an answer that is not an elicitation result ends the call with -32602', async () => {
  const { taskId, requestId } = await heldTask('m_confirm_delete', { filename: 'y.txt' });
  await taskWhen(taskId, a, askingOrEnded);
  await rpc('tasks/update', { taskId, inputResponses: { 'r1.confirm': { action: 'maybe' } } }, { at: b });
  const done = await taskWhen(taskId, a, ended);
  assert.equal(done.status, 'failed');
  assert.equal(done.error.code, -32602);
  assert.match(done.error.message, /Invalid elicitation result for r1\.confirm/);
  assert.equal(runs(requestId), 1);
});

test("tasks/cancel while the tool waits for the agent's answer stops the approved call", async () => {
  const { taskId, requestId } = await heldTask('l_confirm_delete', { filename: 'z.txt' });
  await taskWhen(taskId, a, askingOrEnded);
  const ack = await rpc('tasks/cancel', { taskId }, { at: b });
  assert.deepEqual(ack.body.result, { resultType: 'complete' });
  assert.equal((await getTask(taskId, a)).status, 'cancelled');
  const record = await untilFinished(requestId);
  assert.equal(record.status, 'failed');
  assert.match(record.execution.summary, /stopped while its tool waited for the agent's answers/);
});

for (const tool of ['m_test_elicitation', 'l_test_elicitation']) {
  test(`held long poll (${tool}): the waiting request answers the approved call's question, the retry elsewhere completes it`, async () => {
    const created = once(a.airlock.approvals, 'created');
    const args = { message: 'Who are you?' };
    const waiting = rpc('tools/call', { name: tool, arguments: args }, { capabilities: { elicitation: {} } });
    const [record] = (await created) as [{ id: string }];
    await api(`/requests/${record.id}/approve`, { comment: 'go' });
    const first = (await waiting).body.result;
    assert.equal(first.resultType, 'input_required', JSON.stringify(first));
    assert.deepEqual(Object.keys(first.inputRequests), ['input_1']);
    assert.equal(first.inputRequests.input_1.method, 'elicitation/create');
    assert.equal(typeof first.requestState, 'string');
    // Another agent's retry with that state is refused and does not reach the call.
    const foreign = await rpc(
      'tools/call',
      { name: tool, arguments: args, inputResponses: {}, requestState: first.requestState },
      { at: b, token: OTHER, capabilities: { elicitation: {} } },
    );
    assert.equal(foreign.body.error?.code, -32602, JSON.stringify(foreign.body));
    const answer = { action: 'accept', content: { username: 'ada', email: 'ada@example.com' } };
    const done = await rpc(
      'tools/call',
      { name: tool, arguments: args, inputResponses: { input_1: answer }, requestState: first.requestState },
      { at: b, capabilities: { elicitation: {} } },
    );
    assert.equal(done.body.result?.resultType, 'complete', JSON.stringify(done.body));
    assert.match(done.body.result.content[0].text, /ada@example\.com/);
    const stored = await untilFinished(record.id);
    assert.equal(stored.status, 'executed');
    assert.equal(stored.inputRequired, true);
    assert.equal(runs(record.id), 1);
  });
}

test("held long poll whose request is gone: the identical retry finds the approved call's question", async () => {
  const args = { filename: 'later.txt' };
  const caps = { capabilities: { elicitation: {} } };
  const first = (await rpc('tools/call', { name: 'm_confirm_delete', arguments: args }, caps)).body.result;
  const requestId = first._meta['airlock/decision'].requestId as string;
  assert.equal(first._meta['airlock/decision'].status, 'pending');
  await api(`/requests/${requestId}/approve`, { comment: 'go' });
  await untilQuestions(requestId);
  // An identical retry that does not declare elicitation is told so, and the question stays for the next.
  const bare = await rpc('tools/call', { name: 'm_confirm_delete', arguments: args }, { capabilities: {} });
  assert.equal(bare.body.error?.code, -32021, JSON.stringify(bare.body));
  const retry = (await rpc('tools/call', { name: 'm_confirm_delete', arguments: args }, { at: b, ...caps }))
    .body.result;
  assert.equal(retry.resultType, 'input_required', JSON.stringify(retry));
  const [key] = Object.keys(retry.inputRequests);
  const done = await rpc(
    'tools/call',
    {
      name: 'm_confirm_delete',
      arguments: args,
      inputResponses: { [key!]: { action: 'accept', content: { confirm: true } } },
      requestState: retry.requestState,
    },
    caps,
  );
  assert.equal(done.body.result?.content?.[0]?.text, 'Deleted later.txt', JSON.stringify(done.body));
  assert.equal(runs(requestId), 1);
});

test('held long poll of an agent that did not declare elicitation: refused as before', async () => {
  const created = once(a.airlock.approvals, 'created');
  const waiting = rpc(
    'tools/call',
    { name: 'l_test_elicitation', arguments: { message: 'x' } },
    { capabilities: {} },
  );
  const [record] = (await created) as [{ id: string }];
  await api(`/requests/${record.id}/approve`, { comment: 'go' });
  const answer = (await waiting).body;
  assert.notEqual(answer.result?.resultType, 'input_required', JSON.stringify(answer));
  assert.equal(runs(record.id), 1);
});

test("an allowed task's 2025 upstream question never reaches another agent's session", async () => {
  const asked: unknown[] = [];
  const other = new Client({ name: 'other', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  other.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req.params);
    return { action: 'accept', content: { name: 'Mallory' } };
  });
  const transport = new StreamableHTTPClientTransport(new URL(`${a.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${OTHER}` } },
  });
  await other.connect(transport);
  try {
    const { body } = await rpc('tools/call', { name: 'l_test_streaming_elicitation', arguments: {} });
    assert.equal(body.result?.resultType, 'task', JSON.stringify(body));
    const done = await taskWhen(body.result.taskId, a, ended);
    assert.doesNotMatch(JSON.stringify(done), /Mallory/);
    assert.deepEqual(asked, []);
  } finally {
    await other.close();
  }
});

test('a replica shut down mid-question ends the call with a stored error, not a second run', async () => {
  const { taskId, requestId } = await heldTask('m_confirm_delete', { filename: 'w.txt' });
  await taskWhen(taskId, a, askingOrEnded);
  const runner = executing.get('a')!.includes(requestId) ? a : b;
  const survivor = runner === a ? b : a;
  await runner.stop();
  const done = await taskWhen(taskId, survivor, ended);
  assert.equal(done.status, 'failed');
  assert.match(done.error.message, /Airlock shut down/);
  const record = await untilFinished(requestId, survivor);
  assert.equal(record.execution.isError, true);
  assert.equal(runs(requestId), 1);
});

/** Waits, on approval changes, until the approved call has finished (executed or failed); through `at`'s API. */
async function untilFinished(requestId: string, at: TestAirlock = a): Promise<any> {
  const sub = new Redis(redis.url, { lazyConnect: true });
  sub.on('error', () => {});
  try {
    await sub.connect();
    await sub.subscribe(keyspace(a.prefix).approval.events);
    return await new Promise<any>((resolve, reject) => {
      const check = async () => {
        const res = await fetch(`${at.url}/api/requests/${requestId}`, {
          headers: { authorization: `Bearer ${ALICE}` },
        });
        const record = (await res.json()) as any;
        if (record.status === 'executed' || record.status === 'failed') resolve(record);
      };
      sub.on('message', () => void check().catch(reject));
      void check().catch(reject);
    });
  } finally {
    sub.disconnect();
  }
}

/** Waits, on approval changes, until the approved call's questions are stored for its long poll. */
async function untilQuestions(requestId: string): Promise<void> {
  const sub = new Redis(redis.url, { lazyConnect: true });
  const reader = new Redis(redis.url);
  sub.on('error', () => {});
  try {
    await sub.connect();
    await sub.subscribe(keyspace(a.prefix).approval.events);
    await new Promise<void>((resolve, reject) => {
      const check = () =>
        reader.get(keyspace(a.prefix).approval.questions(requestId)).then((v) => v && resolve(), reject);
      sub.on('message', () => void check());
      void check();
    });
  } finally {
    sub.disconnect();
    reader.disconnect();
  }
}
