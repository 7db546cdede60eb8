// The repair sweep against a real Redis: requests that a replica left half-done (a deadline job lost, a
// release lost, a job BullMQ failed as stalled after a second replica death) end as they should —
// expired, released once, or interrupted with a stored error — and never run twice or without approval.
// Losses are made with BullMQ's own API, or by a replica whose queue is gone after it wrote the approval.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { Queue, QueueEvents } from 'bullmq';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { freePort, freshPrefix, startRedis, type TestRedis } from '../helpers/redis.js';
import { ApprovalStore, type StoredRecord } from '../../src/approval/approval-store.js';
import { APPROVAL_QUEUE, ApprovalService, type SweepRun } from '../../src/approval/approval-service.js';
import { AirlockError } from '../../src/core/errors.js';
import { keyspace } from '../../src/redis/keyspace.js';
import { silentLogger } from '../../src/log.js';

let redis: TestRedis;
let live: Redis;
const closing: (() => Promise<unknown>)[] = [];

before(async () => {
  redis = await startRedis();
  live = new Redis(redis.url, { maxRetriesPerRequest: 1 });
});
after(async () => {
  for (const close of closing.reverse()) await close().catch(() => {});
  live?.disconnect();
  await redis?.stop();
});

/** The queue connection of a replica that lost Redis: nothing listens on its port, and it gives up at once. */
async function deadConnection(): Promise<Redis> {
  const dead = new Redis({
    port: await freePort(),
    host: '127.0.0.1',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  dead.on('error', () => {});
  closing.push(async () => dead.disconnect());
  return dead;
}

const queueLost = (err: unknown) => err instanceof AirlockError && err.code === 'QUEUE_UNAVAILABLE';

const GRACE_MS = 10_000;
const TIMEOUT_MS = 60_000;

/** A clock the test moves forward; every replica of one test shares it. */
function clock() {
  let skew = 0;
  return { now: () => Date.now() + skew, advance: (ms: number) => void (skew += ms) };
}

/** One replica's approval service; `execute` counts runs by request id in `runs`. */
function replica(
  prefix: string,
  now: () => number,
  runs: Map<string, number>,
  o: { queue?: Redis; store?: Redis; execute?: (id: string) => Promise<CallToolResult> } = {},
) {
  const service = new ApprovalService({
    store: new ApprovalStore(o.store ?? live, prefix),
    queueConnection: o.queue ?? live,
    blockingConnection: () => {
      const c = new Redis(redis.url, { maxRetriesPerRequest: null });
      closing.push(async () => c.disconnect());
      return c;
    },
    prefix,
    execute: async (r) => {
      runs.set(r.id, (runs.get(r.id) ?? 0) + 1);
      return o.execute ? o.execute(r.id) : { content: [{ type: 'text', text: `ran ${r.id}` }] };
    },
    reviewers: [{ id: 'alice' }],
    agents: [{ id: 'ci-bot' }],
    openAccess: false,
    logger: silentLogger,
    sweepIntervalMs: 0,
    sweepGraceMs: GRACE_MS,
    now,
  });
  closing.push(() => service.close());
  return service;
}

function heldCall(requestId: string) {
  return {
    requestId,
    agent: 'ci-bot',
    server: 'lab',
    tool: 'start_vm',
    args: { vm_name: requestId },
    decision: {
      action: 'require_approval' as const,
      rule: 'lab/start_vm',
      limits: [],
      approval: {
        approvers: ['alice'],
        minApprovals: 1,
        timeoutMs: TIMEOUT_MS,
        waitMs: 5_000,
        onTimeout: 'reject' as const,
        allowSelfApproval: false,
      },
    },
  };
}

const approve = { reviewerId: 'alice', via: 'api' as const, decision: 'approve' as const };
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

/** BullMQ's own view of the approvals queue, to lose jobs the way a dead replica or BullMQ would. */
function queueOf(prefix: string): Queue {
  const q = new Queue(APPROVAL_QUEUE, { connection: live, prefix });
  closing.push(() => q.close());
  return q;
}

/** Sums what several concurrent runs did (a run that found the lock taken did nothing; a replica asked twice at once makes one run). */
function total(runs: (SweepRun | undefined)[]): SweepRun {
  const sum: SweepRun = { expired: 0, released: 0, interrupted: 0 };
  for (const r of new Set(runs)) {
    sum.expired += r?.expired ?? 0;
    sum.released += r?.released ?? 0;
    sum.interrupted += r?.interrupted ?? 0;
  }
  return sum;
}

/** The next `executed` event of any of these replicas (the one whose sweep ran emits it). */
function nextExecuted(...replicas: ApprovalService[]): Promise<[StoredRecord, CallToolResult]> {
  return Promise.race(replicas.map((s) => once(s, 'executed') as Promise<[StoredRecord, CallToolResult]>));
}

test('a pending request whose deadline job was lost is expired once, however many replicas sweep', async () => {
  const prefix = freshPrefix('sweep');
  const t = clock();
  const runs = new Map<string, number>();
  const a = replica(prefix, t.now, runs);
  const b = replica(prefix, t.now, runs);
  await Promise.all([a.start(), b.start()]);
  const expired: string[] = [];
  for (const s of [a, b]) s.on('expired', (r) => expired.push(r.id));
  const call = heldCall('ar_sweep_expire');
  await a.submit(call);
  await (await queueOf(prefix).getJob(call.requestId))!.remove();

  assert.deepEqual(total([await a.sweep()]), { expired: 0, released: 0, interrupted: 0 });
  t.advance(TIMEOUT_MS);
  assert.equal((await b.sweep())?.expired, 0, 'within the grace the deadline job still has its chance');
  assert.equal((await a.get(call.requestId))?.status, 'pending');

  t.advance(GRACE_MS);
  const swept = total(await Promise.all([a.sweep(), b.sweep(), a.sweep(), b.sweep()]));
  assert.equal(swept.expired, 1);
  assert.deepEqual(expired, [call.requestId], 'one expiry event, as the deadline job would have sent');
  const record = await b.get(call.requestId);
  assert.equal(record?.status, 'expired');
  const ks = keyspace(prefix);
  assert.equal(await live.zscore(ks.approval.pending, call.requestId), null, 'left the pending queue');
  assert.notEqual(
    await live.zscore(ks.history.status('expired'), call.requestId),
    null,
    'history says expired',
  );
  await assert.rejects(b.hold(call, { signal: new AbortController().signal }), (err: unknown) => {
    assert.ok(err instanceof AirlockError && err.code === 'APPROVAL_EXPIRED', String(err));
    return true;
  });
  assert.equal(runs.size, 0, 'nothing ran');
});

test('an approval whose release was lost (its replica lost Redis after writing it) is released once', async () => {
  const prefix = freshPrefix('sweep');
  const t = clock();
  const runs = new Map<string, number>();
  const a = replica(prefix, t.now, runs);
  const dying = replica(prefix, t.now, runs, { queue: await deadConnection() });
  await a.start();
  const call = heldCall('ar_sweep_release');
  await a.submit(call);
  await assert.rejects(dying.decide(call.requestId, approve), queueLost);
  assert.equal(
    (await a.get(call.requestId))?.status,
    'approved',
    'the approval was written, its release not',
  );

  assert.equal((await a.sweep())?.released, 0, 'a fresh approval is left to the replica releasing it');
  t.advance(GRACE_MS);
  const executed = nextExecuted(a);
  const swept = total(await Promise.all([a.sweep(), a.sweep(), dying.sweep()]));
  assert.equal(swept.released, 1);
  const [record, result] = await executed;
  assert.equal(record.status, 'executed');
  assert.equal(text(result), `ran ${call.requestId}`);
  assert.deepEqual(total([await a.sweep(), await a.sweep()]), { expired: 0, released: 0, interrupted: 0 });
  const retry = await a.hold(call, { signal: new AbortController().signal });
  assert.equal(text(retry), `ran ${call.requestId}`, 'the identical retry gets the stored result');
  assert.equal(runs.get(call.requestId), 1, 'ran exactly once');
});

test('an approval whose deadline and release jobs were both lost gets one release job, run once', async () => {
  const prefix = freshPrefix('sweep');
  const t = clock();
  const runs = new Map<string, number>();
  // No worker here: the release job it adds waits until a worker starts.
  const sweeper = replica(prefix, t.now, runs);
  const dying = replica(prefix, t.now, runs, { queue: await deadConnection() });
  const call = heldCall('ar_sweep_relost');
  await sweeper.submit(call);
  await assert.rejects(dying.decide(call.requestId, approve), queueLost);
  await (await queueOf(prefix).getJob(call.requestId))!.remove();

  t.advance(GRACE_MS);
  assert.equal(total(await Promise.all([sweeper.sweep(), dying.sweep()])).released, 1);
  assert.equal((await sweeper.sweep())?.released, 0, 'its release job is waiting: not added again');
  assert.equal((await queueOf(prefix).getJobState(`${call.requestId}-release`)) as string, 'waiting');

  const worker = replica(prefix, t.now, runs);
  const executed = once(worker, 'executed');
  await worker.start();
  await executed;
  assert.equal((await worker.get(call.requestId))?.status, 'executed');
  assert.deepEqual(total([await worker.sweep()]), { expired: 0, released: 0, interrupted: 0 });
  assert.equal(runs.get(call.requestId), 1, 'ran exactly once');
});

test('a running call whose job BullMQ failed as stalled ends interrupted; its retry gets the stored error', async () => {
  const prefix = freshPrefix('sweep');
  const t = clock();
  const runs = new Map<string, number>();
  // The replica running the call stops mid-way: its upstream call does not come back until the end.
  let finish!: () => void;
  const hanging = new Promise<CallToolResult>((resolve) => {
    finish = () => resolve({ content: [{ type: 'text', text: 'late' }] });
  });
  const a = replica(prefix, t.now, runs, { execute: () => hanging });
  // The other replica decides and sweeps; it runs no worker, so the call is certainly a's to run.
  const b = replica(prefix, t.now, runs);
  await a.start();
  const call = heldCall('ar_sweep_stalled');
  await a.submit(call);
  const executing = once(a, 'executing');
  await b.decide(call.requestId, approve);
  await executing;
  // What BullMQ does to a job found stalled a second time: failed, no retry, whoever held its lock.
  const job = (await queueOf(prefix).getJob(call.requestId))!;
  job.discard();
  await job.moveToFailed(new Error('job stalled more than allowable limit'), '0');
  assert.equal(await queueOf(prefix).getJobState(call.requestId), 'failed');

  assert.equal((await b.sweep())?.interrupted, 0, 'within the grace a call is left to its job');
  t.advance(GRACE_MS);
  const ended = nextExecuted(a, b);
  assert.equal(total(await Promise.all([a.sweep(), b.sweep(), b.sweep()])).interrupted, 1);
  const [record, result] = await ended;
  assert.equal(record.status, 'failed');
  assert.equal(result.isError, true);
  const sentence = `Approved call ${call.requestId} was interrupted before it finished; it was not retried.`;
  assert.equal(text(result), sentence);
  const retry = await b.hold(call, { signal: new AbortController().signal });
  assert.equal(text(retry), sentence, 'the identical retry gets the stored error');
  assert.equal(retry.isError, true);

  // The cut-off run coming back late changes nothing: the stored outcome stands, nothing ran again.
  finish();
  await a.close();
  const stored = await b.get(call.requestId);
  assert.equal(stored?.status, 'failed');
  assert.match(stored?.execution?.summary ?? '', /^Interrupted/);
  assert.equal(runs.get(call.requestId), 1, 'the upstream was called once');
  assert.deepEqual(total([await b.sweep()]), { expired: 0, released: 0, interrupted: 0 });
});

test('an approval whose every job failed before starting it ends failed without running, the error stored', async () => {
  const prefix = freshPrefix('sweep');
  const t = clock();
  const runs = new Map<string, number>();
  const sweeper = replica(prefix, t.now, runs);
  const dying = replica(prefix, t.now, runs, { queue: await deadConnection() });
  const call = heldCall('ar_sweep_notrun');
  await sweeper.submit(call);
  await assert.rejects(dying.decide(call.requestId, approve), queueLost);
  await (await queueOf(prefix).getJob(call.requestId))!.remove();
  t.advance(GRACE_MS);
  assert.equal((await sweeper.sweep())?.released, 1, 'the one release job');

  // A replica that takes the release job but cannot reach its records: every attempt fails, then the job.
  const events = new QueueEvents(APPROVAL_QUEUE, { connection: { url: redis.url }, prefix });
  closing.push(() => events.close());
  await events.waitUntilReady();
  const release = (await queueOf(prefix).getJob(`${call.requestId}-release`))!;
  const broken = replica(prefix, t.now, runs, { store: await deadConnection() });
  await broken.start();
  await assert.rejects(release.waitUntilFinished(events));
  await broken.close();

  const ended = nextExecuted(sweeper);
  assert.deepEqual(total([await sweeper.sweep()]), { expired: 0, released: 0, interrupted: 1 });
  const [record, result] = await ended;
  assert.equal(record.status, 'failed');
  const sentence = `Approved call ${call.requestId} could not be started: the gateways that took it stopped first; it was not run.`;
  assert.equal(text(result), sentence);
  const retry = await sweeper.hold(call, { signal: new AbortController().signal });
  assert.equal(text(retry), sentence, 'the identical retry gets the stored error');
  assert.equal(runs.size, 0, 'nothing ran');
});
