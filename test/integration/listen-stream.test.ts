// 2026-07-28 `subscriptions/listen` on /mcp: the acknowledgement with the honoured subset, list changes
// of the upstream fanned out to the streams that asked for them (tagged with the subscription id), the
// client closing its stream, and shutdown ending the rest with the completion response. The upstream is
// the conformance upstream over stdio, whose trigger tools announce list changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { ROOT, startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { upstreamCommand } from '../helpers/conformance-upstream.js';
import { META_KEYS } from '../../src/agent/wire/envelope.js';
import { SUBSCRIPTION_ID_META_KEY } from '../../src/agent/listen-stream.js';

const V = '2026-07-28';
let redis: TestRedis;
const airlocks: TestAirlock[] = [];
const streams: Listen[] = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  for (const s of streams) s.abort();
  for (const a of airlocks) await a.stop().catch(() => {});
  await redis?.stop();
});

async function airlockWith(mode: 'dual' | 'legacy'): Promise<TestAirlock> {
  const gw = await startTestAirlock({
    redisUrl: redis.url,
    policies: { conf: { version: '1', default: 'allow' } },
    config: {
      servers: { conf: { ...upstreamCommand(['--stdio', '--mode', mode]), cwd: ROOT } },
    },
  });
  airlocks.push(gw);
  return gw;
}

const envelope = { [META_KEYS.protocolVersion]: V, [META_KEYS.clientCapabilities]: {} };

function headers(method: string, name?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': V,
    'mcp-method': method,
    ...(name !== undefined && { 'mcp-name': name }),
  };
}

/** One open listen stream, read frame by frame. */
interface Listen {
  status: number;
  frames: any[];
  next(match: (frame: any) => boolean, what: string): Promise<any>;
  /** Resolves once the server ended the stream. */
  ended: Promise<void>;
  abort(): void;
}

async function listen(gw: TestAirlock, id: number, notifications: Record<string, unknown>): Promise<Listen> {
  const controller = new AbortController();
  const params = { _meta: envelope, notifications };
  const res = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: headers('subscriptions/listen'),
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params }),
    signal: controller.signal,
  });
  const frames: any[] = [];
  const waiters: { match: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const ended = (async () => {
    let buffer = '';
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true });
      const events = buffer.split('\n\n');
      buffer = events.pop() ?? '';
      for (const event of events) {
        const data = event.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const frame = JSON.parse(data.slice('data: '.length));
        frames.push(frame);
        for (const w of [...waiters]) {
          if (w.match(frame)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(frame);
          }
        }
      }
    }
  })();
  const stream: Listen = {
    status: res.status,
    frames,
    ended,
    abort: () => controller.abort(),
    next: (match, what) => {
      const seen = frames.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void ended.then(() => reject(new Error(`the stream ended before ${what}`)));
      });
    },
  };
  streams.push(stream);
  return stream;
}

async function trigger(gw: TestAirlock, tool: string): Promise<void> {
  const params = { name: tool, arguments: {}, _meta: envelope };
  const res = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: headers('tools/call', tool),
    body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params }),
  });
  const body = (await res.json()) as any;
  assert.equal(body.result?.isError, undefined, JSON.stringify(body));
}

const ack = (f: any) => f.method === 'notifications/subscriptions/acknowledged';

test(
  'listen streams: ack first, list changes only where asked for, tagged; client close and shutdown end them',
  { timeout: 60_000 },
  async () => {
    const gw = await airlockWith('dual');
    const discover = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: headers('server/discover'),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: envelope } }),
    }).then((r) => r.json() as Promise<any>);
    const caps = discover.result.capabilities;
    assert.deepEqual([caps.tools.listChanged, caps.prompts.listChanged], [true, true]);

    const tools = await listen(gw, 11, {
      toolsListChanged: true,
      resourceSubscriptions: ['test://watched-resource'],
    });
    const prompts = await listen(gw, 12, { promptsListChanged: true });
    assert.equal(tools.status, 200);
    const first = await tools.next(() => true, 'the first frame');
    assert.ok(ack(first), 'the acknowledgement comes first');
    assert.deepEqual(
      first.params.notifications,
      { toolsListChanged: true, resourceSubscriptions: [] },
      'a 2026-07-28 upstream takes no resources/subscribe from Airlock, so the URI is not honoured',
    );
    assert.equal(first.params._meta[SUBSCRIPTION_ID_META_KEY], 11);
    assert.deepEqual((await prompts.next(() => true, 'the ack')).params.notifications, {
      promptsListChanged: true,
    });

    await trigger(gw, 'test_trigger_tool_change');
    const changed = await tools.next((f) => f.method === 'notifications/tools/list_changed', 'tools changed');
    assert.equal(changed.params._meta[SUBSCRIPTION_ID_META_KEY], 11);
    await trigger(gw, 'test_trigger_prompt_change');
    const promptChange = await prompts.next(
      (f) => f.method === 'notifications/prompts/list_changed',
      'prompts changed',
    );
    assert.equal(promptChange.params._meta[SUBSCRIPTION_ID_META_KEY], 12);
    // Fan-out writes every stream at once, so a leaked tools frame would have come before this one.
    assert.deepEqual(
      prompts.frames.map((f) => f.method),
      ['notifications/subscriptions/acknowledged', 'notifications/prompts/list_changed'],
    );
    assert.ok(!tools.frames.some((f) => f.method === 'notifications/prompts/list_changed'));
    for (const f of [...tools.frames, ...prompts.frames]) assert.ok(f.params._meta[SUBSCRIPTION_ID_META_KEY]);

    // The client closing its stream ends the subscription on the server.
    assert.equal(gw.airlock.listens.size, 2);
    const closed = once(gw.airlock.listens, 'closed');
    prompts.abort();
    assert.deepEqual(await closed, [1]);

    // Shutdown: the last stream gets the completion response, then the server ends it.
    await gw.stop();
    airlocks.splice(airlocks.indexOf(gw), 1);
    await tools.ended;
    assert.deepEqual(tools.frames.at(-1), {
      jsonrpc: '2.0',
      id: 11,
      result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: 11 } },
    });
  },
);

test(
  'listen: a 2025 upstream that supports subscribe gets the resource subscription; bad filters are refused',
  { timeout: 60_000 },
  async () => {
    const gw = await airlockWith('legacy');
    const s = await listen(gw, 21, {
      resourcesListChanged: true,
      resourceSubscriptions: ['test://watched-resource'],
    });
    const first = await s.next(() => true, 'the ack');
    assert.ok(ack(first));
    assert.deepEqual(first.params.notifications.resourceSubscriptions, ['test://watched-resource']);
    assert.equal(first.params.notifications.resourcesListChanged, true);
    s.abort();

    const bad = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: headers('subscriptions/listen'),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 22,
        method: 'subscriptions/listen',
        params: { _meta: envelope, notifications: { toolsListChanged: 'yes' } },
      }),
    });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as any;
    assert.equal(body.error.code, -32602);
    assert.match(body.error.message, /toolsListChanged must be a boolean/);
    assert.equal(body.id, 22);
  },
);

test(
  "SDK v2 client: listen() behind Airlock hears a 2025 upstream's tool change; shutdown closes it gracefully",
  { timeout: 60_000 },
  async () => {
    const gw = await airlockWith('legacy');
    const client = new Client(
      { name: 'listener', version: '1' },
      { versionNegotiation: { mode: { pin: V } } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)));
    try {
      const heard = new Promise<void>((resolve) =>
        client.setNotificationHandler('notifications/tools/list_changed', () => resolve()),
      );
      const subscription = await client.listen({ toolsListChanged: true });
      assert.deepEqual(subscription.honoredFilter, { toolsListChanged: true });
      await client.callTool({ name: 'test_trigger_tool_change', arguments: {} });
      await heard;
      await gw.stop();
      airlocks.splice(airlocks.indexOf(gw), 1);
      assert.equal(await subscription.closed, 'graceful');
    } finally {
      await client.close();
    }
  },
);
