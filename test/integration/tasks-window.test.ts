// Task-policy tools with `task_after` against a 2026-07-28-only upstream (the conformance upstream over
// stdio): the call runs in its request first, so an upstream's questions before the task exists are
// answered in the request (MRTR), then the final round becomes a task (SEP-2663's composition); an optional
// call that finishes in the window answers as a plain call; one still running when it closes becomes a
// task and keeps running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { ROOT, startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { upstreamCommand } from '../helpers/conformance-upstream.js';
import { TASKS_EXTENSION } from '../../src/core/tasks/index.js';
import { keyspace } from '../../src/redis/keyspace.js';
import { postModern } from '../helpers/modern-agent.js';

let redis: TestRedis;
let gw: TestAirlock;

before(async () => {
  redis = await startRedis();
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: { servers: { up: { ...upstreamCommand(['--stdio', '--mode', 'modern']), cwd: ROOT } } },
    policies: {
      up: {
        version: '1',
        default: 'allow',
        tools: {
          test_tool_with_task: { task: 'required', task_after: '10s' },
          confirm_delete: { task: 'optional', task_after: '10s' },
          failing_job: { task: 'required', task_after: '10s' },
          slow_compute: { task: 'optional', task_after: '100ms' },
        },
      },
    },
  });
});

after(async () => {
  await gw?.stop();
  await redis?.stop();
});

const ASKS_WITH_TASKS = { elicitation: {}, extensions: { [TASKS_EXTENSION]: {} } };

async function rpc(method: string, params: Record<string, unknown>): Promise<any> {
  const { body } = await postModern(gw.url, method, params, { capabilities: ASKS_WITH_TASKS });
  assert.equal(body.error, undefined, JSON.stringify(body.error));
  return body.result;
}

const ended = (t: any) => ['completed', 'failed', 'cancelled'].includes(t.status);

/** Waits, on task status changes, until `tasks/get` shows the task ended. */
async function taskEnd(taskId: string): Promise<any> {
  const sub = new Redis(redis.url, { lazyConnect: true });
  sub.on('error', () => {});
  try {
    await sub.connect();
    await sub.subscribe(keyspace(gw.prefix).task.changes);
    return await new Promise<any>((resolve, reject) => {
      const check = () =>
        rpc('tasks/get', { taskId }).then((t) => {
          if (ended(t)) resolve(t);
        }, reject);
      sub.on('message', (_channel, id) => id === taskId && check());
      check();
    });
  } finally {
    sub.disconnect();
  }
}

const elicitAnswer = (content: Record<string, unknown>) => ({ action: 'accept', content });

test('questions before the task are answered in the request; the final round is a task with the answer', async () => {
  const r1 = await rpc('tools/call', { name: 'test_tool_with_task', arguments: {} });
  assert.equal(r1.resultType, 'input_required');
  assert.equal('taskId' in r1, false);
  assert.deepEqual(Object.keys(r1.inputRequests), ['user_name'], 'the upstream key, not a task round key');
  assert.equal(typeof r1.requestState, 'string');
  const r2 = await rpc('tools/call', {
    name: 'test_tool_with_task',
    arguments: {},
    inputResponses: { user_name: elicitAnswer({ name: 'Alice' }) },
    requestState: r1.requestState,
  });
  assert.equal(r2.resultType, 'task');
  assert.match(r2.taskId, /^tk_/);
  assert.equal('requestState' in r2, false);
  assert.equal('inputRequests' in r2, false);
  const done = await taskEnd(r2.taskId);
  assert.equal(done.status, 'completed');
  assert.match(done.result.content[0].text, /Hello, Alice!/);
});

test('an optional call answered within the window is a plain result, its questions too', async () => {
  const r1 = await rpc('tools/call', { name: 'confirm_delete', arguments: { filename: 'w.txt' } });
  assert.equal(r1.resultType, 'input_required');
  const r2 = await rpc('tools/call', {
    name: 'confirm_delete',
    arguments: { filename: 'w.txt' },
    inputResponses: { confirm: elicitAnswer({ confirm: true }) },
    requestState: r1.requestState,
  });
  assert.equal(r2.resultType, 'complete');
  assert.equal(r2.content[0].text, 'Deleted w.txt');
});

test('a required call that finished within the window is a task, already holding its result', async () => {
  const created = await rpc('tools/call', { name: 'failing_job', arguments: {} });
  assert.equal(created.resultType, 'task');
  const done = await taskEnd(created.taskId);
  assert.equal(done.status, 'completed');
  assert.equal(done.result.isError, true);
  assert.equal(done.result.content[0].text, 'failing_job failed on purpose');
});

test('a call still running when the window closes becomes a task and keeps running', async () => {
  const created = await rpc('tools/call', { name: 'slow_compute', arguments: { seconds: 2, label: 'win' } });
  assert.equal(created.resultType, 'task');
  assert.equal(created.status, 'working');
  const done = await taskEnd(created.taskId);
  assert.equal(done.status, 'completed');
  assert.equal(done.result.content[0].text, 'Computed win after 2s');
});

test('a task whose first round ran in the request is cancelled like any other', async () => {
  const created = await rpc('tools/call', {
    name: 'slow_compute',
    arguments: { seconds: 60, label: 'stop' },
  });
  assert.equal(created.resultType, 'task');
  assert.deepEqual(await rpc('tasks/cancel', { taskId: created.taskId }), { resultType: 'complete' });
  const done = await taskEnd(created.taskId);
  assert.equal(done.status, 'cancelled');
});
