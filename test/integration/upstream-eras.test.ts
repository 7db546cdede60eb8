import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { ROOT, startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { startUpstream, upstreamCommand, type UpstreamProcess } from '../helpers/conformance-upstream.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/log.js';
import { LivenessProbe } from '../../src/upstream/liveness-probe.js';
import { META_KEYS } from '../../src/agent/wire/envelope.js';
import { ModernAgent } from '../helpers/modern-agent.js';
import { UpstreamSession } from '../../src/upstream/upstream-session.js';

// A 2025 agent (SDK 1.x, as every agent test) through Airlock to an upstream that speaks only one era:
// Airlock must find out which and talk to it accordingly, over stdio and over HTTP.

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

let redis: TestRedis;
before(async () => (redis = await startRedis()));
after(() => redis?.stop());

/** A 2025 agent that answers elicitation, as a person would, and records what it was asked. */
async function agent(gw: TestAirlock): Promise<{ client: Client; asked: string[] }> {
  const asked: string[] = [];
  const client = new Client({ name: 'era-agent', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, (req) => {
    asked.push(req.params.message);
    return { action: 'accept', content: { name: 'Ada' } };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)));
  return { client, asked };
}

const policies = { up: { version: '1', default: 'allow' } };

/** What notifications of one kind arrived, and a promise for the moment there are `n` of them. */
function collect<T>(): { items: T[]; push(item: T): void; atLeast(n: number): Promise<void> } {
  const items: T[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    items,
    push(item) {
      items.push(item);
      for (const w of waiters.filter((x) => items.length >= x.n)) w.resolve();
    },
    atLeast(n) {
      if (items.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

for (const mode of ['modern', 'legacy'] as const) {
  for (const transport of ['stdio', 'http'] as const) {
    describe(`a ${mode}-only upstream over ${transport}`, () => {
      let upstream: UpstreamProcess | undefined;
      let gw: TestAirlock;
      let client: Client;
      let asked: string[];

      before(async () => {
        let server: Record<string, unknown>;
        if (transport === 'http') {
          upstream = await startUpstream(mode);
          server = { url: upstream.url };
        } else {
          server = { ...upstreamCommand(['--stdio', '--mode', mode]), cwd: ROOT };
        }
        gw = await startTestAirlock({ redisUrl: redis.url, policies, config: { servers: { up: server } } });
        ({ client, asked } = await agent(gw));
      });
      after(async () => {
        await client?.close();
        await gw?.stop();
        await upstream?.stop();
      });

      test('Airlock found out the era', () => {
        assert.equal(gw.airlock.upstreams.get('up')?.era, mode);
      });

      test('tools/list and a simple tool call', async () => {
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === 'test_simple_text'));
        const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
        assert.equal(result.isError, undefined);
        assert.match(text(result), /simple text/i);
      });

      test('a prompt', async () => {
        const prompt = await client.getPrompt({ name: 'test_simple_prompt' });
        assert.equal(prompt.messages[0]?.role, 'user');
      });

      test('a resource read', async () => {
        const read = await client.readResource({ uri: 'test://static-text' });
        assert.deepEqual(
          read.contents.map((c) => ('text' in c ? c.text : c.blob)),
          ['This is the content of the static text resource.'],
        );
      });

      test('an elicitation the upstream asks for reaches the agent, and its answer the upstream', async () => {
        const result = await client.callTool({
          name: 'test_input_required_result_elicitation',
          arguments: {},
        });
        assert.equal(text(result), 'Hello, Ada!');
        assert.deepEqual(asked, ['What is your name?']);
      });

      test("a resource subscription brings the upstream's updates; unsubscribe ends them", async () => {
        const uri = 'test://watched-resource';
        const updates = collect<string>();
        client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
        assert.deepEqual(await client.subscribeResource({ uri }), {});
        await client.callTool({ name: 'test_trigger_resource_update', arguments: {} });
        await updates.atLeast(1);
        assert.deepEqual(updates.items, [uri]);

        // A second session holds the same URI: the first one's unsubscribe must not end its updates, and
        // once the second has the next update, the first would have had it too had it been passed on.
        const other = await agent(gw);
        const otherUpdates = collect<string>();
        other.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) =>
          otherUpdates.push(n.params.uri),
        );
        try {
          await other.client.subscribeResource({ uri });
          assert.deepEqual(await client.unsubscribeResource({ uri }), {});
          await client.callTool({ name: 'test_trigger_resource_update', arguments: {} });
          await otherUpdates.atLeast(1);
          assert.deepEqual(otherUpdates.items, [uri]);
          assert.deepEqual(updates.items, [uri], 'no update after unsubscribe');
        } finally {
          await other.client.close();
        }
      });

      test("the upstream's log messages during a call reach the agent, at the level it set", async () => {
        const logs = collect<{ level: string }>();
        client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
        await client.setLoggingLevel('info');
        await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
        await logs.atLeast(3);
        assert.deepEqual(
          logs.items.map((l) => l.level),
          ['info', 'info', 'info'],
        );
        if (mode === 'modern') {
          // A modern upstream's messages travel on the call's own stream: all are in by its result.
          await client.setLoggingLevel('error');
          await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
          assert.equal(logs.items.length, 3, 'info messages are below the level the agent set');
        }
      });

      if (mode === 'modern') {
        test("a 2026-07-28 agent's logLevel reaches the upstream: its log messages arrive on the call's stream", async () => {
          const modern = new ModernAgent(gw.url);
          const logged = await modern.callTool(
            'test_tool_with_logging',
            {},
            { [META_KEYS.logLevel]: 'info' },
          );
          assert.equal(logged.result?.isError, undefined);
          const levels = logged.notifications
            .filter((n) => n.method === 'notifications/message')
            .map((n) => n.params.level);
          assert.deepEqual(levels, ['info', 'info', 'info']);
          const quiet = await modern.callTool(
            'test_tool_with_logging',
            {},
            { [META_KEYS.logLevel]: 'error' },
          );
          assert.deepEqual(
            quiet.notifications.filter((n) => n.method === 'notifications/message'),
            [],
            'info messages are below the level the request asked for',
          );
          const none = await modern.callTool('test_tool_with_logging', {});
          assert.deepEqual(none.notifications, [], 'a request without logLevel gets no log messages');
        });

        test("a modern upstream sees the agent's capabilities, not Airlock's, and asks for no sampling", async () => {
          // Had Airlock's own capabilities gone upstream, the upstream would have asked, and the relay refused.
          const result = await client.callTool({ name: 'test_missing_capability', arguments: {} });
          assert.equal(result.isError, true);
          assert.match(text(result), /-32021: Missing required client capabilities: sampling/);
        });
      }
    });
  }
}

describe('the liveness probe of a modern HTTP upstream', () => {
  let upstream: UpstreamProcess;
  before(async () => (upstream = await startUpstream('modern')));
  after(() => upstream?.stop());

  test('a live modern upstream passes the probe (2026-07-28 has no ping)', async () => {
    const session = new UpstreamSession(
      parseConfig({ servers: { up: { url: upstream.url } } }, ROOT, {}).servers.up!,
      createLogger('silent'),
      {
        clientInfo: { name: 'airlock-test', version: '1' },
        capabilities: { sampling: {}, elicitation: {}, roots: {} },
      },
      { onRequest: async () => ({}), onNotification: async () => {}, onClose: () => {}, onError: () => {} },
    );
    await session.connect(10_000);
    session.ready = true;
    const dead: string[] = [];
    await new LivenessProbe(5_000, (_s, reason) => dead.push(reason)).check(
      session,
      new Error('stream hiccup'),
    );
    assert.equal(session.era, 'modern');
    assert.equal(dead.length, 0);
    await upstream.stop();
    await new LivenessProbe(5_000, (_s, reason) => dead.push(reason)).check(
      session,
      new Error('stream hiccup'),
    );
    assert.equal(dead.length, 1, 'a stopped upstream fails the probe');
    await session.end(false);
  });
});
