import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, ROOT, type TestAirlock } from '../helpers/airlock-harness.js';

const EVERYTHING = join(
  ROOT,
  'node_modules',
  '@modelcontextprotocol',
  'server-everything',
  'dist',
  'index.js',
);
const servers = { everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } };
const policies = {
  everything: {
    version: '1',
    default: 'allow',
    tools: { 'get-env': { action: 'deny', reason: 'no env dumps' } },
  },
};

let redis: TestRedis;
let gw: TestAirlock;

before(async () => {
  redis = await startRedis();
  gw = await startTestAirlock({ redisUrl: redis.url, config: { servers }, policies });
});
after(async () => {
  await gw?.stop();
  await redis?.stop();
});

/** An agent that can answer sampling, elicitation and roots, as a real MCP client would. */
async function richClient(): Promise<Client> {
  const client = new Client(
    { name: 'rich-agent', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
    role: 'assistant',
    model: 'test-model',
    content: { type: 'text', text: `sampled: ${JSON.stringify(req.params.messages[0]?.content)}` },
  }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'Ada' } }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: 'file:///work/lab', name: 'lab' }],
  }));
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)));
  return client;
}

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

test('tools pass through and policy applies to a third-party server', async () => {
  const c = await richClient();
  const names = (await c.listTools()).tools.map((t) => t.name);
  assert.ok(names.includes('echo'));
  assert.ok(!names.includes('get-env'), 'denied outright, so not listed');
  const r = await c.callTool({ name: 'echo', arguments: { message: 'hello <airlock>' } });
  assert.match(text(r), /hello <airlock>/);
  const sum = (await c.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })) as CallToolResult;
  assert.match(text(sum), /5/);
  const denied = (await c.callTool({ name: 'get-env', arguments: {} })) as CallToolResult;
  assert.equal(denied.isError, true);
  assert.match(text(denied), /Denied by policy \(everything\/get-env\): no env dumps\./);
});

test('resources, templates and prompts pass through', async () => {
  const c = await richClient();
  const resources = (await c.listResources()).resources;
  assert.ok(resources.length > 0);
  const first = resources[0]!;
  const read = await c.readResource({ uri: first.uri });
  assert.equal(read.contents[0]?.uri, first.uri);
  const templates = (await c.listResourceTemplates()).resourceTemplates;
  assert.ok(templates.length > 0);
  const prompts = (await c.listPrompts()).prompts.map((p) => p.name);
  assert.ok(prompts.includes('simple-prompt'));
  const prompt = await c.getPrompt({ name: 'simple-prompt' });
  assert.match(JSON.stringify(prompt.messages), /without arguments/);
  const completion = await c.complete({
    ref: { type: 'ref/prompt', name: 'completable-prompt' },
    argument: { name: 'department', value: 'Eng' },
  });
  assert.deepEqual(completion.completion.values, ['Engineering']);
});

test('progress notifications of a long-running tool reach the agent with its own token', async () => {
  const c = await richClient();
  const seen: number[] = [];
  const r = await c.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
    undefined,
    { onprogress: (p) => seen.push(p.progress) },
  );
  assert.match(text(r), /completed/i);
  assert.ok(seen.length >= 3, `progress events: ${seen.join(',')}`);
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    seen,
    'progress increases',
  );
});

test('cancellation by the agent reaches the upstream call', async () => {
  const c = await richClient();
  const controller = new AbortController();
  const started = Date.now();
  const call = c.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } },
    undefined,
    { signal: controller.signal, onprogress: () => controller.abort('changed my mind') },
  );
  await assert.rejects(call, /changed my mind|abort/i);
  assert.ok(Date.now() - started < 10_000);
  // The session still works after a cancel.
  assert.match(text(await c.callTool({ name: 'echo', arguments: { message: 'after' } })), /after/);
});

test("the upstream's sampling, elicitation and roots requests reach the calling agent", async () => {
  const c = await richClient();
  // Conditional tools appear after the upstream sees its client's capabilities.
  const names = (await c.listTools()).tools.map((t) => t.name);
  assert.ok(names.includes('trigger-sampling-request'), names.join(','));
  const sampled = await c.callTool({
    name: 'trigger-sampling-request',
    arguments: { prompt: 'hi there', maxTokens: 10 },
  });
  assert.match(JSON.stringify(sampled), /sampled: .*hi there/);
  const elicited = await c.callTool({ name: 'trigger-elicitation-request', arguments: {} });
  assert.match(JSON.stringify(elicited), /Ada|accept/);
  const roots = await c.callTool({ name: 'get-roots-list', arguments: {} });
  assert.match(JSON.stringify(roots), /file:\/\/\/work\/lab/);
});

test('logging level and upstream log messages pass through', async () => {
  const c = await richClient();
  const got = new Promise<string>((resolve) =>
    c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => resolve(String(n.params.level))),
  );
  await c.setLoggingLevel('debug');
  await c.callTool({ name: 'toggle-simulated-logging', arguments: {} });
  assert.ok(await got);
  await c.callTool({ name: 'toggle-simulated-logging', arguments: {} });
});

test('airlock stdio serves the same gateway to a client that spawns a command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-stdio-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'everything.json'), JSON.stringify(policies.everything));
  writeFileSync(
    join(dir, 'airlock.config.json'),
    JSON.stringify({
      redis: { url: redis.url, prefix: freshPrefix('stdio') },
      servers,
      agents: [{ id: 'cursor' }],
    }),
  );
  const client = new Client({ name: 'stdio-agent', version: '1' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      join(ROOT, 'dist', 'cli', 'main.js'),
      'stdio',
      '--agent',
      'cursor',
      '--config',
      join(dir, 'airlock.config.json'),
    ],
    stderr: 'pipe',
  });
  await client.connect(transport);
  try {
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('echo') && !names.includes('get-env'));
    assert.match(
      text(await client.callTool({ name: 'echo', arguments: { message: 'via stdio' } })),
      /via stdio/,
    );
    const denied = (await client.callTool({ name: 'get-env', arguments: {} })) as CallToolResult;
    assert.equal(denied.isError, true);
  } finally {
    await client.close();
  }
});

test('a server with no policy file fails closed: no tools, resources or prompts', async () => {
  const bare = await startTestAirlock({ redisUrl: redis.url, config: { servers }, policies: {} });
  try {
    const c = await bare.connect();
    assert.deepEqual((await c.listTools()).tools, []);
    assert.deepEqual((await c.listResources()).resources, []);
    assert.deepEqual((await c.listPrompts()).prompts, []);
    await assert.rejects(c.getPrompt({ name: 'simple-prompt' }), /Unknown prompt/);
    const denied = (await c.callTool({ name: 'echo', arguments: { message: 'x' } })) as CallToolResult;
    assert.equal(denied.isError, true);
    assert.match(text(denied), /No policy file/);
  } finally {
    await bare.stop();
  }
});
