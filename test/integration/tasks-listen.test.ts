// `notifications/tasks` on 2026-07-28 listen streams (`notifications.taskIds`): two Airlocks on one Redis
// in front of the conformance upstream over stdio. A stream hears its agent's tasks change status whichever
// replica changed them — a held call approved through the other Airlock, an allowed task answered through
// it — and learns nothing of ids that are not its agent's tasks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
import { openListen, type ListenClient } from '../helpers/listen-client.js';
import { SUBSCRIPTION_ID_META_KEY } from '../../src/agent/listen-stream.js';
import { TASKS_EXTENSION, newTaskId } from '../../src/core/tasks/index.js';
import { postModern } from '../helpers/modern-agent.js';

const WITH_TASKS = { elicitation: {}, extensions: { [TASKS_EXTENSION]: {} } };

let a: TestAirlock;
let b: TestAirlock;
const streams: ListenClient[] = [];

useAirlockPair({
  config: {
    ...TWO_AGENTS_AND_ALICE,
    servers: { up: { ...upstreamCommand(['--stdio', '--mode', 'modern']), cwd: ROOT } },
  },
  policies: {
    up: {
      version: '1',
      default: 'allow',
      tools: {
        greet: { action: 'require_approval', approval: { approvers: ['alice'], timeout: '5m' } },
        confirm_delete: { task: 'optional' },
      },
    },
  },
  onStarted: (pair) => ({ a, b } = pair),
  beforeStop: () => {
    for (const s of streams) s.abort();
  },
});

async function rpc(at: TestAirlock, method: string, params: Record<string, unknown>, token = AGENT) {
  const { body } = await postModern(at.url, method, params, { token, capabilities: WITH_TASKS });
  assert.equal(body.error, undefined, JSON.stringify(body.error));
  return body.result;
}

async function listen(
  at: TestAirlock,
  id: number,
  taskIds: unknown,
  o: { token?: string; caps?: object } = {},
) {
  const stream = await openListen({
    url: at.url,
    id,
    notifications: { taskIds },
    token: o.token ?? AGENT,
    clientCapabilities: (o.caps ?? WITH_TASKS) as Record<string, unknown>,
  });
  streams.push(stream);
  return stream;
}

const taskNote = (taskId: string, status: string) => (f: any) =>
  f.method === 'notifications/tasks' && f.params.taskId === taskId && f.params.status === status;

test('a held task approved through the other Airlock: the stream hears it complete, with its result', async () => {
  const mine = await rpc(a, 'tools/call', { name: 'greet', arguments: { name: 'Ada' } });
  const theirs = await rpc(a, 'tools/call', { name: 'greet', arguments: { name: 'Eve' } }, OTHER);
  assert.equal(mine.resultType, 'task');
  const guessed = newTaskId();
  const stream = await listen(a, 7, [mine.taskId, theirs.taskId, guessed, 'not-a-task']);
  assert.equal(stream.status, 200);
  const ack = await stream.next((f) => f.method === 'notifications/subscriptions/acknowledged', 'the ack');
  assert.deepEqual(ack.params.notifications, { taskIds: [mine.taskId] }, 'only the agent’s own task');
  // The task as it stands when the stream opens, then its change.
  const now = await stream.next(taskNote(mine.taskId, 'working'), 'the current status');
  assert.equal(now.params._meta[SUBSCRIPTION_ID_META_KEY], 7);
  assert.equal('resultType' in now.params, false);
  assert.match(now.params.statusMessage, /waiting for approval/);

  const requestId = /request (ar_[\w-]{20})/.exec(mine.statusMessage)![1]!;
  const approved = await fetch(`${b.url}/api/requests/${requestId}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
    body: JSON.stringify({ comment: 'ok' }),
  });
  assert.equal(approved.status, 200);
  const done = await stream.next(taskNote(mine.taskId, 'completed'), 'the completed notification');
  assert.equal(done.params.result.content[0].text, 'Hello, Ada!');
  assert.equal(done.params._meta[SUBSCRIPTION_ID_META_KEY], 7);
  // Exactly what tasks/get answers, on either replica, without resultType.
  const { resultType: _complete, ...polled } = await rpc(b, 'tasks/get', { taskId: mine.taskId });
  assert.deepEqual(done.params, { ...polled, _meta: done.params._meta });

  // Nothing of the other agent's task, nor of the guessed id, was ever on this stream.
  const everything = JSON.stringify(stream.frames);
  assert.equal(everything.includes(theirs.taskId), false);
  assert.equal(everything.includes(guessed), false);
  const events = stream.frames.filter((f) => f.method === 'notifications/tasks');
  assert.deepEqual(
    events.map((f) => f.params.status),
    ['working', 'completed'],
    'one notification per status: the approval alone changes no status',
  );
});

test('an allowed task run by one Airlock, streamed by the other: input_required, answered, completed', async () => {
  const created = await rpc(a, 'tools/call', { name: 'confirm_delete', arguments: { filename: 'n.txt' } });
  assert.equal(created.resultType, 'task');
  const stream = await listen(b, 8, [created.taskId]);
  const asking = await stream.next(taskNote(created.taskId, 'input_required'), 'the question');
  assert.deepEqual(Object.keys(asking.params.inputRequests), ['r1.confirm']);
  await rpc(a, 'tasks/update', {
    taskId: created.taskId,
    inputResponses: { 'r1.confirm': { action: 'accept', content: { confirm: true } } },
  });
  const done = await stream.next(taskNote(created.taskId, 'completed'), 'the completion');
  assert.equal(done.params.result.content[0].text, 'Deleted n.txt');
});

test('a task cancelled through the other Airlock: the stream hears cancelled', async () => {
  const created = await rpc(a, 'tools/call', { name: 'greet', arguments: { name: 'Bob' } });
  const stream = await listen(a, 9, [created.taskId]);
  await stream.next(taskNote(created.taskId, 'working'), 'the current status');
  await rpc(b, 'tasks/cancel', { taskId: created.taskId });
  await stream.next(taskNote(created.taskId, 'cancelled'), 'the cancellation');
});

test('another agent asking for a task id hears nothing of it: acknowledged empty', async () => {
  const created = await rpc(a, 'tools/call', { name: 'greet', arguments: { name: 'Cy' } });
  const stream = await listen(b, 10, [created.taskId], { token: OTHER });
  const ack = await stream.next((f) => f.method === 'notifications/subscriptions/acknowledged', 'the ack');
  assert.deepEqual(ack.params.notifications, { taskIds: [] });
  await rpc(a, 'tasks/cancel', { taskId: created.taskId });
  // The owner's own stream hears the cancellation; by then the other agent's stream has been told nothing.
  const own = await listen(a, 11, [created.taskId]);
  await own.next(taskNote(created.taskId, 'cancelled'), 'the owner’s view');
  assert.equal(JSON.stringify(stream.frames).includes(created.taskId), false);
});

test('taskIds without the tasks extension is -32021; malformed taskIds is -32602', async () => {
  const missing = await listen(a, 12, ['tk_x'], { caps: {} });
  await missing.ended;
  assert.equal(missing.status, 400);
  assert.equal(missing.frames[0].error.code, -32021);
  assert.deepEqual(missing.frames[0].error.data, {
    requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
  });
  const bad = await listen(a, 13, 'tk_x');
  await bad.ended;
  assert.equal(bad.frames[0].error.code, -32602);
  assert.match(bad.frames[0].error.message, /taskIds must be an array/);
});
