// The synchronous MRTR relay: a 2026-07-28 agent calling a 2026-07-28 upstream (the conformance upstream
// over stdio) gets the upstream's input_required answer with Airlock's sealed requestState, answers on its
// retry, and gets the result; a requestState Airlock did not seal for this call is -32602.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { ROOT, startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { upstreamCommand } from '../helpers/conformance-upstream.js';
import { ModernAgent } from '../helpers/modern-agent.js';
import { META_KEYS } from '../../src/agent/wire/envelope.js';

let redis: TestRedis;
let gw: TestAirlock;
let agent: ModernAgent;
const ELICIT: Record<string, unknown> = { [META_KEYS.clientCapabilities]: { elicitation: {} } };
const NAME = 'test_input_required_result_elicitation';

before(async () => {
  redis = await startRedis();
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: { servers: { up: { ...upstreamCommand(['--stdio', '--mode', 'modern']), cwd: ROOT } } },
    policies: { up: { version: '1', default: 'allow' } },
  });
  agent = new ModernAgent(gw.url);
});

after(async () => {
  await gw?.stop();
  await redis?.stop();
});

async function call(name: string, params: Record<string, unknown>, meta = ELICIT): Promise<any> {
  const answer = await agent.request('tools/call', { name, arguments: {}, ...params }, meta);
  return answer.body;
}

test("the upstream's question reaches the agent sealed, and the agent's answer the upstream", async () => {
  const first = (await call(NAME, {})).result;
  assert.equal(first.resultType, 'input_required');
  assert.deepEqual(Object.keys(first.inputRequests), ['user_name']);
  assert.equal(first.inputRequests.user_name.method, 'elicitation/create');
  assert.match(first.requestState, /^[\w-]+\.[\w-]+$/);
  const inputResponses = { user_name: { action: 'accept', content: { name: 'Ada' } } };
  const done = (await call(NAME, { inputResponses, requestState: first.requestState })).result;
  assert.equal(done.resultType, 'complete');
  assert.deepEqual(done.content, [{ type: 'text', text: 'Hello, Ada!' }]);
});

test("the upstream's own requestState rides inside Airlock's and comes back to it unchanged", async () => {
  const name = 'test_input_required_result_request_state';
  const first = (await call(name, {})).result;
  assert.equal(first.resultType, 'input_required');
  const inputResponses = { confirm: { action: 'accept', content: { ok: true } } };
  const done = (await call(name, { inputResponses, requestState: first.requestState })).result;
  assert.deepEqual(done.content, [{ type: 'text', text: 'state-ok (action=accept)' }]);
});

test('an altered requestState, or one for other arguments or another tool, is -32602', async () => {
  const first = (await call(NAME, {})).result;
  const [body, tag] = (first.requestState as string).split('.') as [string, string];
  const inputResponses = { user_name: { action: 'accept', content: { name: 'Eve' } } };
  const tampered = await call(NAME, { inputResponses, requestState: `${body}.${tag.slice(0, -2)}AA` });
  assert.equal(tampered.error?.code, -32602);
  assert.match(tampered.error.message, /not issued by Airlock or was altered/);
  const otherArgs = await call(NAME, {
    arguments: { extra: 1 },
    inputResponses,
    requestState: first.requestState,
  });
  assert.equal(otherArgs.error?.code, -32602);
  assert.match(otherArgs.error.message, /other arguments/);
  const otherTool = await call('test_input_required_result_sampling', {
    inputResponses,
    requestState: first.requestState,
  });
  assert.equal(otherTool.error?.code, -32602);
  assert.match(otherTool.error.message, /another tool/);
});

test('a question needing a capability the request did not declare is -32021', async () => {
  const answer = await call(NAME, {}, { [META_KEYS.clientCapabilities]: {} });
  assert.equal(answer.error?.code, -32021);
  assert.ok(answer.error.data.requiredCapabilities.elicitation, JSON.stringify(answer.error));
});

test("prompts/get: the upstream's question reaches the agent sealed, and its answer comes back", async () => {
  const get = async (params: Record<string, unknown>): Promise<any> =>
    (await agent.request('prompts/get', { name: 'test_input_required_result_prompt', ...params }, ELICIT))
      .body;
  const first = (await get({})).result;
  assert.equal(first.resultType, 'input_required');
  assert.equal(first.inputRequests.user_context.method, 'elicitation/create');
  assert.equal(first.ttlMs, undefined);
  const inputResponses = { user_context: { action: 'accept', content: { context: 'tests' } } };
  const done = (await get({ inputResponses, requestState: first.requestState })).result;
  assert.equal(done.resultType, 'complete');
  assert.deepEqual(done.messages, [
    { role: 'user', content: { type: 'text', text: 'Use this context: tests' } },
  ]);
  // The state of a prompt is not a tool's, nor another prompt's.
  const asTool = await call(NAME, { inputResponses, requestState: first.requestState });
  assert.equal(asTool.error?.code, -32602);
  assert.match(asTool.error.message, /another method/);
  const other = await get({ name: 'test_simple_prompt', inputResponses, requestState: first.requestState });
  assert.equal(other.error?.code, -32602);
  assert.match(other.error.message, /another target/);
});

test("resources/read: the upstream's question reaches the agent sealed; no cache hints until complete", async () => {
  const other = await startTestAirlock({
    redisUrl: redis.url,
    config: {
      servers: {
        res: {
          command: process.execPath,
          args: ['--import', 'tsx', 'test/fixtures/upstreams/modern-input-resource.ts'],
          cwd: ROOT,
        },
      },
    },
    policies: { res: { version: '1', default: 'allow' } },
  });
  try {
    const reader = new ModernAgent(other.url);
    const read = async (params: Record<string, unknown>): Promise<any> =>
      (await reader.request('resources/read', { uri: 'test://guarded', ...params }, ELICIT)).body;
    const first = (await read({})).result;
    assert.equal(first.resultType, 'input_required', JSON.stringify(first));
    assert.equal(first.inputRequests.passphrase.method, 'elicitation/create');
    assert.equal(first.ttlMs, undefined);
    assert.notEqual(first.requestState, 'upstream-own-state');
    const inputResponses = { passphrase: { action: 'accept', content: { word: 'open-sesame' } } };
    const done = (await read({ inputResponses, requestState: first.requestState })).result;
    assert.equal(done.resultType, 'complete');
    assert.equal(done.contents[0].text, 'opened with open-sesame');
    assert.equal(done.cacheScope, 'private');
    const forged = await read({ inputResponses, requestState: 'upstream-own-state' });
    assert.equal(forged.error?.code, -32602);
  } finally {
    await other.stop();
  }
});
