import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { HistoryStore } from '../../src/history/history-store.js';
import type {
  DecisionRecord,
  DirectStatus,
  HistoryRecord,
  HistoryStatus,
} from '../../src/history/history-record.js';
import { matches, type HistoryFilter } from '../../src/history/history-query.js';
import { ApprovalStore } from '../../src/approval/approval-store.js';
import type { ApprovalRecord } from '../../src/core/approval/types.js';
import { newRequestId } from '../../src/core/approval/request-id.js';

let redis: TestRedis;
let client: Redis;

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
after(async () => {
  client?.disconnect();
  await redis?.stop();
});

const T0 = Date.UTC(2025, 0, 1);
const TOOLS = ['start_vm', 'stop_vm', 'list_vms', 'delete_vm'];
const SERVERS = ['lab', 'virt'];
const AGENTS = ['ci-bot', 'claude', 'cursor'];
const DIRECT: DirectStatus[] = ['allowed', 'denied', 'rate_limited', 'invalid', 'error'];

function direct(i: number, extra: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    id: newRequestId(),
    createdAt: T0 + i * 1000,
    server: SERVERS[i % 2]!,
    tool: TOOLS[i % 4]!,
    agent: AGENTS[i % 3]!,
    args: { vm_name: `vm-${i}` },
    rule: `lab/${TOOLS[i % 4]}`,
    status: DIRECT[i % 5]!,
    responseMs: 3,
    version: 1,
    ...extra,
  };
}

function approval(i: number, extra: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: newRequestId(),
    createdAt: T0 + i * 1000,
    expiresAt: T0 + i * 1000 + 60_000,
    server: SERVERS[i % 2]!,
    tool: TOOLS[i % 4]!,
    agent: AGENTS[i % 3]!,
    args: { vm_name: `vm-${i}` },
    argsHash: 'a'.repeat(64),
    rule: `lab/${TOOLS[i % 4]}`,
    approval: {
      approvers: [],
      minApprovals: 1,
      timeoutMs: 60_000,
      waitMs: 1000,
      onTimeout: 'reject',
      allowSelfApproval: false,
    },
    status: 'pending',
    decisions: [],
    ...extra,
  } as ApprovalRecord;
}

/** Newest first, ties by id descending: the order the API promises. */
function newestFirst(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

async function all(store: HistoryStore, filter: HistoryFilter, limit: number, scanBudget?: number) {
  const out: HistoryRecord[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.query(filter, {
      limit,
      ...(cursor ? { cursor } : {}),
      ...(scanBudget ? { scanBudget } : {}),
    });
    assert.ok(page.records.length <= limit);
    out.push(...page.records);
    cursor = page.nextCursor;
    assert.ok(++pages < 10_000, 'paging terminates');
  } while (cursor);
  return out;
}

/** Seeds a mixed history: direct decisions and approval requests moved through their lifecycle. */
async function seed(prefix: string, n: number) {
  const store = new HistoryStore(client, prefix);
  const approvals = new ApprovalStore(client, prefix);
  const expected: HistoryRecord[] = [];
  const directs = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) {
      const { record } = await approvals.createOrAttach(approval(i), `d-${prefix}-${i}`);
      let current = record;
      const path: HistoryStatus[] = [[], ['rejected'], ['approved', 'executing', 'executed'], ['expired']][
        i % 4
      ] as HistoryStatus[];
      for (const status of path) {
        const next = await approvals.compareAndSet(current, {
          ...current,
          status: status as ApprovalRecord['status'],
        });
        assert.ok(next);
        current = next;
      }
      expected.push(current);
    } else {
      const r = direct(i);
      directs.push(r);
      expected.push(r);
    }
  }
  assert.equal(await store.writeMany(directs), directs.length);
  expected.sort(newestFirst);
  return { store, approvals, expected };
}

test('every filter and combination returns exactly the matching records, newest first, across pages', async () => {
  const { store, expected } = await seed(freshPrefix('hq'), 300);
  const filters: HistoryFilter[] = [
    {},
    { statuses: ['denied'] },
    { statuses: ['pending', 'executed', 'rate_limited'] },
    { tool: 'start_vm' },
    { server: 'virt' },
    { agent: 'claude' },
    { tool: 'stop_vm', statuses: ['allowed'] },
    { tool: 'stop_vm', statuses: ['allowed', 'rejected', 'expired'] },
    { tool: 'list_vms', server: 'lab', agent: 'cursor' },
    { statuses: ['error'], agent: 'ci-bot', server: 'lab' },
    { tool: 'delete_vm', statuses: ['invalid'], agent: 'claude', since: T0 + 50_000, until: T0 + 250_000 },
    { since: T0 + 100_000 },
    { until: T0 + 100_000 },
    { since: T0 + 10_000, until: T0 + 10_000 },
    { tool: 'no_such_tool' },
    { statuses: ['cancelled'] },
  ];
  for (const f of filters) {
    const want = expected.filter((r) => matches(r, f)).map((r) => r.id);
    for (const limit of [1, 7, 50]) {
      const got = (await all(store, f, limit)).map((r) => r.id);
      assert.deepEqual(got, want, `filter ${JSON.stringify(f)} limit ${limit}`);
    }
  }
});

test('a status change moves the record between status indexes atomically', async () => {
  const prefix = freshPrefix('hs');
  const store = new HistoryStore(client, prefix);
  const approvals = new ApprovalStore(client, prefix);
  const { record } = await approvals.createOrAttach(approval(1, { tool: 'start_vm' }), 'dedupe-1');
  const pending = await store.query({ statuses: ['pending'], tool: 'start_vm' }, { limit: 10 });
  assert.deepEqual(
    pending.records.map((r) => r.id),
    [record.id],
  );
  const approved = await approvals.compareAndSet(record, {
    ...record,
    status: 'approved',
    decidedAt: T0 + 5000,
  });
  assert.ok(approved);
  assert.equal((await store.query({ statuses: ['pending'] }, { limit: 10 })).records.length, 0);
  assert.equal(
    (await store.query({ statuses: ['pending'], tool: 'start_vm' }, { limit: 10 })).records.length,
    0,
  );
  const now = await store.query({ statuses: ['approved'], tool: 'start_vm' }, { limit: 10 });
  assert.deepEqual(
    now.records.map((r) => [r.id, r.status]),
    [[record.id, 'approved']],
  );
  // A write that does not change the status leaves the indexes alone.
  const again = await approvals.compareAndSet(approved, { ...approved, decisions: [] });
  assert.ok(again);
  assert.equal(await client.zscore(store.keys.status('approved'), record.id), String(record.createdAt));
  assert.equal(await client.zscore(store.keys.status('pending'), record.id), null);
});

test('a direct-decision write never overwrites an existing record with the same id', async () => {
  const prefix = freshPrefix('hn');
  const store = new HistoryStore(client, prefix);
  const approvals = new ApprovalStore(client, prefix);
  const { record } = await approvals.createOrAttach(approval(2), 'dedupe-2');
  assert.equal(await store.writeMany([direct(2, { id: record.id, status: 'error' })]), 0);
  const got = await store.get(record.id);
  assert.equal(got?.status, 'pending');
  assert.equal(await client.zscore(store.keys.status('error'), record.id), null);
  // The approval store does not hand out direct records as approval requests.
  const d = direct(3);
  await store.writeMany([d]);
  assert.equal(await approvals.get(d.id), undefined);
  assert.equal((await store.get(d.id))?.status, d.status);
});

test('pages never repeat or skip a record while new records keep arriving', async () => {
  const prefix = freshPrefix('hp');
  const store = new HistoryStore(client, prefix);
  const initial = Array.from({ length: 200 }, (_, i) => direct(i));
  await store.writeMany(initial);
  const snapshot = initial.filter((r) => r.tool === 'start_vm' || r.tool === 'stop_vm').sort(newestFirst);
  const seen: string[] = [];
  let cursor: string | undefined;
  let extra = 1000;
  do {
    const page = await store.query({ statuses: [...DIRECT] }, { limit: 9, ...(cursor ? { cursor } : {}) });
    seen.push(...page.records.filter((r) => r.tool === 'start_vm' || r.tool === 'stop_vm').map((r) => r.id));
    cursor = page.nextCursor;
    // Newer records (and some at the very same millisecond as the newest) land between page reads.
    await store.writeMany([direct(extra++), direct(extra++, { createdAt: T0 + 199_000 }), direct(extra++)]);
  } while (cursor);
  const fromFirstPage = new Set(seen);
  assert.equal(fromFirstPage.size, seen.length, 'no duplicates');
  const want = snapshot.map((r) => r.id);
  assert.deepEqual(
    seen.filter((id) => want.includes(id)),
    want,
    'every record that existed when paging started, in order',
  );
});

test('many records in the same millisecond page correctly', async () => {
  const prefix = freshPrefix('ht');
  const store = new HistoryStore(client, prefix);
  const same = Array.from({ length: 250 }, (_, i) =>
    direct(i, { createdAt: T0, tool: 'start_vm', status: 'allowed' }),
  );
  const before = Array.from({ length: 5 }, (_, i) =>
    direct(i, { createdAt: T0 - 1 - i, tool: 'start_vm', status: 'allowed' }),
  );
  await store.writeMany([...same, ...before]);
  const want = [...same, ...before].sort(newestFirst).map((r) => r.id);
  for (const limit of [1, 3, 100]) {
    assert.deepEqual(
      (await all(store, { tool: 'start_vm', statuses: ['allowed'] }, limit)).map((r) => r.id),
      want,
    );
    assert.deepEqual(
      (await all(store, { agent: AGENTS[0]!, tool: 'start_vm' }, limit)).map((r) => r.id),
      want.filter((id) => [...same, ...before].find((r) => r.id === id)!.agent === AGENTS[0]),
    );
  }
});

test('a sparse filter answers within its scan budget and the cursor continues the walk', async () => {
  const prefix = freshPrefix('hb');
  const store = new HistoryStore(client, prefix);
  const records = Array.from({ length: 3000 }, (_, i) =>
    direct(i, {
      agent: i % 1000 === 7 ? 'rare-agent' : 'busy',
      server: 'lab',
      tool: 'list_vms',
      status: 'allowed',
    }),
  );
  await store.writeMany(records);
  const first = await store.query(
    { agent: 'rare-agent', statuses: ['allowed', 'denied'] },
    { limit: 50, scanBudget: 10 },
  );
  // The agent index is the smallest, so even a tiny budget finds these without walking the rest.
  assert.equal(first.records.length, 3);
  // Force the big index: every record matches server and status, rarely agent — a short page with a cursor.
  const short = await store.query({ server: 'lab', tool: 'list_vms' }, { limit: 5000, scanBudget: 100 });
  assert.ok(short.nextCursor, 'budget spent: a cursor to continue');
  assert.ok(short.records.length < 3000);
  const everything = await all(store, { server: 'lab', tool: 'list_vms' }, 5000, 100);
  assert.equal(everything.length, 3000);
});

test('hostile filter values are literal: they match only records named exactly so and touch no other key', async () => {
  const prefix = freshPrefix('hh');
  const store = new HistoryStore(client, prefix);
  const hostile = [
    '*',
    "'; DROP TABLE requests; --",
    `{${prefix}}`,
    `${prefix}:h:all`,
    'a\nb\r\nc',
    'x'.repeat(10_000),
    '\ud800',
    '%2A',
    'tool:denied',
  ];
  const normal = direct(1, { tool: 'start_vm' });
  const named = hostile.map((tool, i) => direct(100 + i, { tool, agent: tool, server: tool }));
  await store.writeMany([normal, ...named]);
  for (const [i, value] of hostile.entries()) {
    for (const f of [
      { tool: value },
      { agent: value },
      { server: value },
      { tool: value, statuses: [named[i]!.status] },
    ] as HistoryFilter[]) {
      const got = await all(store, f, 10);
      assert.deepEqual(
        got.map((r) => r.id),
        [named[i]!.id],
        `filter ${JSON.stringify(f).slice(0, 80)}`,
      );
    }
  }
  // Every key written lives under the prefix; values are encoded so they add no separator, hash tag or
  // line break to a key name (a `*` in a key is inert: nothing here uses key patterns).
  const keys = await client.keys('*');
  // (Other tests here share this Redis, each under its own `h?-<hex>` prefix.)
  assert.deepEqual(
    keys.filter((k) => !/^h[a-z]-[0-9a-f]{8}:/.test(k)),
    [],
    'nothing outside a prefix',
  );
  for (const k of keys.filter((k) => k.startsWith(`${prefix}:h:`))) {
    const rest = k.slice(`${prefix}:h:`.length).split(':');
    assert.ok(rest.length <= 3, `key ${k.slice(0, 80)} has no forged separators`);
    assert.doesNotMatch(rest.join(''), /[{}\n\r ]/, `key ${k.slice(0, 80)} is encoded`);
  }
});

test('retention trims old records and index entries in bounded batches; one replica at a time', async () => {
  const prefix = freshPrefix('hr');
  const store = new HistoryStore(client, prefix);
  const approvals = new ApprovalStore(client, prefix);
  const { HistoryRetention } = await import('../../src/history/history-retention.js');
  const { silentLogger } = await import('../../src/log.js');
  const now = T0 + 100 * 86_400_000;
  const day = 86_400_000;
  const old = Array.from({ length: 2500 }, (_, i) => direct(i, { createdAt: now - 91 * day - i }));
  const oldOnlyTool = direct(9, { createdAt: now - 95 * day, tool: 'only_old_tool' });
  const fresh = Array.from({ length: 30 }, (_, i) => direct(i, { createdAt: now - 89 * day + i }));
  await store.writeMany([...old, oldOnlyTool, ...fresh]);
  const oldApproval = (
    await approvals.createOrAttach(
      approval(1, { createdAt: now - 92 * day, expiresAt: now - 92 * day + 1000 }),
      'old',
    )
  ).record;
  const retention = new HistoryRetention(client, prefix, {
    retentionMs: 90 * day,
    batchSize: 100,
    logger: silentLogger,
    now: () => now,
  });
  // Another replica holds the lock: this one skips the run.
  await client.set(store.keys.retentionLock, 'other-replica', 'PX', 60_000);
  assert.equal(await retention.runOnce(), undefined);
  await client.del(store.keys.retentionLock);

  const run = await retention.runOnce();
  assert.ok(run?.complete);
  assert.equal(run.records, old.length + 2);
  assert.equal(await client.exists(`${prefix}:ar:${old[0]!.id}`), 0);
  assert.equal(await client.exists(`${prefix}:ar:${oldApproval.id}`), 0);
  assert.equal(await client.zscore(`${prefix}:pending`, oldApproval.id), null);
  const left = await all(store, {}, 500);
  assert.deepEqual(
    left.map((r) => r.id),
    [...fresh].sort(newestFirst).map((r) => r.id),
  );
  for (const key of await client.smembers(store.keys.registry)) {
    assert.equal(await client.zcount(key, '-inf', `(${now - 90 * day}`), 0, `${key} trimmed`);
  }
  assert.equal(await client.exists(store.keys.tool('only_old_tool')), 0);
  assert.equal(
    await client.sismember(store.keys.registry, store.keys.tool('only_old_tool')),
    0,
    'empty index forgotten',
  );
  assert.equal(await client.exists(store.keys.retentionLock), 0, 'lock released');
  // Idempotent: nothing left to do.
  assert.deepEqual(await retention.runOnce(), { records: 0, entries: 0, complete: true });
});

test('records carry the retention TTL', async () => {
  const prefix = freshPrefix('hl');
  const store = new HistoryStore(client, prefix, { recordTtlMs: 3_600_000 });
  const r = direct(1);
  await store.writeMany([r]);
  const ttl = await client.pttl(`${prefix}:ar:${r.id}`);
  assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `ttl ${ttl}`);
});
