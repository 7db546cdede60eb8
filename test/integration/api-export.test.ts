import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { startRedis, freshPrefix, freePort, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { HistoryStore } from '../../src/history/history-store.js';
import type { DecisionRecord, DirectStatus } from '../../src/history/history-record.js';
import { newRequestId } from '../../src/core/approval/request-id.js';
import { exportHandler, EXPORT_PAGE_SIZE } from '../../src/http/api/requests-export.js';
import { EXPORT_COLUMNS } from '../../src/http/api/export-columns.js';
import { reviewerAuth } from '../../src/http/api/requests-router.js';
import { apiRouter } from '../../src/http/api/api-router.js';
import { RequestEvents } from '../../src/history/request-events.js';
import { errorHandler } from '../../src/http/http-app.js';
import { TokenAuth } from '../../src/http/auth.js';
import { createRedis } from '../../src/redis/connection.js';
import { silentLogger } from '../../src/log.js';
import { parseCsv } from '../helpers/csv.js';

const ALICE = 'alice-token-0123456789abcdef';
let redis: TestRedis;
let client: Redis;
let gw: TestAirlock;
let store: HistoryStore;

const T0 = Date.UTC(2025, 5, 1, 12);
const STATUSES: DirectStatus[] = ['allowed', 'denied', 'rate_limited', 'invalid', 'error'];

function record(i: number, extra: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    id: newRequestId(),
    createdAt: T0 + i,
    server: 'lab',
    tool: ['list_vms', 'health_checks'][i % 2]!,
    agent: 'ci-bot',
    args: { vm_name: `vm-${i}` },
    rule: 'lab/list_vms',
    status: STATUSES[i % 5]!,
    responseMs: 2,
    version: 1,
    ...extra,
  };
}

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: { reviewers: [{ id: 'alice', token: ALICE }] },
    policies: { lab: { version: '1', default: 'deny', tools: {} } },
  });
  store = new HistoryStore(client, gw.prefix);
});
after(async () => {
  await gw?.stop();
  client?.disconnect();
  await redis?.stop();
});

async function get(path: string) {
  const res = await fetch(`${gw.url}/api${path}`, { headers: { authorization: `Bearer ${ALICE}` } });
  return { res, text: await res.text() };
}

test('CSV export: RFC 4180 escaping, formula guard, filters, one row per record', async () => {
  const evil = record(1_000_000, {
    tool: '=HYPERLINK("http://evil.example","click")',
    agent: '+agent',
    server: '-srv',
    reason: '@SUM(A1:A9), "quoted"\nsecond line',
    code: 'POLICY_DENIED',
    status: 'denied',
    args: { note: 'a,b "c"\r\nd', password: 'hunter2' },
  });
  const tab = record(1_000_001, { reason: '\tcmd', status: 'error' });
  const fine = record(1_000_002, {
    status: 'allowed',
    tool: 'list_vms',
    execution: { startedAt: T0 + 1_000_003, finishedAt: T0 + 1_000_010, isError: false },
  });
  await store.writeMany([evil, tab, fine]);
  const { res, text } = await get(`/requests/export?format=csv&since=${T0 + 1_000_000}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/csv; charset=utf-8/);
  assert.match(res.headers.get('content-disposition')!, /^attachment; filename="airlock-requests-.+\.csv"$/);
  assert.ok(text.endsWith('\r\n'));
  assert.ok(
    text.includes('"\'=HYPERLINK(""http://evil.example"",""click"")"'),
    'quoted, doubled quotes, guarded',
  );
  const rows = parseCsv(text);
  const header = rows[0]!;
  assert.deepEqual(
    header,
    EXPORT_COLUMNS.map(([name]) => name),
  );
  assert.equal(rows.length, 4);
  const col = (row: string[], name: string) => row[header.indexOf(name)];
  const [r1, r2, r3] = rows.slice(1) as [string[], string[], string[]];
  assert.deepEqual([col(r1, 'id'), col(r2, 'id'), col(r3, 'id')], [fine.id, tab.id, evil.id], 'newest first');
  assert.equal(col(r3, 'tool'), '\'=HYPERLINK("http://evil.example","click")');
  assert.equal(col(r3, 'agent'), "'+agent");
  assert.equal(col(r3, 'server'), "'-srv");
  assert.equal(col(r3, 'reason'), '\'@SUM(A1:A9), "quoted"\nsecond line');
  assert.equal(col(r2, 'reason'), "'\tcmd");
  assert.equal(col(r3, 'kind'), 'direct');
  assert.deepEqual(JSON.parse(col(r3, 'args')!), { note: 'a,b "c"\r\nd', password: '[REDACTED]' });
  assert.equal(col(r3, 'createdAt'), new Date(evil.createdAt).toISOString());
  assert.equal(col(r1, 'executionIsError'), 'false');
  assert.equal(col(r1, 'executionFinishedAt'), new Date(T0 + 1_000_010).toISOString());
  assert.equal(text.includes('hunter2'), false);

  const filtered = parseCsv(
    (await get(`/requests/export?format=csv&status=denied&tool=${encodeURIComponent(evil.tool)}`)).text,
  );
  assert.deepEqual(
    filtered.slice(1).map((r) => col(r, 'id')),
    [evil.id],
  );
});

test('JSON export streams every page: the same records, in the same order, as paging the list API', async () => {
  const prefixStore = store;
  const many = Array.from({ length: EXPORT_PAGE_SIZE * 2 + 137 }, (_, i) => record(i, { agent: 'bulk' }));
  await prefixStore.writeMany(many);
  const { res, text } = await get('/requests/export?format=json&agent=bulk');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^application\/json/);
  const exported = JSON.parse(text) as { id: string; kind: string }[];
  assert.equal(exported.length, many.length);
  const listed: { id: string }[] = [];
  let cursor: string | undefined;
  do {
    const page = JSON.parse(
      (await get(`/requests?agent=bulk&limit=500${cursor ? `&cursor=${cursor}` : ''}`)).text,
    );
    listed.push(...page.requests);
    cursor = page.nextCursor;
  } while (cursor);
  assert.deepEqual(exported, listed);
  const empty = await get('/requests/export?format=json&agent=nobody');
  assert.deepEqual(JSON.parse(empty.text), []);
  const csvCount =
    parseCsv((await get('/requests/export?format=csv&agent=bulk&status=allowed')).text).length - 1;
  assert.equal(csvCount, many.filter((r) => r.status === 'allowed').length);
});

test('a client that disconnects mid-export stops the export: no more pages are read', async () => {
  const prefix = freshPrefix('ex');
  const big = new HistoryStore(client, prefix);
  const total = 40_000;
  for (let i = 0; i < total; i += 2000) {
    await big.writeMany(
      Array.from({ length: 2000 }, (_, j) => record(i + j, { args: { pad: 'p'.repeat(200) } })),
    );
  }
  let pagesRead = 0;
  const counting = Object.create(big) as HistoryStore;
  counting.pages = async function* (filter, size) {
    for await (const page of big.pages(filter, size)) {
      pagesRead++;
      yield page;
    }
  };
  let finished!: () => void;
  const handlerDone = new Promise<void>((r) => (finished = r));
  const app = express();
  const handler = exportHandler(counting, silentLogger);
  app.get('/export', async (req, res) => {
    try {
      await handler(req, res);
    } finally {
      finished();
    }
  });
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  try {
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ port, host: '127.0.0.1', path: '/export?format=csv' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) =>
        err.message.includes('aborted') || (err as NodeJS.ErrnoException).code === 'ECONNRESET'
          ? resolve()
          : reject(err),
      );
      req.end();
    });
    await handlerDone;
    const allPages = Math.ceil(total / EXPORT_PAGE_SIZE);
    assert.ok(pagesRead < allPages / 2, `stopped early: read ${pagesRead} of ${allPages} pages`);
  } finally {
    server.close();
    server.closeAllConnections();
  }
});

test('API failures are logged without the bearer token, and answered as 503', async () => {
  const lines: string[] = [];
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  );
  const dead = createRedis({
    url: `redis://127.0.0.1:${await freePort()}`,
    cluster: false,
    logger: silentLogger,
    connectTimeoutMs: 200,
  });
  const history = new HistoryStore(dead, 'dead');
  const events = new RequestEvents({ redis: dead, subscriber: () => dead, prefix: 'dead', logger });
  const app = express();
  app.use(
    '/api',
    reviewerAuth(new TokenAuth([{ id: 'alice', token: ALICE }], undefined)),
    apiRouter({
      approvals: undefined as never,
      grants: undefined as never,
      history,
      events,
      policies: { files: () => [], get: () => undefined },
      logger,
    }),
  );
  app.use(errorHandler(logger));
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    for (const path of ['/requests', '/requests/export?format=csv', `/requests/ar_${'a'.repeat(20)}`]) {
      const res = await fetch(base + path, { headers: { authorization: `Bearer ${ALICE}` } });
      assert.equal(res.status, 503, path);
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'REDIS_UNAVAILABLE');
    }
    assert.ok(lines.length >= 3, 'the failures were logged');
    for (const line of lines) assert.equal(line.includes(ALICE), false, 'token in a log line');
  } finally {
    server.close();
    server.closeAllConnections();
    dead.disconnect();
  }
});
