import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { startUpstream, type UpstreamProcess } from '../helpers/conformance-upstream.js';
import { startRoundRobin, type RoundRobin } from '../helpers/round-robin.js';
import { untilChanged } from '../helpers/changes.js';
import { FastSessionCall } from '../../src/agent/session-fast-call.js';

// The hand-written answer to a 2025 session's tools/call and tools/list (src/agent/session-fast-call.ts),
// on two in-process replicas sharing one Redis: what an agent sees on the wire must be what the SDK path
// gives — the same errors for bad requests, progress, an upstream's elicitation relayed on the call's
// stream and answered through the other replica, cancellation, held calls.

const AGENT = 'ci-bot-token-0123456789abcdef';
const OTHER = 'other-token-0123456789abcdef';
const REVIEWER = 'alice-token-0123456789abcdef';
let redis: TestRedis;
let upstream: UpstreamProcess;
let a: TestAirlock;
let b: TestAirlock;
let lb: RoundRobin;
const prefix = freshPrefix('fast');

before(async () => {
  redis = await startRedis();
  upstream = await startUpstream('legacy');
  const options = {
    redisUrl: redis.url,
    prefix,
    config: {
      agents: [
        { id: 'ci-bot', token: AGENT },
        { id: 'other', token: OTHER },
      ],
      reviewers: [{ id: 'alice', token: REVIEWER }],
      servers: {
        lab: (await import('../helpers/airlock-harness.js')).labServerCommand(),
        up: { url: upstream.url },
      },
    },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          health_checks: {},
          start_vm: {
            action: 'require_approval',
            approval: { approvers: ['alice'], timeout: '2m', wait: '1m' },
          },
        },
      },
      up: { version: '1', default: 'allow' },
    },
  };
  [a, b] = await Promise.all([startTestAirlock(options), startTestAirlock(options)]);
  lb = await startRoundRobin([a.url, b.url]);
});

after(async () => {
  await lb?.stop();
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await upstream?.stop();
  await redis?.stop();
});

const until = <T>(fn: () => Promise<T | undefined>, what: string): Promise<T> =>
  untilChanged({ redisUrl: redis.url, prefix }, fn, what);

async function api(gw: TestAirlock, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gw.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${REVIEWER}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};

/** One POST to /mcp; the answer's messages come as they arrive, from a JSON body or an SSE stream. */
async function open(
  gw: TestAirlock,
  session: string | undefined,
  body: unknown,
  o: { token?: string; headers?: Record<string, string | undefined>; signal?: AbortSignal } = {},
) {
  const headers: Record<string, string> = { authorization: `Bearer ${o.token ?? AGENT}` };
  for (const [k, v] of Object.entries({ ...HEADERS, ...o.headers })) if (v !== undefined) headers[k] = v;
  if (session) headers['mcp-session-id'] = session;
  const res = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const type = res.headers.get('content-type') ?? '';
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queue: any[] = [];
  /** The next JSON-RPC message of the answer, or undefined once it ended. */
  const next = async (): Promise<any> => {
    for (;;) {
      if (queue.length) return queue.shift();
      const { value, done } = await reader.read();
      if (done) {
        if (!type.includes('text/event-stream') && buffer.trim()) {
          const parsed = JSON.parse(buffer);
          buffer = '';
          return parsed;
        }
        return undefined;
      }
      buffer += decoder.decode(value, { stream: true });
      if (!type.includes('text/event-stream')) continue;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.match(/^data: (.*)$/m)?.[1];
        if (data) queue.push(JSON.parse(data));
      }
    }
  };
  const rest = async () => {
    const all: any[] = [];
    for (let m = await next(); m !== undefined; m = await next()) all.push(m);
    return all;
  };
  return { status: res.status, type, session: res.headers.get('mcp-session-id'), next, rest };
}

async function initialize(gw: TestAirlock, capabilities: Record<string, unknown> = {}, token = AGENT) {
  const init = await open(
    gw,
    undefined,
    {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'raw', version: '1' } },
    },
    { token },
  );
  assert.equal(init.status, 200);
  await init.rest();
  const id = init.session!;
  const ack = await open(gw, id, { jsonrpc: '2.0', method: 'notifications/initialized' }, { token });
  assert.equal(ack.status, 202);
  return id;
}

const call = (id: number | string, name: string, args: Record<string, unknown> = {}, meta?: object) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

test('a quick call and tools/list are one JSON body with the session id; the SDK path gives the same result', async () => {
  const session = await initialize(a);
  const fast = await open(b, session, call(7, 'test_simple_text'));
  assert.equal(fast.status, 200);
  assert.match(fast.type, /^application\/json/, 'nothing streamed before the result: a JSON body');
  assert.equal(fast.session, session);
  const [answer, ...more] = await fast.rest();
  assert.deepEqual(more, []);
  assert.equal(answer.id, 7);
  assert.notEqual(answer.result.isError, true, JSON.stringify(answer));

  // A batch of one is left to the SDK; its answer is the same message, as an SSE event.
  const viaSdk = await open(a, session, [call(7, 'test_simple_text')]);
  assert.match(viaSdk.type, /^text\/event-stream/);
  const [sdkAnswer] = await viaSdk.rest();
  assert.deepEqual(sdkAnswer, answer);

  // A client that ranks the stream first gets the SDK's form: an SSE stream with the one message.
  const sseFirst = await open(b, session, call(7, 'test_simple_text'), {
    headers: { accept: 'text/event-stream, application/json' },
  });
  assert.match(sseFirst.type, /^text\/event-stream/);
  assert.deepEqual(await sseFirst.rest(), [answer]);

  const list = await open(a, session, { jsonrpc: '2.0', id: 'l', method: 'tools/list' });
  assert.match(list.type, /^application\/json/);
  const [listed] = await list.rest();
  const sdkList = await (await open(b, session, [{ jsonrpc: '2.0', id: 'l', method: 'tools/list' }])).rest();
  assert.deepEqual(listed, sdkList[0]);
  assert.ok(listed.result.tools.some((t: any) => t.name === 'health_checks'));
});

test("bad headers, bad bodies, a wrong or another agent's session and a huge body get the SDK's errors", async () => {
  const session = await initialize(a);
  const ok = call(1, 'health_checks', { vm_name: 'web-01' });
  const expect = async (
    what: string,
    got: Promise<Awaited<ReturnType<typeof open>>>,
    status: number,
    code: number,
    message?: RegExp,
  ) => {
    const r = await got;
    assert.equal(r.status, status, what);
    const [body] = await r.rest();
    assert.equal(body.error?.code, code, `${what}: ${JSON.stringify(body)}`);
    if (message) assert.match(body.error.message, message, what);
  };
  await expect(
    'Accept without SSE',
    open(b, session, ok, { headers: { accept: 'application/json' } }),
    406,
    -32000,
    /^Not Acceptable: Client must accept both application\/json and text\/event-stream$/,
  );
  await expect(
    'no Accept',
    open(b, session, ok, { headers: { accept: undefined } }),
    406,
    -32000,
    /Not Acceptable/,
  );
  await expect(
    'Content-Type text/plain',
    open(b, session, ok, { headers: { 'content-type': 'text/plain' } }),
    415,
    -32000,
    /^Unsupported Media Type: Content-Type must be application\/json$/,
  );
  await expect(
    'an unsupported MCP-Protocol-Version',
    open(b, session, ok, { headers: { 'mcp-protocol-version': '2024-01-01' } }),
    400,
    -32000,
    /^Bad Request: Unsupported protocol version: 2024-01-01 \(supported versions: 2025-11-25, /,
  );
  await expect('not JSON', open(b, session, '{"jsonrpc": "2.0",'), 400, -32700);
  await expect(
    'a key JSON-RPC does not have',
    open(b, session, { ...ok, extra: true }),
    400,
    -32700,
    /^Parse error: Invalid JSON-RPC message$/,
  );
  await expect(
    'a forged session id',
    open(b, `${session.slice(0, -4)}AAAA`, ok),
    404,
    -32001,
    /^Session not found$/,
  );
  await expect("another agent's session", open(b, session, ok, { token: OTHER }), 404, -32001);
  await expect(
    'a body over 4 MiB',
    open(b, session, call(1, 'health_checks', { vm_name: 'x'.repeat(4 * 1024 * 1024 + 10) })),
    413,
    -32600,
  );
  // Arguments the SDK's schema refuses: its error, as the SDK gives it, whichever path answered.
  const refused = await (
    await open(b, session, { ...ok, params: { name: 'health_checks', arguments: [1] } })
  ).rest();
  const sdkRefused = await (
    await open(a, session, [{ ...ok, params: { name: 'health_checks', arguments: [1] } }])
  ).rest();
  assert.deepEqual(refused, sdkRefused);
  assert.ok(refused[0].error, JSON.stringify(refused));
  // And the session still works for this agent.
  const after = await (await open(b, session, ok)).rest();
  assert.notEqual(after[0].result.isError, true);
});

test('progress: with a progressToken the answer is an SSE stream of progress, then the result', async () => {
  const session = await initialize(b);
  const r = await open(a, session, call(3, 'test_tool_with_progress', {}, { progressToken: 'p-1' }));
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/event-stream/);
  assert.equal(r.session, session);
  const messages = await r.rest();
  const progress = messages.filter((m) => m.method === 'notifications/progress');
  assert.deepEqual(
    progress.map((m) => [m.params.progressToken, m.params.progress]),
    [
      ['p-1', 0],
      ['p-1', 50],
      ['p-1', 100],
    ],
  );
  assert.deepEqual(messages.at(-1).result.content, [{ type: 'text', text: 'Progress tool finished' }]);
  assert.equal(messages.at(-1).id, 3);
  // Without a token the same tool sends no progress, so its answer is JSON.
  const quiet = await open(a, session, call(4, 'test_tool_with_progress'));
  assert.match(quiet.type, /^application\/json/);
});

test('a held call streams its waiting progress and gets the result approved on the other replica', async () => {
  const session = await initialize(a);
  const r = await open(a, session, call(5, 'start_vm', { vm_name: 'kali-01' }, { progressToken: 9 }));
  const first = await r.next();
  assert.equal(first.method, 'notifications/progress');
  assert.equal(first.params.progressToken, 9);
  assert.match(first.params.message, /waiting for approval/);
  const requestId = /request (ar_\S+),/.exec(first.params.message)![1]!;
  assert.equal((await api(b, `/requests/${requestId}/approve`, {})).status, 200);
  const rest = await r.rest();
  const answer = rest.at(-1);
  assert.equal(answer.id, 5);
  assert.match(JSON.stringify(answer.result.content), /kali-01/);
});

test("an upstream's elicitation goes on the call's stream and the answer posted to the other replica returns", async () => {
  const session = await initialize(a, { elicitation: {} });
  const r = await open(a, session, call(11, 'test_elicitation', { message: 'Who are you?' }));
  assert.match(r.type, /^text\/event-stream/);
  const ask = await r.next();
  assert.equal(ask.method, 'elicitation/create');
  assert.equal(typeof ask.id, 'number');
  assert.match(JSON.stringify(ask.params), /Who are you\?/);
  assert.ok(
    a.airlock.sessions.all().some((s) => s instanceof FastSessionCall && s.hasCallOn('up')),
    'the call is served by the fast path, and the registry finds it',
  );
  const answered = await open(b, session, {
    jsonrpc: '2.0',
    id: ask.id,
    result: { action: 'accept', content: { username: 'ada', email: 'ada@example.com' } },
  });
  assert.equal(answered.status, 202);
  const [answer] = await r.rest();
  assert.equal(answer.id, 11);
  assert.match(answer.result.content[0].text, /ada/);

  // A session that did not declare elicitation: the upstream hears "not supported", nothing is streamed.
  const plain = await initialize(b);
  const refused = await open(b, plain, call(12, 'test_elicitation', { message: 'Who?' }));
  const [only] = await refused.rest();
  assert.equal(only.id, 12);
});

test('the SDK client through a round-robin balancer: elicitation answered on whichever replica', async () => {
  const transport = new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${AGENT}` } },
  });
  const client = new Client({ name: 'rr', version: '1' }, { capabilities: { elicitation: {} } });
  let asked = 0;
  client.setRequestHandler(ElicitRequestSchema, async () => {
    asked++;
    return { action: 'accept', content: { username: `u${asked}`, email: 'u@example.com' } };
  });
  await client.connect(transport);
  try {
    for (let i = 1; i <= 3; i++) {
      const r = (await client.callTool({
        name: 'test_elicitation',
        arguments: { message: 'q' },
      })) as CallToolResult;
      assert.match(JSON.stringify(r.content), new RegExp(`u${i}`));
    }
    assert.equal(asked, 3);
  } finally {
    await client.close();
  }
});

test('notifications/cancelled posted to the other replica cancels a held call; closing the connection does not', async () => {
  const session = await initialize(a);
  const pendingFor = (vm: string) =>
    until(
      async () =>
        (await api(a, '/requests?status=pending')).json.requests.find((q: any) => q.args?.vm_name === vm),
      `pending ${vm}`,
    );
  const stream = await open(a, session, call('c-1', 'start_vm', { vm_name: 'cancel-me' }));
  assert.match(stream.type, /^text\/event-stream/, 'a held call streams (keep-alives) from the start');
  const pending = await pendingFor('cancel-me');
  const cancelled = await open(b, session, {
    jsonrpc: '2.0',
    method: 'notifications/cancelled',
    params: { requestId: 'c-1', reason: 'changed my mind' },
  });
  assert.equal(cancelled.status, 202);
  await until(
    async () => ((await api(b, `/requests/${pending.id}`)).json.status === 'cancelled' ? true : undefined),
    'cancelled',
  );

  const gone = new AbortController();
  const held = await open(b, session, call('c-2', 'start_vm', { vm_name: 'dc-01' }), {
    signal: gone.signal,
  });
  const kept = await pendingFor('dc-01');
  gone.abort();
  await held.next().catch(() => undefined);
  // The agent went away: the request is still there to approve, and it runs.
  assert.equal((await api(a, `/requests/${kept.id}/approve`, {})).status, 200);
  await until(
    async () => ((await api(b, `/requests/${kept.id}`)).json.status === 'executed' ? true : undefined),
    'executed',
  );
});
