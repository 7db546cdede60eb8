import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockError } from '../../src/core/errors.js';
import {
  approvedRunningMessage,
  createTaskResult,
  getTaskResult,
  heldTaskTtlMs,
  isTaskId,
  isTerminalTaskStatus,
  newTaskId,
  transitionTask,
  waitingForApprovalMessage,
  TASK_STATUSES,
  type TaskRecord,
} from '../../src/core/tasks/index.js';

/** A clock the test moves by hand. */
function clock(start = Date.parse('2026-12-01T10:00:00.000Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function task(now: number, over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: newTaskId(),
    agent: 'ci-bot',
    approvalId: 'ar_AAAAAAAAAAAAAAAAAAAA',
    server: 'lab',
    tool: 'start_vm',
    status: 'working',
    statusMessage: 'waiting',
    createdAt: now,
    lastUpdatedAt: now,
    ttlMs: heldTaskTtlMs(15 * 60_000, 60 * 60_000),
    pollIntervalMs: 5000,
    ...over,
  };
}

describe('task ids', () => {
  it('are tk_ and 192 random bits, never repeating', () => {
    const ids = new Set(Array.from({ length: 1000 }, newTaskId));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.ok(isTaskId(id), id);
    assert.equal([...ids][0]!.length, 35);
  });

  it('rejects anything else', () => {
    for (const bad of [
      '',
      'tk_',
      `tk_${'A'.repeat(31)}`,
      `tk_${'A'.repeat(33)}`,
      `tk_${'A'.repeat(31)}:`,
      `tk_${'A'.repeat(31)}}`,
      'ar_AAAAAAAAAAAAAAAAAAAA',
      'x'.repeat(100_000),
      42,
      null,
      undefined,
    ]) {
      assert.equal(isTaskId(bad), false, String(bad).slice(0, 40));
    }
  });
});

describe('transitionTask', () => {
  it('moves an active task and stamps lastUpdatedAt with the clock', () => {
    const c = clock();
    const t = task(c.now());
    c.advance(90_000);
    const r = transitionTask(t, { status: 'working', statusMessage: 'approved by alice, running' }, c.now());
    assert.ok(r.ok);
    assert.equal(r.task.statusMessage, 'approved by alice, running');
    assert.equal(r.task.lastUpdatedAt, t.createdAt + 90_000);
    assert.equal(r.task.createdAt, t.createdAt);
    assert.equal(t.statusMessage, 'waiting', 'the input is left untouched');
  });

  it('keeps every terminal status final, whichever came first', () => {
    const c = clock();
    const completed = { status: 'completed', result: { content: [] } } as const;
    const failed = { status: 'failed', error: { code: -32603, message: 'lost' } } as const;
    const cancelled = { status: 'cancelled' } as const;
    const changes = [completed, failed, cancelled];
    for (const first of changes) {
      const r = transitionTask(task(c.now()), first, c.now());
      assert.ok(r.ok);
      assert.ok(isTerminalTaskStatus(r.task.status));
      for (const second of [
        ...changes,
        { status: 'working' } as const,
        { status: 'input_required', inputRequests: {} } as const,
      ]) {
        const again = transitionTask(r.task, second, c.advance(1));
        assert.deepEqual(again, { ok: false, code: 'TERMINAL', status: first.status });
      }
    }
  });

  it('applies a change only from the statuses the caller names', () => {
    const c = clock();
    const r = transitionTask(task(c.now()), { status: 'input_required', inputRequests: {} }, c.now(), [
      'input_required',
    ]);
    assert.deepEqual(r, { ok: false, code: 'NOT_FROM', status: 'working' });
  });

  it('carries result only when completed and error only when failed', () => {
    const c = clock();
    const done = transitionTask(
      task(c.now()),
      { status: 'completed', result: { content: [], isError: true } },
      1,
    );
    assert.ok(done.ok);
    assert.deepEqual(done.task.result, { content: [], isError: true });
    assert.equal(done.task.error, undefined);
    assert.equal(done.task.statusMessage, undefined, 'a change without a message clears the old one');
  });

  it('refuses a malformed failure or result before it reaches a store', () => {
    const c = clock();
    const bad = [
      { status: 'failed', error: { code: 1.5, message: 'x' } },
      { status: 'failed', error: { code: -1 } },
      { status: 'completed', result: [] },
      { status: 'completed', result: null },
    ];
    for (const change of bad) {
      assert.throws(
        () => transitionTask(task(c.now()), change as never, c.now()),
        (e: unknown) => e instanceof AirlockError && e.code === 'INTERNAL',
      );
    }
  });
});

describe('wire shapes', () => {
  const FORBIDDEN = [
    'result',
    'error',
    'inputRequests',
    'requestState',
    'ttl',
    'pollInterval',
    'content',
    'task',
  ];

  it('CreateTaskResult is flat, ISO-dated and carries none of the forbidden fields', () => {
    const c = clock();
    const t = task(c.now(), { result: { content: [] }, error: { code: 1, message: 'x' } });
    const r = createTaskResult(t);
    assert.deepEqual(r, {
      resultType: 'task',
      taskId: t.id,
      status: 'working',
      statusMessage: 'waiting',
      createdAt: '2026-12-01T10:00:00.000Z',
      lastUpdatedAt: '2026-12-01T10:00:00.000Z',
      ttlMs: 75 * 60_000,
      pollIntervalMs: 5000,
    });
    for (const key of FORBIDDEN) assert.ok(!(key in r), key);
  });

  it('tasks/get inlines result for completed, error for failed, nothing otherwise', () => {
    const c = clock();
    const base = task(c.now(), { statusMessage: undefined });
    const result = { content: [{ type: 'text', text: 'ok' }] };
    const error = { code: -32603, message: 'Airlock replica lost the call' };
    assert.deepEqual(getTaskResult({ ...base, status: 'completed', result }).result, result);
    const failed = getTaskResult({ ...base, status: 'failed', error, result });
    assert.deepEqual(failed.error, error);
    assert.ok(!('result' in failed));
    for (const status of TASK_STATUSES.filter((s) => s !== 'completed' && s !== 'failed')) {
      const r = getTaskResult({ ...base, status, result, error });
      assert.equal(r.resultType, 'complete');
      assert.equal(r.status, status);
      assert.ok(!('result' in r) && !('error' in r) && !('statusMessage' in r), status);
    }
  });
});

describe('status messages', () => {
  it('say where the request waits, its id and the time left', () => {
    const c = clock();
    const expiresAt = c.now() + 15 * 60_000;
    c.advance(60_000);
    const requestId = 'ar_AAAAAAAAAAAAAAAAAAAA';
    assert.equal(
      waitingForApprovalMessage({ requestId, channel: '#lab-approvals', expiresAt, now: c.now() }),
      'waiting for approval in #lab-approvals (request ar_AAAAAAAAAAAAAAAAAAAA), expires in 14m',
    );
    c.advance(13 * 60_000 + 20_000);
    assert.equal(
      waitingForApprovalMessage({ requestId, expiresAt, now: c.now() }),
      'waiting for approval (request ar_AAAAAAAAAAAAAAAAAAAA), expires in 40s',
    );
    c.advance(60_000);
    assert.match(waitingForApprovalMessage({ requestId, expiresAt, now: c.now() }), /, expiring now$/);
  });

  it('name who approved', () => {
    assert.equal(approvedRunningMessage(['alice']), 'approved by alice, running');
    assert.equal(approvedRunningMessage(['alice', 'bob']), 'approved by alice, bob, running');
  });
});
