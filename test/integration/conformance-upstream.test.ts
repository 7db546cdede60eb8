import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { ROOT } from '../helpers/airlock-harness.js';
import { startUpstream, upstreamCommand, type UpstreamProcess } from '../helpers/conformance-upstream.js';

type Mode = { pin: string } | 'legacy' | 'auto';

async function connect(url: string, mode: Mode): Promise<Client> {
  const client = new Client(
    { name: 'upstream-test', version: '1' },
    { capabilities: { elicitation: {}, sampling: {} }, versionNegotiation: { mode } },
  );
  client.setRequestHandler('elicitation/create', () => ({ action: 'accept', content: { name: 'Ada' } }));
  client.setRequestHandler('sampling/createMessage', () => ({
    role: 'assistant',
    content: { type: 'text', text: 'Paris' },
    model: 'test-model',
  }));
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

function firstText(result: unknown): string {
  return (result as { content: { text: string }[] }).content[0]!.text;
}

/** A raw POST, to see what the upstream answers a request no conforming client of that era would send. */
async function post(url: string, body: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...body }),
  });
}

const INITIALIZE = {
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

const DISCOVER = {
  method: 'server/discover',
  params: {
    _meta: {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
    },
  },
};

describe('conformance upstream, dual mode', () => {
  let upstream: UpstreamProcess;
  before(async () => (upstream = await startUpstream('dual')));
  after(() => upstream.stop());

  test('a modern client gets fixtures and a multi-round elicitation', async () => {
    const client = await connect(upstream.url, { pin: '2026-07-28' });
    assert.equal(client.getProtocolEra(), 'modern');
    assert.equal(
      firstText(await client.callTool({ name: 'greet', arguments: { name: 'Bo' } })),
      'Hello, Bo!',
    );
    const answered = await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} });
    assert.equal(firstText(answered), 'Hello, Ada!');
    await client.close();
  });

  test('a legacy session gets a real sampling request during the call', async () => {
    const client = await connect(upstream.url, 'legacy');
    assert.equal(client.getProtocolEra(), 'legacy');
    const result = await client.callTool({
      name: 'test_sampling',
      arguments: { prompt: 'Capital of France?' },
    });
    assert.equal(firstText(result), 'LLM response: Paris');
    await client.close();
  });

  test('protocol_error_job fails with a JSON-RPC error, failing_job with a tool error', async () => {
    const client = await connect(upstream.url, { pin: '2026-07-28' });
    await assert.rejects(client.callTool({ name: 'protocol_error_job', arguments: {} }), /failed on purpose/);
    const failed = await client.callTool({ name: 'failing_job', arguments: {} });
    assert.equal((failed as { isError?: boolean }).isError, true);
    await client.close();
  });
});

describe('conformance upstream, modern mode', () => {
  let upstream: UpstreamProcess;
  before(async () => (upstream = await startUpstream('modern')));
  after(() => upstream.stop());

  test('refuses initialize', async () => {
    const response = await post(upstream.url, INITIALIZE);
    assert.ok(response.status >= 400, `status ${response.status}`);
    const body = (await response.json()) as { error?: { code: number } };
    assert.equal(body.error?.code, -32022);
  });

  test('serves a modern client', async () => {
    const client = await connect(upstream.url, 'auto');
    assert.equal(client.getProtocolEra(), 'modern');
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'test_tool_with_task'));
    await client.close();
  });
});

describe('conformance upstream, legacy mode', () => {
  let upstream: UpstreamProcess;
  before(async () => (upstream = await startUpstream('legacy')));
  after(() => upstream.stop());

  test('refuses an enveloped request', async () => {
    const response = await post(upstream.url, DISCOVER, {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'server/discover',
    });
    assert.equal(response.status, 400);
  });

  test('a negotiating client falls back to initialize', async () => {
    const client = await connect(upstream.url, 'auto');
    assert.equal(client.getProtocolEra(), 'legacy');
    const result = await client.callTool({ name: 'confirm_delete', arguments: { filename: 'a.txt' } });
    assert.equal(firstText(result), 'Kept a.txt'); // the handler answers `name`, not `confirm`
    await client.close();
  });
});

describe('conformance upstream over stdio', () => {
  test('dual mode serves a negotiating client', async () => {
    const client = new Client(
      { name: 'upstream-test', version: '1' },
      { versionNegotiation: { mode: 'auto' } },
    );
    await client.connect(
      new StdioClientTransport({ ...upstreamCommand(['--stdio']), cwd: ROOT, stderr: 'pipe' }),
    );
    assert.equal(client.getProtocolEra(), 'modern');
    const result = await client.readResource({ uri: 'test://template/7/data' });
    assert.match(JSON.stringify(result.contents), /Data for ID: 7/);
    await client.close();
  });
});
