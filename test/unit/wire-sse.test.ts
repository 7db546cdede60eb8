import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { abortOnClientClose, chooseResponseMode, SseWriter } from '../../src/agent/wire/sse.js';

describe('chooseResponseMode', () => {
  const table: Array<[string | string[] | undefined, boolean, 'json' | 'sse' | undefined]> = [
    ['application/json, text/event-stream', true, 'sse'],
    ['application/json, text/event-stream', false, 'json'],
    ['application/json', true, 'json'],
    ['text/event-stream', false, 'sse'],
    ['text/event-stream;q=0, application/json', true, 'json'],
    ['APPLICATION/JSON; charset=utf-8', false, 'json'],
    ['*/*', true, 'sse'],
    ['text/*', false, 'sse'],
    ['application/*, text/event-stream;q=0', true, 'json'],
    [['application/json', 'text/event-stream'], true, 'sse'],
    ['text/html', true, undefined],
    ['application/json;q=0', false, undefined],
    ['', false, undefined],
    [undefined, true, undefined],
    ['garbage,,;;', true, undefined],
  ];
  for (const [accept, mayStream, expected] of table) {
    it(`${JSON.stringify(accept)} (may stream: ${mayStream}) -> ${expected}`, () => {
      assert.equal(chooseResponseMode(accept, mayStream), expected);
    });
  }
});

/** A real server on 127.0.0.1 whose handler each test swaps in. */
let server: Server;
let port = 0;
let handle: (req: IncomingMessage, res: ServerResponse) => void = () => {};

before(async () => {
  server = createServer((req, res) => handle(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

/** Opens a GET and returns the response plus a reader that waits until the body holds `text`. */
async function open(): Promise<{
  res: IncomingMessage;
  until: (text: string) => Promise<string>;
  abort: () => void;
}> {
  const req = httpRequest({ host: '127.0.0.1', port, path: '/', method: 'GET' });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  res.setEncoding('utf8');
  let body = '';
  const waiters: Array<() => void> = [];
  res.on('data', (chunk: string) => {
    body += chunk;
    for (const w of waiters.splice(0)) w();
  });
  const until = async (text: string) => {
    while (!body.includes(text)) await new Promise<void>((resolve) => waiters.push(resolve));
    return body;
  };
  return { res, until, abort: () => req.destroy() };
}

describe('SseWriter on a real node:http server', () => {
  it('sends SSE headers, messages with and without ids, comments, then ends', async () => {
    handle = (_req, res) => {
      const sse = new SseWriter(res, { keepAliveMs: 0 });
      sse.open(200, { 'X-Extra': '1' });
      sse.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1, note: 'a\nb' } });
      sse.send({ jsonrpc: '2.0', id: 1, result: {} }, 'ev-1');
      sse.comment('hi\nthere');
      sse.close();
      assert.equal(sse.send({ late: true }), false);
      assert.equal(sse.closed, true);
    };
    const { res, until } = await open();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    assert.equal(res.headers['x-accel-buffering'], 'no');
    assert.equal(res.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(res.headers['x-extra'], '1');
    const ended = once(res, 'end');
    const body = await until(':hi there');
    await ended;
    assert.equal(
      body,
      'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1,"note":"a\\nb"}}\n\n' +
        'event: message\nid: ev-1\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n' +
        ':hi there\n\n',
    );
  });

  it('writes keep-alive comments while the stream is quiet', async () => {
    let writer: SseWriter | undefined;
    handle = (_req, res) => {
      writer = new SseWriter(res, { keepAliveMs: 10 });
      writer.open();
    };
    const { until, abort } = await open();
    const body = await until(':\n\n:\n\n');
    assert.match(body, /^(:\n\n)+$/);
    abort();
    await once(writer!.signal, 'abort');
  });

  it('aborts its signal when the client closes the stream, and stops writing', async () => {
    let writer: SseWriter | undefined;
    const opened = new Promise<void>((resolve) => {
      handle = (_req, res) => {
        writer = new SseWriter(res, { keepAliveMs: 0 });
        writer.open();
        writer.send({ jsonrpc: '2.0', method: 'notifications/progress', params: {} });
        resolve();
      };
    });
    const { until, abort } = await open();
    await opened;
    await until('notifications/progress');
    assert.equal(writer!.signal.aborted, false);
    abort();
    await once(writer!.signal, 'abort');
    assert.equal(writer!.closed, true);
    assert.equal(writer!.send({ late: true }), false);
  });

  it('makes its signal on first use, already aborted when the client had gone before', async () => {
    let writer: SseWriter | undefined;
    const closed = new Promise<void>((resolve) => {
      handle = (_req, res) => {
        writer = new SseWriter(res, { keepAliveMs: 0 });
        writer.open();
        res.once('close', () => resolve());
      };
    });
    const { abort } = await open();
    abort();
    await closed;
    assert.equal(writer!.closed, true);
    assert.equal(writer!.signal.aborted, true);
    assert.equal(writer!.send({ late: true }), false);
  });

  it('does not abort when we end the stream ourselves', async () => {
    let writer: SseWriter | undefined;
    const finished = new Promise<void>((resolve) => {
      handle = (_req, res) => {
        writer = new SseWriter(res, { keepAliveMs: 0 });
        writer.open();
        res.once('close', () => resolve());
        writer.close();
      };
    });
    const { res } = await open();
    await once(res, 'end');
    await finished;
    assert.equal(writer!.signal.aborted, false);
  });

  it('refuses an event id with a line break, which would forge extra fields', () => {
    const fake = { once() {}, headersSent: true, destroyed: false } as unknown as ServerResponse;
    const sse = new SseWriter(fake, { keepAliveMs: 0 });
    assert.throws(() => sse.send({}, 'a\ndata: x'));
  });

  it('gives JSON answers the same cancellation signal', async () => {
    let signal: AbortSignal | undefined;
    const got = new Promise<void>((resolve) => {
      handle = (_req, res) => {
        signal = abortOnClientClose(res);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        resolve();
      };
    });
    const { abort } = await open();
    await got;
    abort();
    await once(signal!, 'abort');
    assert.equal(signal!.aborted, true);
  });
});
