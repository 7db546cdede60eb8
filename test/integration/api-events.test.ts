import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { RequestEvents, type RequestChange } from '../../src/history/request-events.js';
import { HistoryStore } from '../../src/history/history-store.js';
import { eventsRouter } from '../../src/http/api/events-router.js';
import { newRequestId } from '../../src/core/approval/request-id.js';
import { silentLogger } from '../../src/log.js';

let redis: TestRedis;
let client: Redis;
const connections: Redis[] = [];

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
after(async () => {
  for (const c of connections) c.disconnect();
  client?.disconnect();
  await redis?.stop();
});

const subscriber = () => {
  const c = new Redis(redis.url);
  connections.push(c);
  return c;
};

const direct = (tool = 'list_vms') => ({
  id: newRequestId(),
  createdAt: Date.now(),
  server: 'lab',
  tool,
  agent: 'ci-bot',
  args: {},
  rule: 'lab/list_vms',
  status: 'allowed' as const,
  responseMs: 1,
  version: 1,
});

test('a change written on one replica reaches the listeners of every replica', async () => {
  const prefix = freshPrefix('ev');
  const a = new RequestEvents({ redis: client, subscriber, prefix, logger: silentLogger });
  const b = new RequestEvents({ redis: client, subscriber, prefix, logger: silentLogger });
  const got = { a: [] as RequestChange[], b: [] as RequestChange[] };
  const both = new Promise<void>((resolve) => {
    const check = () => got.a.length && got.b.length && resolve();
    void a.listen((c) => (got.a.push(c), check()));
    void b.listen((c) => (got.b.push(c), check()));
  });
  await Promise.all([a.listen(() => {}), b.listen(() => {})]);
  const r = direct();
  await new HistoryStore(client, prefix).writeMany([r]);
  await both;
  assert.deepEqual(got.a, [{ id: r.id, status: 'allowed' }]);
  assert.deepEqual(got.b, [{ id: r.id, status: 'allowed' }]);
  a.close();
  b.close();
});

test('SSE stream: connected comment, request events, heartbeats; the listener is removed on disconnect', async () => {
  const prefix = freshPrefix('ev');
  const events = new RequestEvents({ redis: client, subscriber, prefix, logger: silentLogger });
  let removed!: () => void;
  const listenerRemoved = new Promise<void>((r) => (removed = r));
  const tracked = Object.create(events) as RequestEvents;
  tracked.listen = async (l) => {
    const off = await events.listen(l);
    return () => {
      off();
      removed();
    };
  };
  const app = express();
  app.use(eventsRouter(tracked, silentLogger, 30));
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  try {
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, {
      signal: ac.signal,
    });
    assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    const readUntil = async (pred: (s: string) => boolean) => {
      while (!pred(buf)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${buf}`);
        buf += value;
      }
    };
    await readUntil((s) => s.includes(': connected\n\n'));
    assert.equal(events.size, 1);
    const r = direct();
    await new HistoryStore(client, prefix).writeMany([r]);
    await readUntil((s) =>
      s.includes(`event: request\ndata: ${JSON.stringify({ id: r.id, status: 'allowed' })}\n\n`),
    );
    await readUntil((s) => (s.match(/: heartbeat\n\n/g) ?? []).length >= 2);
    ac.abort();
    await listenerRemoved;
    assert.equal(events.size, 0);
  } finally {
    events.close();
    server.close();
    server.closeAllConnections();
  }
});
