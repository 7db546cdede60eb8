// @modelcontextprotocol/server-everything as a real third-party upstream, over stdio and Streamable HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../../src/core/errors.js';
import type { ServerConfig } from '../../src/config/schema.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { freePort } from '../helpers/redis.js';
import {
  CapturedLog,
  RecordingHooks,
  httpConfig,
  spawnServer,
  waitForState,
  waitForTools,
  type ServerProcess,
} from '../fixtures/upstreams/harness.js';

const EVERYTHING = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';

function textOf(result: { content: unknown[] }): string {
  return result.content
    .map((c) => ((c as { type: string }).type === 'text' ? (c as { text: string }).text : ''))
    .join('\n');
}

/** The same checks against either transport. */
function sharedChecks(get: () => { connection: UpstreamConnection; hooks: RecordingHooks }): void {
  it('lists tools, including the ones it registers only for clients that can sample and elicit', async () => {
    const { connection } = get();
    assert.equal(connection.state, 'ready');
    assert.equal(connection.serverInfo?.name, 'mcp-servers/everything');
    // Registered after initialize (so announced with tools/list_changed) because Airlock declared the capabilities.
    await waitForTools(connection, (names) =>
      [
        'echo',
        'trigger-long-running-operation',
        'trigger-sampling-request',
        'trigger-elicitation-request',
      ].every((n) => names.includes(n)),
    );
  });

  it('calls a tool', async () => {
    const result = await get().connection.callTool({
      name: 'echo',
      arguments: { message: 'through airlock' },
    });
    assert.equal(textOf(result), 'Echo: through airlock');
  });

  it('passes resources/list and resources/read through request()', async () => {
    const { connection } = get();
    const list = (await connection.request({ method: 'resources/list' })) as { resources: { uri: string }[] };
    assert.ok(list.resources.length > 0);
    const uri = list.resources[0]!.uri;
    const read = (await connection.request({ method: 'resources/read', params: { uri } })) as {
      contents: { uri: string }[];
    };
    assert.equal(read.contents[0]?.uri, uri);
  });

  it('caches prompts and gets one through request()', async () => {
    const { connection } = get();
    assert.ok(connection.prompts().some((p) => p.name === 'simple-prompt'));
    const prompt = (await connection.request({
      method: 'prompts/get',
      params: { name: 'simple-prompt' },
    })) as {
      messages: { content: { text: string } }[];
    };
    assert.equal(prompt.messages[0]?.content.text, 'This is a simple prompt without arguments.');
  });

  it('forwards progress of trigger-long-running-operation', async () => {
    const progress: Progress[] = [];
    const result = await get().connection.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
      { onprogress: (p) => progress.push(p) },
    );
    assert.match(textOf(result), /Long running operation completed/);
    // The last report can race the response inside the SDK client; the first three always arrive.
    assert.deepEqual(
      progress.slice(0, 3).map((p) => [p.progress, p.total]),
      [
        [1, 4],
        [2, 4],
        [3, 4],
      ],
    );
  });

  it('routes trigger-sampling-request through hooks.onRequest', async () => {
    const { connection, hooks } = get();
    const result = await connection.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'say hi', maxTokens: 20 },
    });
    assert.match(textOf(result), /sampled by the agent/);
    const seen = hooks.requests.find((r) => r.request.method === 'sampling/createMessage');
    assert.ok(seen);
    const params = seen.request.params as { maxTokens: number; messages: { content: { text: string } }[] };
    assert.equal(params.maxTokens, 20);
    assert.match(params.messages[0]!.content.text, /say hi/);
  });

  it('routes trigger-elicitation-request through hooks.onRequest', async () => {
    const { connection, hooks } = get();
    const result = await connection.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    assert.match(textOf(result), /Name: Ada Lovelace/);
    const seen = hooks.requests.find((r) => r.request.method === 'elicitation/create');
    assert.ok((seen?.request.params as { requestedSchema?: unknown }).requestedSchema);
  });

  it("answers the server's roots/list through hooks.onRequest", async () => {
    const { hooks } = get();
    // The server asks for roots on its own shortly after initialize.
    const request = await hooks.nextRequest('roots/list');
    assert.equal(request.method, 'roots/list');
  });
}

describe('server-everything over stdio', () => {
  const hooks = new RecordingHooks();
  let connection: UpstreamConnection;
  before(async () => {
    const config: ServerConfig = {
      kind: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
      env: {},
      timeoutMs: 20_000,
    };
    connection = new UpstreamConnection('everything', config, hooks, new CapturedLog().logger);
    await connection.start();
  });
  after(async () => {
    await connection.close();
  });

  sharedChecks(() => ({ connection, hooks }));
});

describe('server-everything over Streamable HTTP', () => {
  const hooks = new RecordingHooks();
  let port: number;
  let server: ServerProcess;
  let connection: UpstreamConnection;

  const startServer = async () =>
    spawnServer(
      process.execPath,
      [EVERYTHING, 'streamableHttp'],
      { PORT: String(port) },
      /listening on port/,
    );

  before(async () => {
    port = await freePort();
    server = await startServer();
    connection = new UpstreamConnection(
      'everything-http',
      httpConfig(`http://127.0.0.1:${port}/mcp`, { headers: { 'X-Airlock-Test': 'yes' }, timeoutMs: 20_000 }),
      hooks,
      new CapturedLog().logger,
      { reconnect: { initialMs: 100, maxMs: 500 } },
    );
    await connection.start();
  });
  after(async () => {
    await connection.close();
    await server.kill();
  });

  sharedChecks(() => ({ connection, hooks }));

  it('goes down when the server dies and reconnects (new session) when it is back', async () => {
    const down = waitForState(connection, 'down');
    await server.kill();
    // Either this call or the broken SSE stream notices first; the caller gets UPSTREAM_UNAVAILABLE either way.
    await assert.rejects(
      connection.callTool({ name: 'echo', arguments: { message: 'x' } }),
      (err: unknown) => {
        assert.ok(err instanceof AirlockError);
        assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
        assert.match(
          err.message,
          /^Upstream server "everything-http" is unavailable \(.+\); try again shortly$/,
        );
        return true;
      },
    );
    await down;
    server = await startServer();
    await waitForState(connection, 'ready');
    const result = await connection.callTool({ name: 'echo', arguments: { message: 'back again' } });
    assert.equal(textOf(result), 'Echo: back again');
  });
});
