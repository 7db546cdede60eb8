// A 2026-07-28 agent, a 2025-only upstream that asks the client during a call, and two real `airlock serve`
// processes behind a per-request round-robin balancer: the call starts on one replica and stays parked
// there; the agent's retry with its answers lands on the other, which forwards it over the replica bus.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT } from '../helpers/airlock-harness.js';
import { upstreamCommand } from '../helpers/conformance-upstream.js';
import { ModernAgent } from '../helpers/modern-agent.js';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { startRoundRobin, type RoundRobin } from '../helpers/round-robin.js';
import { startServe, writeDeployment, type ServeProcess } from '../helpers/serve-process.js';
import { META_KEYS } from '../../src/agent/wire/envelope.js';

const AGENT = 'ci-bot-token-0123456789abcdef';
const CAPS = { [META_KEYS.clientCapabilities]: { elicitation: {} } };

let redis: TestRedis;
let replicas: ServeProcess[] = [];
let lb: RoundRobin;

before(async () => {
  redis = await startRedis();
  const deployment = writeDeployment({
    redisUrl: redis.url,
    prefix: freshPrefix('{e2e-mrtr}'),
    config: {
      servers: { up: { ...upstreamCommand(['--stdio', '--mode', 'legacy']), cwd: ROOT } },
      agents: [{ id: 'ci-bot', token: AGENT }],
    },
    policies: { up: { version: '1', default: 'allow' } },
  });
  replicas = await Promise.all([0, 1].map(() => startServe(deployment.configFor)));
  lb = await startRoundRobin(replicas.map((r) => r.url));
});

after(async () => {
  await lb?.stop();
  await Promise.allSettled(replicas.map((r) => r.stop()));
  await redis?.stop();
});

test("the upstream's elicitation reaches the agent from one replica, its answer comes back through the other", async () => {
  const agent = new ModernAgent(lb.url, AGENT);
  const name = 'test_input_required_result_multi_round';
  const first = await agent.request('tools/call', { name, arguments: {} }, CAPS);
  const round1 = first.body.result;
  assert.equal(round1.resultType, 'input_required', JSON.stringify(first.body));
  const [k1] = Object.keys(round1.inputRequests);
  const second = await agent.request(
    'tools/call',
    {
      name,
      arguments: {},
      inputResponses: { [k1!]: { action: 'accept', content: { name: 'Ada' } } },
      requestState: round1.requestState,
    },
    CAPS,
  );
  assert.notEqual(second.backend, first.backend, 'the retry landed on the other replica');
  const round2 = second.body.result;
  assert.equal(round2.resultType, 'input_required', JSON.stringify(second.body));
  const [k2] = Object.keys(round2.inputRequests);
  const third = await agent.request(
    'tools/call',
    {
      name,
      arguments: {},
      inputResponses: { [k2!]: { action: 'accept', content: { color: 'teal' } } },
      requestState: round2.requestState,
    },
    CAPS,
  );
  assert.equal(third.backend, first.backend);
  assert.deepEqual(third.body.result.content, [{ type: 'text', text: 'Done: name=Ada, color=teal' }]);
});
