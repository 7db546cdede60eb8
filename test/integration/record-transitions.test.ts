// The one compare-and-set transition helper against a real Redis: concurrent writers on separate
// connections, so conflicts are real ones between round trips, not simulated.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { ApprovalStore, type StoredRecord } from '../../src/approval/approval-store.js';
import { RecordTransitions, type TransitionOutcome } from '../../src/approval/record-transitions.js';
import { applyDecision, cancel, expire } from '../../src/core/approval/state-machine.js';
import type { ApprovalRecord } from '../../src/core/approval/types.js';
import { AirlockError } from '../../src/core/errors.js';

let redis: TestRedis;
const connections: Redis[] = [];

before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const c of connections) c.disconnect();
  await redis?.stop();
});

/** `n` stores on one fresh prefix, each on its own connection. */
function stores(n: number): ApprovalStore[] {
  const prefix = freshPrefix('transitions');
  return Array.from({ length: n }, () => {
    const c = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    connections.push(c);
    return new ApprovalStore(c, prefix);
  });
}

const REVIEWERS = Array.from({ length: 8 }, (_, i) => ({ id: `reviewer-${i}` }));

let seq = 0;
async function pendingRecord(store: ApprovalStore, minApprovals = 1): Promise<StoredRecord> {
  const now = Date.now();
  const id = `ar_transition_${++seq}`;
  const record: ApprovalRecord = {
    id,
    createdAt: now,
    expiresAt: now + 60_000,
    server: 'lab',
    tool: 'start_vm',
    agent: 'ci-bot',
    args: { vm_name: id },
    argsHash: id,
    rule: 'lab/start_vm',
    approval: {
      approvers: REVIEWERS.map((r) => r.id),
      minApprovals,
      timeoutMs: 60_000,
      waitMs: 1_000,
      onTimeout: 'reject',
      allowSelfApproval: false,
    },
    status: 'pending',
    decisions: [],
  };
  const res = await store.createOrAttach(record, id);
  assert.equal(res.created, true);
  return res.record;
}

test('of concurrent conflicting transitions exactly one is written; the others are refused', async () => {
  const all = stores(4);
  const r = await pendingRecord(all[0]!);
  const contenders = Array.from({ length: 12 }, (_, i) => {
    const transitions = new RecordTransitions(all[i % all.length]!);
    return transitions.apply(r.id, (current) =>
      i % 2 ? cancel(current, Date.now(), `contender ${i}`) : expire(current, Date.now()),
    );
  });
  const outcomes: TransitionOutcome[] = await Promise.all(contenders);
  const written = outcomes.filter((o) => o.kind === 'written');
  assert.equal(written.length, 1);
  const refused = outcomes.filter((o) => o.kind === 'refused');
  assert.equal(refused.length, 11);
  for (const o of refused) assert.equal(o.refusal.code, 'ALREADY_DECIDED');
  const stored = await all[0]!.get(r.id);
  assert.equal(stored?.version, 2);
  assert.equal(stored?.status, written[0]!.record.status);
});

test('concurrent transitions that all apply are retried until each one lands', async () => {
  const all = stores(4);
  const r = await pendingRecord(all[0]!, REVIEWERS.length + 1);
  const ctx = { reviewers: REVIEWERS, groupMembers: {} };
  const outcomes = await Promise.all(
    REVIEWERS.map((reviewer, i) =>
      new RecordTransitions(all[i % all.length]!).apply(r.id, (current) =>
        applyDecision(
          current,
          { by: reviewer.id, via: 'api', at: Date.now(), decision: 'approve' },
          { ...ctx, now: Date.now() },
        ),
      ),
    ),
  );
  assert.deepEqual(
    outcomes.map((o) => o.kind),
    REVIEWERS.map(() => 'written'),
  );
  const stored = await all[0]!.get(r.id);
  assert.equal(stored?.version, REVIEWERS.length + 1);
  assert.deepEqual(stored?.decisions.map((d) => d.by).sort(), REVIEWERS.map((x) => x.id).sort());
  assert.equal(stored?.status, 'pending');
});

test('a transition that loses every attempt fails with a retryable QUEUE_UNAVAILABLE naming the request', async () => {
  const [store, rival] = stores(2);
  const r = await pendingRecord(store!);
  const transitions = new RecordTransitions(store!, { maxAttempts: 3 });
  let steps = 0;
  await assert.rejects(
    transitions.apply(r.id, async (current) => {
      steps++;
      // Another writer lands between this read and the conditional write, every time.
      assert.ok(await rival!.compareAndSet(current, { ...current, reason: `rival ${steps}` }));
      return cancel(current, Date.now(), 'loser');
    }),
    (err: unknown) => {
      assert.ok(err instanceof AirlockError);
      assert.equal(err.code, 'QUEUE_UNAVAILABLE');
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(`Request ${r.id} is too contended: 3 concurrent updates`));
      return true;
    },
  );
  assert.equal(steps, 3);
  const stored = await store!.get(r.id);
  assert.equal(stored?.status, 'pending');
  assert.equal(stored?.reason, 'rival 3');
});

test('a stale starting record costs one retry; a missing one or a declined step writes nothing', async () => {
  const [store] = stores(1);
  const r = await pendingRecord(store!);
  const bumped = await store!.compareAndSet(r, { ...r, reason: 'bumped' });
  assert.ok(bumped);
  const transitions = new RecordTransitions(store!);
  let steps = 0;
  const outcome = await transitions.apply(
    r.id,
    (current) => {
      steps++;
      return expire(current, Date.now());
    },
    r,
  );
  assert.equal(steps, 2);
  assert.equal(outcome.kind, 'written');
  assert.equal(outcome.kind === 'written' && outcome.record.version, 3);

  assert.deepEqual(await transitions.apply('ar_unknown', () => assert.fail('no record, no step')), {
    kind: 'missing',
  });
  const unchanged = await transitions.apply(r.id, () => undefined);
  assert.equal(unchanged.kind, 'unchanged');
  assert.equal((await store!.get(r.id))?.version, 3);
});
