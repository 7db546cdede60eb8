// The test balancer itself: strict per-request rotation, a refused backend skipped, a request that reached
// a backend never sent again, and SSE relayed event by event.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../helpers/redis.js';
import { BACKEND_HEADER, startRoundRobin, type RoundRobin } from '../helpers/round-robin.js';

const servers: Server[] = [];
const balancers: RoundRobin[] = [];

after(async () => {
  await Promise.all(balancers.map((b) => b.stop()));
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** A backend answering with `handler`, counting the requests that reached it. */
async function backend(
  handler: (req: IncomingMessage, res: ServerResponse) => void = (req, res) => {
    req.resume();
    req.on('end', () => res.end(`${req.method} ${req.url}`));
  },
): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits };
}

async function balance(urls: string[]): Promise<RoundRobin> {
  const lb = await startRoundRobin(urls);
  balancers.push(lb);
  return lb;
}

test('each request goes to the next backend in turn, whatever the client', async () => {
  const bs = await Promise.all([backend(), backend(), backend()]);
  const lb = await balance(bs.map((b) => b.url));
  const served: string[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${lb.url}/x?i=${i}`, { method: 'POST', body: `body ${i}` });
    assert.equal(await res.text(), `POST /x?i=${i}`);
    served.push(res.headers.get(BACKEND_HEADER)!);
  }
  assert.deepEqual(served, [...bs.map((b) => b.url), ...bs.map((b) => b.url)]);
});

test('a backend that refuses the connection is skipped; the request runs on the next one', async () => {
  const up = await backend();
  const down = `http://127.0.0.1:${await freePort()}`;
  const lb = await balance([down, up.url]);
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${lb.url}/`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get(BACKEND_HEADER), up.url);
  }
  assert.equal(up.hits(), 3);
  assert.ok(lb.stats.refused >= 1);
});

test('a request that reached a backend which then died is a 502, never sent again', async () => {
  const dying = await backend((req) => req.socket.destroy());
  const healthy = await backend();
  const lb = await balance([dying.url, healthy.url]);
  const res = await fetch(`${lb.url}/call`, { method: 'POST', body: 'once' });
  assert.equal(res.status, 502);
  assert.equal(dying.hits(), 1);
  assert.equal(healthy.hits(), 0, 'not retried elsewhere');
  assert.equal(lb.stats.badGateway, 1);
});

test('an SSE response is relayed event by event, and a backend dying mid-stream cuts it', async () => {
  let finish!: () => void;
  const streaming = await backend((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"n":1}\n\n');
    finish = () => res.socket?.destroy();
  });
  const lb = await balance([streaming.url]);
  const res = await fetch(`${lb.url}/mcp`, { method: 'POST', body: '{}' });
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.equal(first, 'data: {"n":1}\n\n', 'the first event arrives while the stream is open');
  finish();
  await assert.rejects(async () => {
    for (;;) if ((await reader.read()).done) break;
  }, 'the client sees the cut');
});
