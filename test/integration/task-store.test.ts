// The task store against a real Redis: separate connections race each other, so conflicts are real
// ones between round trips; time moves only through the store's clock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { AirlockError } from '../../src/core/errors.js';
import { getTaskResult, newTaskId, type TaskChange } from '../../src/core/tasks/index.js';
import { TaskStore, type NewTask, type TaskTransition } from '../../src/tasks/task-store.js';
import { freshPrefix, startRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
const connections: Redis[] = [];

before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const c of connections) c.disconnect();
  await redis?.stop();
});

/** `n` stores on one fresh prefix, each on its own connection, sharing one hand-moved clock. */
function stores(n: number, prefix = freshPrefix('tasks')) {
  let t = Date.parse('2026-12-01T10:00:00.000Z');
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const all = Array.from({ length: n }, () => {
    const c = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    connections.push(c);
    return new TaskStore(c, prefix, { now: clock.now, keyMarginMs: 60_000 });
  });
  return { all, clock, prefix };
}

let seq = 0;
function held(over: Partial<NewTask> = {}): NewTask {
  return {
    agent: 'ci-bot',
    approvalId: `ar_task${String(++seq).padStart(17, '0')}`,
    server: 'lab',
    tool: 'start_vm',
    ttlMs: 75 * 60_000,
    statusMessage: 'waiting for approval',
    ...over,
  };
}

const completed: TaskChange = { status: 'completed', result: { content: [{ type: 'text', text: 'ok' }] } };
const failed: TaskChange = { status: 'failed', error: { code: -32603, message: 'upstream lost' } };

describe('TaskStore', () => {
  test('a created task is readable at once from another connection, with its key ttl set', async () => {
    const {
      all: [a, b],
    } = stores(2);
    const { created, task } = await a!.create(held());
    assert.ok(created);
    assert.match(task.id, /^tk_[A-Za-z0-9_-]{32}$/);
    assert.deepEqual(await b!.get(task.id, 'ci-bot'), task);
    assert.deepEqual(await b!.ofApproval(task.approvalId!), task);
    assert.deepEqual(await b!.idsOfAgent('ci-bot'), [task.id]);
    const probe = new Redis(redis.url);
    connections.push(probe);
    const pttl = await probe.pttl(a!.keys.record(task.id));
    assert.ok(pttl > 75 * 60_000 && pttl <= 76 * 60_000, String(pttl));
    assert.ok((await probe.pttl(a!.keys.ofApproval(task.approvalId!))) > 75 * 60_000);
  });

  test('a task of another agent is exactly as unknown as a made-up id', async () => {
    const {
      all: [store],
    } = stores(1);
    const { task } = await store!.create(held());
    assert.equal(await store!.get(task.id, 'intruder'), undefined);
    assert.equal(await store!.get(newTaskId(), 'ci-bot'), undefined);
    assert.deepEqual(await store!.cancel(task.id, 'intruder'), { outcome: 'not_found' });
    assert.deepEqual(await store!.cancel(newTaskId(), 'intruder'), { outcome: 'not_found' });
    assert.equal(
      (await store!.get(task.id, 'ci-bot'))?.status,
      'working',
      'the foreign cancel changed nothing',
    );
  });

  test('an approval keeps its task for an identical retry, and is never handed to another agent', async () => {
    const {
      all: [store],
    } = stores(1);
    const input = held();
    const first = await store!.create(input);
    const again = await store!.create(input);
    assert.deepEqual(again, { created: false, task: first.task });
    await assert.rejects(
      store!.create({ ...input, agent: 'other-bot' }),
      (e: unknown) =>
        e instanceof AirlockError && e.code === 'REDIS_UNAVAILABLE' && /another agent/.test(e.message),
    );
    assert.equal((await store!.ofApproval(input.approvalId!))?.agent, 'ci-bot');
  });

  test('the approval release completes the task; tasks/get then inlines the result', async () => {
    const {
      all: [store],
      clock,
    } = stores(1);
    const { task } = await store!.create(held());
    clock.advance(30_000);
    assert.deepEqual(
      await store!.transition(task.id, { status: 'working', statusMessage: 'approved by alice, running' }),
      {
        outcome: 'changed',
        status: 'working',
      },
    );
    clock.advance(5_000);
    assert.deepEqual(await store!.transition(task.id, completed), {
      outcome: 'changed',
      status: 'completed',
    });
    const done = (await store!.get(task.id, 'ci-bot'))!;
    assert.equal(done.lastUpdatedAt, task.createdAt + 35_000);
    assert.equal(done.statusMessage, undefined);
    const wire = getTaskResult(done);
    assert.deepEqual(wire.result, { content: [{ type: 'text', text: 'ok' }] });
    assert.ok(!('error' in wire));
  });

  test('of racing cancel, completion and failure exactly one terminal status lands, and stays', async () => {
    const { all } = stores(6);
    for (let round = 0; round < 20; round++) {
      const { task } = await all[0]!.create(held());
      const results: TaskTransition[] = await Promise.all(
        all.map((s, i): Promise<TaskTransition> =>
          i % 3 === 0 ? s.cancel(task.id, 'ci-bot') : s.transition(task.id, i % 3 === 1 ? completed : failed),
        ),
      );
      const winners = results.filter((r) => r.outcome === 'changed');
      assert.equal(winners.length, 1, JSON.stringify(results));
      const final = (await all[1]!.get(task.id, 'ci-bot'))!;
      assert.equal(final.status, (winners[0] as { status: string }).status);
      for (const r of results) assert.equal((r as { status: string }).status, final.status);
      assert.equal(final.result !== undefined, final.status === 'completed');
      assert.equal(final.error !== undefined, final.status === 'failed');
      assert.deepEqual(await all[2]!.transition(task.id, { status: 'working' }), {
        outcome: 'refused',
        status: final.status,
      });
    }
  });

  test('a cancel on a terminal task is refused and reports the status that stays', async () => {
    const {
      all: [store],
    } = stores(1);
    const { task } = await store!.create(held());
    await store!.transition(task.id, failed);
    assert.deepEqual(await store!.cancel(task.id, 'ci-bot'), { outcome: 'refused', status: 'failed' });
    assert.deepEqual((await store!.get(task.id, 'ci-bot'))?.error, {
      code: -32603,
      message: 'upstream lost',
    });
  });

  test('a change applies only from the statuses the caller names', async () => {
    const {
      all: [store],
    } = stores(1);
    const { task } = await store!.create(held());
    assert.deepEqual(await store!.transition(task.id, completed, { from: ['input_required'] }), {
      outcome: 'refused',
      status: 'working',
    });
  });

  test('past its ttl a task is gone for reads and writes alike, and leaves the agent index', async () => {
    const {
      all: [store],
      clock,
    } = stores(1);
    const { task } = await store!.create(held({ ttlMs: 10 * 60_000 }));
    clock.advance(10 * 60_000 - 1);
    assert.ok(await store!.get(task.id, 'ci-bot'));
    clock.advance(1);
    assert.equal(await store!.get(task.id, 'ci-bot'), undefined);
    assert.equal(await store!.ofApproval(task.approvalId!), undefined);
    assert.deepEqual(await store!.transition(task.id, completed), { outcome: 'not_found' });
    assert.deepEqual(await store!.idsOfAgent('ci-bot'), []);
    const next = await store!.create(held());
    const probe = new Redis(redis.url);
    connections.push(probe);
    assert.deepEqual(
      await probe.zrange(store!.keys.agent('ci-bot'), 0, -1),
      [next.task.id],
      'creation trims the index',
    );
  });

  test('a task without an approval has no pointer and still works', async () => {
    const {
      all: [store],
    } = stores(1);
    const { task } = await store!.create(held({ approvalId: undefined, tool: 'slow_compute' }));
    assert.equal(task.approvalId, undefined);
    assert.equal((await store!.get(task.id, 'ci-bot'))?.tool, 'slow_compute');
  });

  test('hostile ids and agent names neither match nor reach another key', async () => {
    const {
      all: [store],
    } = stores(1);
    const { task } = await store!.create(held({ agent: 'a:b{c}' }));
    assert.ok(await store!.get(task.id, 'a:b{c}'));
    assert.equal(await store!.get(task.id, 'a:b'), undefined);
    const hostile = [
      '',
      'x'.repeat(1_000_000),
      `${task.id}x`,
      task.id.slice(0, -1),
      `${task.id.slice(0, -1)}:`,
      `tk_${'{'.repeat(32)}`,
      `tk_${'\ud800'.repeat(32)}`,
      '*',
      '../task',
      `${task.id}\n`,
    ];
    for (const id of hostile) {
      assert.equal(await store!.get(id, 'a:b{c}'), undefined, id.slice(0, 40));
      assert.deepEqual(await store!.cancel(id, 'a:b{c}'), { outcome: 'not_found' });
      assert.deepEqual(await store!.transition(id, completed), { outcome: 'not_found' });
    }
    assert.equal(await store!.ofApproval('x'.repeat(100_000)), undefined);
    assert.equal((await store!.get(task.id, 'a:b{c}'))?.status, 'working');
  });

  test('bad input is refused before anything is written', async () => {
    const {
      all: [store],
    } = stores(1);
    await assert.rejects(store!.create(held({ ttlMs: 0 })), /positive whole ttlMs/);
    const { task } = await store!.create(held());
    await assert.rejects(
      store!.transition(task.id, { status: 'failed', error: { code: 'x' } } as never),
      /JSON-RPC/,
    );
    assert.equal((await store!.get(task.id, 'ci-bot'))?.status, 'working');
  });
});
