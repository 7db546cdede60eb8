import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { McpError, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AirlockError } from '../../src/core/errors.js';
import type { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { MAX_ANSWER_BYTES } from '../../src/upstream/direct-http.js';
import type { UpstreamRequestOptions } from '../../src/upstream/types.js';
import type { FrontProxy, SeenRequest } from '../helpers/front-proxy.js';
import { FrontedUpstream, headersOf, idOf, normalised, textOf } from '../helpers/direct-leg.js';
import { waitForState, type RecordingHooks } from '../fixtures/upstreams/harness.js';

// The direct HTTP leg to a 2026-07-28 upstream (src/upstream/direct-http.ts): calls that take their
// `input_required` answers themselves go through it, every other call through the SDK client. A front in
// between records what Airlock sends and answers chosen calls as a broken or hostile upstream would.

/** A caller that takes input_required answers itself (a 2026-07-28 agent's call, a task). */
const DIRECT: UpstreamRequestOptions = { allowInputRequired: true };
const ANY = z.looseObject({});

function isAirlock(code: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof AirlockError, `expected AirlockError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  };
}

const MCP_HEADERS = [
  'accept',
  'content-type',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'authorization',
  'x-trace',
];
const mcpHeaders = headersOf(MCP_HEADERS);

/** Writes one SSE event. */
const sse = (res: ServerResponse, message: unknown, id?: string) =>
  res.write(`${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(message)}\n\n`);
const complete = (id: unknown, text: string) => ({
  jsonrpc: '2.0',
  id,
  result: { resultType: 'complete', content: [{ type: 'text', text }] },
});

describe('the direct HTTP leg to a 2026-07-28 upstream', () => {
  let fx: FrontedUpstream;
  let front: FrontProxy;
  let conn: UpstreamConnection;
  let hooks: RecordingHooks;

  before(async () => {
    fx = await FrontedUpstream.start('modern');
    ({ front, conn, hooks } = fx);
  });
  after(() => fx?.stop());

  it('sends exactly what the SDK client sends: the envelope, the own _meta, the headers', async () => {
    // One session, both legs: the SDK client's request and the direct leg's for the same params.
    await fx.withSession(async (session) => {
      assert.ok(session.direct);
      for (const [method, params] of [
        ['tools/call', { name: 'greet', arguments: { name: 'Ada' }, _meta: { 'example.com/trace': 't-1' } }],
        ['resources/read', { uri: 'test://static-text' }],
        ['prompts/get', { name: 'test_simple_prompt' }],
      ] as const) {
        const before = front.seen.length;
        const viaSdk = await session.client.request({ method, params }, ANY, { onprogress: () => {} });
        const direct = await session.direct.request(method, params, {
          timeoutMs: 10_000,
          onprogress: () => {},
        });
        assert.deepEqual(direct, viaSdk);
        const [sdkReq, directReq] = front.seen
          .slice(before)
          .filter((r) => r.headers['mcp-method'] === method);
        assert.ok(sdkReq && directReq, method);
        assert.equal(normalised(directReq), normalised(sdkReq));
        assert.deepEqual(mcpHeaders(directReq), mcpHeaders(sdkReq));
        assert.equal(directReq.headers['accept'], 'application/json, text/event-stream');
        assert.equal(directReq.headers['authorization'], 'Bearer t0k');
        // The progress token is the request's id, as the SDK's.
        const meta = (directReq.body!['params'] as { _meta: Record<string, unknown> })._meta;
        assert.equal(meta['progressToken'], idOf(directReq));
      }
    });
  });

  it("relays the agent's capabilities and log level in the call's _meta", async () => {
    const result = await conn.callTool(
      { name: 'greet', arguments: { name: 'Bo' } },
      { clientCapabilities: { elicitation: {}, experimental: { x: {} } }, logLevel: 'info' },
    );
    assert.equal(textOf(result), 'Hello, Bo!');
    const sent = front.calls('greet').at(-1)!;
    const meta = (sent.body!['params'] as { _meta: Record<string, unknown> })._meta;
    assert.deepEqual(meta['io.modelcontextprotocol/clientCapabilities'], { elicitation: {} });
    assert.equal(meta['io.modelcontextprotocol/logLevel'], 'info');
    assert.equal(sent.headers['mcp-name'], 'greet');
  });

  it('delivers progress as it comes and resolves with the result', async () => {
    const progress: Progress[] = [];
    const result = await conn.callTool(
      { name: 'test_tool_with_progress' },
      { ...DIRECT, onprogress: (p) => progress.push(p) },
    );
    assert.equal(textOf(result), 'Progress tool finished');
    assert.deepEqual(
      progress.map((p) => [p.progress, p.total]),
      [
        [0, 100],
        [50, 100],
        [100, 100],
      ],
    );
  });

  it('keeps a call alive while it reports progress, past its timeout', async () => {
    // Three reports 150 ms apart with a 400 ms timeout: the whole call takes longer than the timeout, and
    // each gap leaves 250 ms of slack for a loaded machine. The timer paces the fake upstream; it waits for nothing.
    front.answers.set('slow_reporter', async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const token = (req.body!['params'] as { _meta: { progressToken: unknown } })._meta.progressToken;
      for (const progress of [1, 2, 3]) {
        await new Promise((r) => setTimeout(r, 150));
        sse(res, {
          jsonrpc: '2.0',
          method: 'notifications/progress',
          params: { progressToken: token, progress },
        });
      }
      sse(res, complete(idOf(req), 'still here'));
      res.end();
      return true;
    });
    const seen: number[] = [];
    const result = await conn.callTool(
      { name: 'slow_reporter' },
      { ...DIRECT, timeoutMs: 400, onprogress: (p) => seen.push(p.progress) },
    );
    assert.equal(textOf(result), 'still here');
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('hands log messages to the connection hooks while the call is still open', async () => {
    let openWhenLogged = 0;
    let finished = false;
    hooks.onNotify = (_server, n) => {
      if (n.method === 'notifications/message' && !finished) openWhenLogged++;
    };
    const result = await conn.callTool({ name: 'test_logging_tool' }, { ...DIRECT, logLevel: 'info' });
    finished = true;
    hooks.onNotify = undefined;
    assert.equal(textOf(result), 'Logging tool finished');
    const logs = hooks.notifications.filter((n) => n.notification.method === 'notifications/message');
    assert.deepEqual(
      logs.map((n) => (n.notification.params as { data: unknown }).data),
      ['Tool execution started', 'Tool processing data', 'Tool execution completed'],
    );
    assert.equal(openWhenLogged, 3);
  });

  it('passes an input_required answer through, and the retry with the answers completes', async () => {
    const first = (await conn.callTool({ name: 'test_input_required_result_elicitation' }, DIRECT)) as Record<
      string,
      unknown
    >;
    assert.equal(first['resultType'], 'input_required');
    const asks = first['inputRequests'] as Record<string, { method: string }>;
    assert.equal(asks['user_name']?.method, 'elicitation/create');
    const second = await conn.callTool(
      {
        name: 'test_input_required_result_elicitation',
        inputResponses: { user_name: { action: 'accept', content: { name: 'Ada' } } },
        ...(typeof first['requestState'] === 'string' && { requestState: first['requestState'] }),
      },
      DIRECT,
    );
    assert.equal(textOf(second), 'Hello, Ada!');
    assert.equal((second as Record<string, unknown>)['resultType'], undefined);
  });

  it("gives an upstream's JSON-RPC error as its McpError, code and message unchanged", async () => {
    await assert.rejects(conn.callTool({ name: 'protocol_error_job' }, DIRECT), (err: unknown) => {
      assert.ok(err instanceof McpError);
      assert.equal(err.code, -32603);
      assert.equal(err.message, 'MCP error -32603: protocol_error_job failed on purpose');
      return true;
    });
  });

  it('asks the agent for a caller that does not take input_required, and calls again with the answers', async () => {
    const progress: Progress[] = [];
    const asked = hooks.requests.length;
    const result = await conn.callTool(
      { name: 'test_input_required_result_elicitation' },
      { onprogress: (p) => progress.push(p) },
    );
    assert.equal(textOf(result), 'Hello, Ada Lovelace!');
    const question = hooks.requests.slice(asked).map((r) => r.request);
    assert.deepEqual(
      question.map((q) => [q.method, q.params?.['message']]),
      [['elicitation/create', 'What is your name?']],
    );
    const retry = front.calls('test_input_required_result_elicitation').at(-1)!;
    assert.deepEqual((retry.body!['params'] as Record<string, unknown>)['inputResponses'], {
      user_name: { action: 'accept', content: { name: 'Ada Lovelace', check: true } },
    });
    // The SDK client reports each round as progress; so does the direct leg.
    assert.deepEqual(progress, [
      { progress: 1, message: "Fulfilling input required by 'tools/call' (round 1)" },
    ]);
  });

  it('runs several rounds of questions until the call completes', async () => {
    const asked = hooks.requests.length;
    const result = await conn.callTool({ name: 'test_input_required_result_multi_round' });
    assert.equal(textOf(result), 'Done: name=Ada Lovelace, color=undefined');
    assert.equal(hooks.requests.length - asked, 2);
    assert.ok(!('resultType' in result));
  });

  it('refuses a question that is not one the revision lets an upstream ask', async () => {
    front.answers.set('odd_question', (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const result = { resultType: 'input_required', inputRequests: { q: { method: 'tools/list' } } };
      res.end(JSON.stringify({ jsonrpc: '2.0', id: idOf(req), result }));
      return true;
    });
    await assert.rejects(
      conn.callTool({ name: 'odd_question' }),
      isAirlock('UPSTREAM_ERROR', /Invalid input request 'q'/),
    );
  });

  it('times out a silent call with the timeout error', async () => {
    await assert.rejects(
      conn.callTool({ name: 'slow_compute', arguments: { seconds: 30 } }, { ...DIRECT, timeoutMs: 150 }),
      isAirlock('UPSTREAM_ERROR', /^Upstream server "up" did not answer tools\/call within 0\.15 s$/),
    );
  });

  it("cancels by closing the request's stream, and gives the caller its own reason", async () => {
    const abort = new AbortController();
    const call = conn.callTool(
      { name: 'slow_compute', arguments: { seconds: 30, label: 'cancel-me' } },
      { ...DIRECT, signal: abort.signal },
    );
    const seen = await front.next(
      (r) => (r.body?.['params'] as { arguments?: { label?: string } })?.arguments?.label === 'cancel-me',
    );
    const reason = new Error('the agent cancelled');
    abort.abort(reason);
    await assert.rejects(call, (err: unknown) => err === reason);
    await seen.abandoned;
    // The era cancels by closing the stream: no notifications/cancelled is posted.
    assert.equal(front.seen.filter((r) => r.body?.['method'] === 'notifications/cancelled').length, 0);
  });

  it('resumes a stream that ends before its answer from its last event id', async () => {
    let posted: SeenRequest | undefined;
    front.answers.set('resumable', (req, res) => {
      posted = req;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('id: ev-1\nretry: 10\ndata: \n\n');
      return true;
    });
    front.onGet = (req, res) => {
      assert.equal(req.headers['last-event-id'], 'ev-1');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, complete(idOf(posted!), 'resumed'), 'ev-2');
      res.end();
      return true;
    };
    try {
      assert.equal(textOf(await conn.callTool({ name: 'resumable' }, DIRECT)), 'resumed');
    } finally {
      front.onGet = undefined;
    }
  });

  describe('hostile answers give a clear error, never a hang', () => {
    const hostile = (tool: string, answer: (req: SeenRequest, res: ServerResponse) => void) => {
      front.answers.set(tool, (req, res) => {
        answer(req, res);
        return true;
      });
      return conn.callTool({ name: tool }, DIRECT);
    };

    it('a body larger than the limit', async () => {
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      await assert.rejects(
        hostile('huge', (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          const write = (n: number): void => {
            if (n === 0 || res.destroyed) return void res.end();
            if (res.write(chunk)) write(n - 1);
            else res.once('drain', () => write(n - 1));
          };
          write(MAX_ANSWER_BYTES / chunk.length + 2);
        }),
        isAirlock('UPSTREAM_ERROR', /failed tools\/call: answered with more than 33554432 bytes/),
      );
    });

    it('a body that is not JSON', async () => {
      await assert.rejects(
        hostile('not_json', (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' }).end('<html>oops</html>');
        }),
        isAirlock('UPSTREAM_ERROR', /answered with a body that is not JSON: <html>oops<\/html>/),
      );
    });

    it('garbage on the event stream', async () => {
      await assert.rejects(
        hostile('garbage_sse', (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: {{{ not json\n\n');
        }),
        isAirlock('UPSTREAM_ERROR', /sent an event that is not JSON: \{\{\{ not json/),
      );
    });

    it('an event that never ends', async () => {
      await assert.rejects(
        hostile('endless_event', (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const line = `data: ${'x'.repeat(1024 * 1024)}\n`;
          const write = (n: number): void => {
            if (n === 0 || res.destroyed) return;
            if (res.write(line)) write(n - 1);
            else res.once('drain', () => write(n - 1));
          };
          write(40);
        }),
        isAirlock('UPSTREAM_ERROR', /an event is longer than/),
      );
    });

    it('a response to another request', async () => {
      await assert.rejects(
        hostile('wrong_id', (req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(complete(Number(idOf(req)) + 1000, 'not yours')));
        }),
        isAirlock('UPSTREAM_ERROR', /answered request \d+ with the response to \d+/),
      );
    });

    it('a stream that closes without an answer', async () => {
      await assert.rejects(
        hostile('no_answer', (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' }).end(': nothing\n\n');
        }),
        isAirlock('UPSTREAM_ERROR', /closed its event stream without answering request/),
      );
    });

    it('a result without resultType', async () => {
      await assert.rejects(
        hostile('no_result_type', (req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: idOf(req), result: { content: [] } }));
        }),
        isAirlock('UPSTREAM_ERROR', /missing required resultType/),
      );
    });

    it('an HTTP error', async () => {
      await assert.rejects(
        hostile('http_500', (_req, res) => {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
        }),
        isAirlock('UPSTREAM_ERROR', /failed tools\/call: Error POSTing to endpoint: boom/),
      );
    });

    it('a dropped connection makes the upstream unavailable until it reconnects', async () => {
      await assert.rejects(
        hostile('drop', (_req, res) => res.socket?.destroy()),
        isAirlock('UPSTREAM_UNAVAILABLE', /is unavailable \(reconnecting after fetch failed/),
      );
      await waitForState(conn, 'ready');
      assert.equal(
        textOf(await conn.callTool({ name: 'greet', arguments: { name: 'again' } }, DIRECT)),
        'Hello, again!',
      );
    });

    it('a 503 makes the upstream unavailable until it reconnects', async () => {
      await assert.rejects(
        hostile('http_503', (_req, res) => {
          res.writeHead(503).end();
        }),
        isAirlock('UPSTREAM_UNAVAILABLE'),
      );
      await waitForState(conn, 'ready');
      assert.equal(textOf(await conn.callTool({ name: 'greet' }, DIRECT)), 'Hello, World!');
    });
  });
});
