// Allowed task-policy tools against a 2026-07-28-only upstream (the conformance upstream over stdio): an
// upstream's input_required answer during a task becomes the task's questions, tasks/update answers them
// (one at a time too), the call resumes; protocol errors end `failed`, tool errors `completed`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { ROOT, startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { upstreamCommand } from '../helpers/conformance-upstream.js';
import { META_KEYS } from '../../src/agent/wire/envelope.js';
import { TASKS_EXTENSION } from '../../src/core/tasks/index.js';
import { keyspace } from '../../src/redis/keyspace.js';
import { postModern } from '../helpers/modern-agent.js';

const V = '2026-07-28';
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
          confirm_delete: { task: 'optional' },
          multi_input: { task: 'optional' },
          protocol_error_job: { task: 'optional' },
          failing_job: { task: 'required' },
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

/** Waits, on task status changes, until `tasks/get` satisfies `done`. */
async function taskWhen(taskId: string, done: (t: any) => boolean): Promise<any> {
  const sub = new Redis(redis.url, { lazyConnect: true });
  sub.on('error', () => {});
  try {
    await sub.connect();
    await sub.subscribe(keyspace(gw.prefix).task.changes);
    return await new Promise<any>((resolve, reject) => {
      const check = () =>
        rpc('tasks/get', { taskId }).then((t) => {
          if (done(t)) resolve(t);
        }, reject);
      sub.on('message', (_channel, id) => id === taskId && check());
      check();
    });
  } finally {
    sub.disconnect();
  }
}

const ended = (t: any) => ['completed', 'failed', 'cancelled'].includes(t.status);

test('an upstream question during a task: input_required, tasks/update, completed', async () => {
  const created = await rpc('tools/call', { name: 'confirm_delete', arguments: { filename: 'a.txt' } });
  assert.equal(created.resultType, 'task');
  const asking = await taskWhen(created.taskId, (t) => t.status === 'input_required' || ended(t));
  assert.equal(asking.status, 'input_required');
  assert.deepEqual(Object.keys(asking.inputRequests), ['r1.confirm']);
  assert.equal(asking.inputRequests['r1.confirm'].method, 'elicitation/create');
  assert.equal('requestState' in asking, false);
  const ack = await rpc('tasks/update', {
    taskId: created.taskId,
    inputResponses: { 'r1.confirm': { action: 'accept', content: { confirm: true } }, other: { x: 1 } },
  });
  assert.deepEqual(ack, { resultType: 'complete' });
  const done = await taskWhen(created.taskId, ended);
  assert.equal(done.status, 'completed');
  assert.equal(done.result.content[0].text, 'Deleted a.txt');
  assert.equal('inputRequests' in done, false);
});

test('two questions answered one at a time: the answered one leaves, the task completes after both', async () => {
  const created = await rpc('tools/call', { name: 'multi_input', arguments: {} });
  const asking = await taskWhen(created.taskId, (t) => t.status === 'input_required' || ended(t));
  assert.deepEqual(Object.keys(asking.inputRequests).sort(), ['r1.confirm', 'r1.name']);
  await rpc('tasks/update', {
    taskId: created.taskId,
    inputResponses: { 'r1.name': { action: 'accept', content: { name: 'Alice' } } },
  });
  const partly = await rpc('tasks/get', { taskId: created.taskId });
  assert.equal(partly.status, 'input_required');
  assert.deepEqual(Object.keys(partly.inputRequests), ['r1.confirm']);
  await rpc('tasks/update', {
    taskId: created.taskId,
    inputResponses: { 'r1.confirm': { action: 'accept', content: { confirm: true } } },
  });
  const done = await taskWhen(created.taskId, ended);
  assert.equal(done.status, 'completed');
  assert.match(done.result.content[0].text, /^multi_input done: .*Alice/);
});

test('a JSON-RPC error from the upstream ends the task failed; a tool error ends it completed', async () => {
  const broken = await rpc('tools/call', { name: 'protocol_error_job', arguments: {} });
  const failed = await taskWhen(broken.taskId, ended);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error.code, -32603);
  assert.match(failed.error.message, /protocol_error_job failed on purpose/);
  assert.equal('result' in failed, false);

  const failing = await rpc('tools/call', { name: 'failing_job', arguments: {} });
  const completed = await taskWhen(failing.taskId, ended);
  assert.equal(completed.status, 'completed');
  assert.equal(completed.result.isError, true);
});

test("an upstream's -32021 reaches a 2026-07-28 client as that error, HTTP 400", async () => {
  const res = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': V,
      'mcp-method': 'tools/call',
      'mcp-name': 'test_missing_capability',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: {
        name: 'test_missing_capability',
        arguments: {},
        _meta: { [META_KEYS.protocolVersion]: V, [META_KEYS.clientCapabilities]: {} },
      },
    }),
  });
  const body = (await res.json()) as any;
  assert.equal(res.status, 400);
  assert.equal(body.error.code, -32021);
  assert.deepEqual(body.error.data.requiredCapabilities, { sampling: {} });
});
