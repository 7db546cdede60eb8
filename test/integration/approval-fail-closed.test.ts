// A held call whose deadline job cannot be added must not stay pending: the service withdraws the
// request it just stored and the agent hears QUEUE_UNAVAILABLE; nothing runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { freePort, freshPrefix, startRedis, type TestRedis } from '../helpers/redis.js';
import { ApprovalStore } from '../../src/approval/approval-store.js';
import { ApprovalService } from '../../src/approval/approval-service.js';
import { AirlockError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/log.js';

let redis: TestRedis;
let live: Redis;
let dead: Redis;

before(async () => {
  redis = await startRedis();
  live = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  // Nothing listens on this port, and this connection gives up at once instead of reconnecting.
  dead = new Redis({
    port: await freePort(),
    host: '127.0.0.1',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  dead.on('error', () => {});
});
after(async () => {
  live?.disconnect();
  dead?.disconnect();
  await redis?.stop();
});

test('a request whose deadline job cannot be queued is cancelled and the call is refused', async () => {
  const prefix = freshPrefix('failclosed');
  const store = new ApprovalStore(live, prefix);
  const executed: string[] = [];
  const approvals = new ApprovalService({
    store,
    queueConnection: dead,
    blockingConnection: () => assert.fail('not started, so no blocking connection'),
    prefix,
    execute: async (r) => {
      executed.push(r.id);
      return { content: [] };
    },
    reviewers: [{ id: 'alice' }],
    agents: [{ id: 'ci-bot' }],
    openAccess: false,
    logger: silentLogger,
  });
  const created: string[] = [];
  approvals.on('created', (r) => created.push(r.id));
  const call = {
    requestId: 'ar_failclosed_1',
    agent: 'ci-bot',
    server: 'lab',
    tool: 'start_vm',
    args: { vm_name: 'kali-01' },
    decision: {
      action: 'require_approval' as const,
      rule: 'lab/start_vm',
      limits: [],
      approval: {
        approvers: ['alice'],
        minApprovals: 1,
        timeoutMs: 60_000,
        waitMs: 1_000,
        onTimeout: 'reject' as const,
        allowSelfApproval: false,
      },
    },
  };
  await assert.rejects(approvals.hold(call, { signal: new AbortController().signal }), (err: unknown) => {
    assert.ok(err instanceof AirlockError);
    assert.equal(err.code, 'QUEUE_UNAVAILABLE');
    assert.match(err.message, /lab\/start_vm needs approval, but the approval queue is unreachable/);
    return true;
  });
  const record = await store.get('ar_failclosed_1');
  assert.equal(record?.status, 'cancelled');
  assert.equal(record?.reason, 'approval queue unavailable');
  assert.deepEqual(await store.pendingIds(), []);
  assert.deepEqual(created, []);
  assert.deepEqual(executed, []);
  await approvals.close();
});
