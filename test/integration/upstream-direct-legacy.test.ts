import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AirlockError } from '../../src/core/errors.js';
import type { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import type { UpstreamRequestOptions } from '../../src/upstream/types.js';
import type { FrontProxy, SeenRequest } from '../helpers/front-proxy.js';
import { FrontedUpstream, headersOf, idOf, normalised, textOf } from '../helpers/direct-leg.js';
import { waitForState, type RecordingHooks } from '../fixtures/upstreams/harness.js';

// The direct HTTP leg on a 2025-era session (src/upstream/direct-http.ts): a tools/call of an agent that
// declared none of the capabilities Airlock relays goes through it, any other call through the SDK
// client. A front in between records what Airlock sends and answers chosen calls itself. WHATWG fetch
// (the SDK client's) sends `sec-fetch-mode` on every request; the leg's undici pool never does, which is
// how a test tells which way a call went.

/** A 2025 agent that cannot be asked anything: its calls take the direct leg. */
const DIRECT: UpstreamRequestOptions = { clientCapabilities: {} };
/** A 2025 agent that can be asked: its calls keep the SDK client. */
const VIA_SDK: UpstreamRequestOptions = { clientCapabilities: { elicitation: {} } };
const ANY = z.looseObject({});
const viaFetch = (r: SeenRequest) => 'sec-fetch-mode' in r.headers;

const MCP_HEADERS = [
  'accept',
  'content-type',
  'mcp-protocol-version',
  'mcp-session-id',
  'mcp-method',
  'mcp-name',
  'authorization',
  'x-trace',
];
const mcpHeaders = headersOf(MCP_HEADERS);

/** What a rejection carried, for comparing the two paths' errors. */
async function failure(call: Promise<unknown>): Promise<{ name: string; code: unknown; message: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as { code?: unknown; message: string };
    return { name: (err as Error).constructor.name, code: e.code, message: e.message };
  }
  assert.fail('the call did not fail');
}

describe('the direct HTTP leg on a 2025-era session', () => {
  let fx: FrontedUpstream;
  let front: FrontProxy;
  let conn: UpstreamConnection;
  let hooks: RecordingHooks;

  before(async () => {
    fx = await FrontedUpstream.start('legacy');
    ({ front, conn, hooks } = fx);
  });
  after(() => fx?.stop());

  it('sends exactly what the SDK client sends on the session, and its ids follow the client’s', async () => {
    await fx.withSession(async (session) => {
      assert.ok(session.direct?.legacy);
      const params = { name: 'test_simple_text', arguments: {}, _meta: { 'example.com/trace': 't-1' } };
      for (const onprogress of [() => {}, undefined]) {
        const before = front.seen.length;
        const viaSdk = await session.client.request({ method: 'tools/call', params }, ANY, {
          ...(onprogress && { onprogress }),
        });
        const direct = await session.direct.request('tools/call', params, {
          timeoutMs: 10_000,
          ...(onprogress && { onprogress }),
        });
        assert.deepEqual(direct, viaSdk);
        const [sdkReq, directReq] = front.seen
          .slice(before)
          .filter((r) => r.body?.['method'] === 'tools/call');
        assert.ok(sdkReq && directReq);
        assert.ok(viaFetch(sdkReq) && !viaFetch(directReq));
        assert.equal(normalised(directReq), normalised(sdkReq));
        assert.deepEqual(mcpHeaders(directReq), mcpHeaders(sdkReq));
        assert.equal(
          directReq.headers['mcp-session-id'],
          (session.upstream.transport as { sessionId?: string }).sessionId,
        );
        assert.equal(
          directReq.headers['mcp-protocol-version'],
          session.client.getNegotiatedProtocolVersion(),
        );
        assert.equal(directReq.headers['mcp-method'], undefined);
        // One id space per session: the leg's id is the client's next one.
        assert.equal(idOf(directReq), Number(idOf(sdkReq)) + 1);
        const meta = (directReq.body!['params'] as { _meta: Record<string, unknown> })._meta;
        assert.equal(meta['progressToken'], onprogress ? idOf(directReq) : undefined);
        assert.equal(meta['example.com/trace'], 't-1');
      }
    });
  });

  it('takes the direct leg only for an agent that cannot be asked anything', async () => {
    await conn.callTool({ name: 'test_simple_text' }, DIRECT);
    assert.equal(viaFetch(front.calls('test_simple_text').at(-1)!), false);
    for (const caps of [{ elicitation: {} }, { sampling: {} }, { roots: {} }]) {
      await conn.callTool({ name: 'test_simple_text' }, { clientCapabilities: caps });
      assert.equal(viaFetch(front.calls('test_simple_text').at(-1)!), true);
    }
    await conn.callTool({ name: 'test_simple_text' }, {});
    assert.equal(viaFetch(front.calls('test_simple_text').at(-1)!), true);
  });

  it('delivers progress as it comes and resolves with the result', async () => {
    const progress: Progress[] = [];
    const result = await conn.callTool(
      { name: 'test_tool_with_progress' },
      { ...DIRECT, onprogress: (p) => progress.push(p) },
    );
    assert.equal(textOf(result), 'Progress tool finished');
    assert.equal(viaFetch(front.calls('test_tool_with_progress').at(-1)!), false);
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
    front.answers.set('slow_reporter', async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const token = (req.body!['params'] as { _meta: { progressToken: unknown } })._meta.progressToken;
      for (const progress of [1, 2, 3]) {
        await new Promise((r) => setTimeout(r, 150));
        const note = {
          jsonrpc: '2.0',
          method: 'notifications/progress',
          params: { progressToken: token, progress },
        };
        res.write(`data: ${JSON.stringify(note)}\n\n`);
      }
      const answer = {
        jsonrpc: '2.0',
        id: idOf(req),
        result: { content: [{ type: 'text', text: 'still here' }] },
      };
      res.end(`data: ${JSON.stringify(answer)}\n\n`);
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
    const before = hooks.notifications.length;
    hooks.onNotify = (_server, n) => {
      if (n.method === 'notifications/message' && !finished) openWhenLogged++;
    };
    const result = await conn.callTool({ name: 'test_tool_with_logging' }, DIRECT);
    finished = true;
    hooks.onNotify = undefined;
    assert.equal(textOf(result), 'Logging tool finished');
    assert.equal(viaFetch(front.calls('test_tool_with_logging').at(-1)!), false);
    const logs = hooks.notifications
      .slice(before)
      .filter((n) => n.notification.method === 'notifications/message');
    assert.deepEqual(
      logs.map((n) => (n.notification.params as { data: unknown }).data),
      ['Tool execution started', 'Tool processing data', 'Tool execution completed'],
    );
    assert.equal(openWhenLogged, 3);
  });

  it("answers the upstream's elicitation during a call through the connection's request handler", async () => {
    const asked = hooks.requests.length;
    const result = await conn.callTool({ name: 'test_elicitation', arguments: { message: 'Who?' } }, DIRECT);
    assert.match(textOf(result), /Ada Lovelace/);
    assert.deepEqual(
      hooks.requests.slice(asked).map((r) => r.request.method),
      ['elicitation/create'],
    );
    const call = front.calls('test_elicitation').at(-1)!;
    assert.equal(viaFetch(call), false);
    const reply = front.seen.find((r) => r.body?.['result'] !== undefined && !viaFetch(r))!;
    assert.ok(reply, 'the answer was POSTed by the leg');
    assert.equal(reply.headers['mcp-session-id'], call.headers['mcp-session-id']);
    assert.deepEqual(reply.body!['result'], {
      action: 'accept',
      content: { name: 'Ada Lovelace', check: true },
    });
  });

  it("gives the upstream's errors exactly as the SDK path does", async () => {
    front.answers.set('rpc_error', (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: idOf(req), error: { code: -32001, message: 'no way' } }));
      return true;
    });
    front.answers.set('http_500', (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
      return true;
    });
    for (const tool of ['rpc_error', 'http_500', 'test_error_handling']) {
      const direct = await failure(conn.callTool({ name: tool }, DIRECT).then(assertNotToolError));
      const sdk = await failure(conn.callTool({ name: tool }, VIA_SDK).then(assertNotToolError));
      assert.deepEqual(direct, sdk, tool);
      const [a, b] = front.calls(tool).slice(-2);
      assert.ok(!viaFetch(a!) && viaFetch(b!));
    }
    assert.ok((await failure(conn.callTool({ name: 'rpc_error' }, DIRECT))).name === McpError.name);
  });

  it('times a silent call out with the SDK path’s error, and tells the upstream it is cancelled', async () => {
    front.answers.set('silent', () => new Promise<boolean>(() => {}));
    const direct = await failure(conn.callTool({ name: 'silent' }, { ...DIRECT, timeoutMs: 80 }));
    const sent = front.calls('silent').at(-1)!;
    const cancelled = await front.next(
      (r) => r.body?.['method'] === 'notifications/cancelled' && paramsOf(r)['requestId'] === idOf(sent),
    );
    assert.equal(viaFetch(cancelled), false);
    assert.equal(cancelled.headers['mcp-session-id'], sent.headers['mcp-session-id']);
    const sdk = await failure(conn.callTool({ name: 'silent' }, { ...VIA_SDK, timeoutMs: 80 }));
    assert.deepEqual(direct, sdk);
    assert.match(direct.message, /did not answer tools\/call within 0\.08 s/);
    const sdkSent = front.calls('silent').at(-1)!;
    const sdkCancelled = await front.next(
      (r) => r.body?.['method'] === 'notifications/cancelled' && paramsOf(r)['requestId'] === idOf(sdkSent),
    );
    assert.deepEqual(paramsOf(cancelled)['reason'], paramsOf(sdkCancelled)['reason']);
  });

  it("cancels on the caller's abort: its reason back, notifications/cancelled upstream", async () => {
    front.answers.set('held', () => new Promise<boolean>(() => {}));
    const control = new AbortController();
    const call = conn.callTool({ name: 'held' }, { ...DIRECT, signal: control.signal });
    const sent = await front.next((r) => front.calls('held').includes(r));
    control.abort(new Error('the agent cancelled'));
    await assert.rejects(call, /the agent cancelled/);
    const cancelled = await front.next(
      (r) => r.body?.['method'] === 'notifications/cancelled' && paramsOf(r)['requestId'] === idOf(sent),
    );
    assert.equal(paramsOf(cancelled)['reason'], 'Error: the agent cancelled');
    await sent.abandoned;
  });

  it('a session the upstream forgot (404) reconnects, with the SDK path’s error to the caller', async () => {
    front.answers.set('expired', (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }),
      );
      return true;
    });
    const direct = await failure(conn.callTool({ name: 'expired' }, DIRECT));
    await waitForState(conn, 'ready');
    const sdk = await failure(conn.callTool({ name: 'expired' }, VIA_SDK));
    await waitForState(conn, 'ready');
    assert.deepEqual(direct, sdk);
    assert.equal(direct.name, AirlockError.name);
    assert.equal(direct.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(
      textOf(await conn.callTool({ name: 'test_simple_text' }, DIRECT)),
      'This is a simple text response for testing.',
    );
  });
});

function paramsOf(r: SeenRequest): Record<string, unknown> {
  return (r.body?.['params'] ?? {}) as Record<string, unknown>;
}

/** A tool error result is turned into a failure so that both paths' answers compare alike. */
function assertNotToolError(result: { isError?: boolean; content?: unknown }): never {
  throw new Error(`tool result: ${JSON.stringify(result)}`);
}
