// The input relay between a 2026-07-28 agent and a 2025-only upstream: the upstream's server→client
// requests during a call become input_required rounds while its call stays parked on the replica that
// started it; the agent's retry answers them on that replica or on another one (two Airlocks on one Redis,
// the retry forwarded over the replica bus). A parked call nobody answers ends; a state naming a replica
// that is gone gets a plain tool error; forged or rebound state is -32602.
import { test, before, after } from 'node:test';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { ROOT, startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { upstreamCommand } from '../helpers/conformance-upstream.js';
import { eventually } from '../helpers/slack-rig.js';
import { ModernAgent } from '../helpers/modern-agent.js';
import { META_KEYS } from '../../src/agent/wire/envelope.js';

let redis: TestRedis;
let a: TestAirlock;
let b: TestAirlock;
const prefix = freshPrefix('mrtr-legacy');
const CAPS: Record<string, unknown> = {
  [META_KEYS.clientCapabilities]: { elicitation: {}, sampling: {}, roots: {} },
};

function legacyUpstream(extra: Record<string, unknown> = {}) {
  return { servers: { up: { ...upstreamCommand(['--stdio', '--mode', 'legacy']), cwd: ROOT, ...extra } } };
}

async function replica(config = legacyUpstream(), p = prefix): Promise<TestAirlock> {
  return startTestAirlock({
    redisUrl: redis.url,
    prefix: p,
    config,
    policies: { up: { version: '1', default: 'allow' } },
  });
}

before(async () => {
  redis = await startRedis();
  [a, b] = await Promise.all([replica(), replica()]);
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});

async function call(
  on: TestAirlock,
  name: string,
  params: Record<string, unknown> = {},
  meta: Record<string, unknown> = CAPS,
): Promise<any> {
  const answer = await new ModernAgent(on.url).request(
    'tools/call',
    { name, arguments: {}, ...params },
    meta,
  );
  return answer.body;
}

const accept = (content: Record<string, unknown>) => ({ action: 'accept', content });

test("a legacy upstream's elicitation reaches the agent as input_required, and the answer comes back", async () => {
  const args = { message: 'Who are you?' };
  const first = (await call(a, 'test_elicitation', { arguments: args })).result;
  assert.equal(first.resultType, 'input_required', JSON.stringify(first));
  const [key, ...more] = Object.keys(first.inputRequests);
  assert.equal(more.length, 0);
  assert.equal(first.inputRequests[key!].method, 'elicitation/create');
  assert.equal(first.inputRequests[key!].params.message, 'Who are you?');
  const inputResponses = { [key!]: accept({ username: 'ada', email: 'ada@example.com' }) };
  const done = (
    await call(a, 'test_elicitation', { arguments: args, inputResponses, requestState: first.requestState })
  ).result;
  assert.equal(done.resultType, 'complete');
  assert.match(done.content[0].text, /action=accept, content=\{"username":"ada","email":"ada@example.com"\}/);
});

test('the retry may land on another replica: it is forwarded to the parked call, round after round', async () => {
  const name = 'test_input_required_result_multi_round';
  const first = (await call(a, name)).result;
  assert.equal(first.resultType, 'input_required', JSON.stringify(first));
  const [k1] = Object.keys(first.inputRequests);
  assert.match(first.inputRequests[k1!].params.message, /Step 1/);
  const second = (
    await call(b, name, {
      inputResponses: { [k1!]: accept({ name: 'Ada' }) },
      requestState: first.requestState,
    })
  ).result;
  assert.equal(second.resultType, 'input_required', JSON.stringify(second));
  const [k2] = Object.keys(second.inputRequests);
  assert.match(second.inputRequests[k2!].params.message, /Step 2/);
  // Answered on the owning replica this time: the state names it either way.
  const done = (
    await call(a, name, {
      inputResponses: { [k2!]: accept({ color: 'green' }) },
      requestState: second.requestState,
    })
  ).result;
  assert.deepEqual(done.content, [{ type: 'text', text: 'Done: name=Ada, color=green' }]);
});

test('sampling and roots are relayed too; unanswered questions are asked again', async () => {
  const first = (await call(b, 'test_sampling', { arguments: { prompt: 'Hi' } })).result;
  const [key] = Object.keys(first.inputRequests);
  assert.equal(first.inputRequests[key!].method, 'sampling/createMessage');
  // An answer to nothing it asked: the question stays open and comes back in a new round.
  const again = (
    await call(a, 'test_sampling', {
      arguments: { prompt: 'Hi' },
      inputResponses: { nope: {} },
      requestState: first.requestState,
    })
  ).result;
  assert.equal(again.resultType, 'input_required');
  assert.deepEqual(Object.keys(again.inputRequests), [key]);
  const sampled = { role: 'assistant', content: { type: 'text', text: 'Hello!' }, model: 'm' };
  const done = (
    await call(b, 'test_sampling', {
      arguments: { prompt: 'Hi' },
      inputResponses: { [key!]: sampled },
      requestState: again.requestState,
    })
  ).result;
  assert.deepEqual(done.content, [{ type: 'text', text: 'LLM response: Hello!' }]);
  const roots = (await call(a, 'test_input_required_result_list_roots')).result;
  const [rk] = Object.keys(roots.inputRequests);
  assert.equal(roots.inputRequests[rk!].method, 'roots/list');
  const listed = { roots: [{ uri: 'file:///work', name: 'work' }] };
  const rootsDone = (
    await call(b, 'test_input_required_result_list_roots', {
      inputResponses: { [rk!]: listed },
      requestState: roots.requestState,
    })
  ).result;
  assert.deepEqual(rootsDone.content, [{ type: 'text', text: 'Roots: file:///work' }]);
});

test('a state altered, or rebound to other arguments, is -32602 and leaves the parked call waiting', async () => {
  const args = { message: 'Again?' };
  const first = (await call(a, 'test_elicitation', { arguments: args })).result;
  const [key] = Object.keys(first.inputRequests);
  const inputResponses = { [key!]: accept({ username: 'eve', email: 'eve@example.com' }) };
  const [body, tag] = (first.requestState as string).split('.') as [string, string];
  const forged = await call(b, 'test_elicitation', {
    arguments: args,
    inputResponses,
    requestState: `${body}.${tag.slice(0, -2)}AA`,
  });
  assert.equal(forged.error?.code, -32602);
  const rebound = await call(b, 'test_elicitation', {
    arguments: { message: 'other' },
    inputResponses,
    requestState: first.requestState,
  });
  assert.equal(rebound.error?.code, -32602);
  assert.match(rebound.error.message, /other arguments/);
  const done = (
    await call(b, 'test_elicitation', { arguments: args, inputResponses, requestState: first.requestState })
  ).result;
  assert.match(done.content[0].text, /"username":"eve"/);
});

test('a question needing a capability the request did not declare is -32021, not relayed', async () => {
  const answer = await call(
    a,
    'test_sampling',
    { arguments: { prompt: 'Hi' } },
    { [META_KEYS.clientCapabilities]: {} },
  );
  assert.equal(answer.error?.code, -32021, JSON.stringify(answer));
  assert.ok(answer.error.data.requiredCapabilities.sampling);
});

test('a parked call nobody answers ends with its timeout, and its retry gets that end, once', async () => {
  const t = await replica(legacyUpstream({ timeoutMs: 1_500 }), freshPrefix('mrtr-timeout'));
  try {
    const first = (await call(t, 'test_elicitation', { arguments: { message: 'Anyone?' } })).result;
    assert.equal(first.resultType, 'input_required');
    // The upstream call stays open until the server's timeout: no answer, no progress.
    assert.equal(t.airlock.sessions.modern.on('up').length, 1);
    await eventually(() => t.airlock.sessions.modern.on('up').length === 0);
    const [key] = Object.keys(first.inputRequests);
    const retry = {
      arguments: { message: 'Anyone?' },
      inputResponses: { [key!]: accept({ username: 'x', email: 'x@y.z' }) },
      requestState: first.requestState,
    };
    const late = (await call(t, 'test_elicitation', retry)).result;
    assert.equal(late.isError, true);
    assert.match(late.content[0].text, /did not answer tools\/call within 1\.5 s/);
    const again = (await call(t, 'test_elicitation', retry)).result;
    assert.match(again.content[0].text, /no longer waiting for answers/);
  } finally {
    await t.stop();
  }
});

test('a retry whose parked call was on a replica that stopped gets a plain tool error', async () => {
  const gone = await replica();
  const first = (await call(gone, 'test_elicitation', { arguments: { message: 'Bye?' } })).result;
  assert.equal(first.resultType, 'input_required');
  await gone.stop();
  const [key] = Object.keys(first.inputRequests);
  const answer = (
    await call(b, 'test_elicitation', {
      arguments: { message: 'Bye?' },
      inputResponses: { [key!]: accept({ username: 'x', email: 'x@y.z' }) },
      requestState: first.requestState,
    })
  ).result;
  assert.equal(answer.isError, true);
  assert.match(answer.content[0].text, /no longer waiting for answers/);
});

test("a call needing approval is held first; approved, it runs on the approval worker, and its question reaches the agent's waiting request", async () => {
  const held = await startTestAirlock({
    redisUrl: redis.url,
    prefix: freshPrefix('mrtr-held'),
    config: { ...legacyUpstream(), reviewers: [{ id: 'alice', token: 'alice-token-0123456789' }] },
    policies: {
      up: {
        version: '1',
        default: 'allow',
        tools: {
          test_elicitation: {
            action: 'require_approval',
            approval: { approvers: ['alice'], timeout: '1m', wait: '20s' },
          },
        },
      },
    },
  });
  try {
    const created = once(held.airlock.approvals, 'created');
    const answer = call(held, 'test_elicitation', { arguments: { message: 'Held?' } });
    const [record] = (await created) as [{ id: string }];
    let settled = false;
    void answer.then(() => (settled = true));
    // Held: nothing reached the upstream, so nothing can have been asked.
    assert.equal(settled, false);
    await held.airlock.approvals.decide(record.id, { reviewerId: 'alice', via: 'api', decision: 'approve' });
    const body = await answer;
    // The approved call runs on the worker, registered as a call of its own: its question is the agent's.
    const first = body.result;
    assert.equal(first?.resultType, 'input_required', JSON.stringify(body));
    const [key] = Object.keys(first.inputRequests);
    const done = (
      await call(held, 'test_elicitation', {
        arguments: { message: 'Held?' },
        inputResponses: { [key!]: accept({ username: 'h', email: 'h@example.com' }) },
        requestState: first.requestState,
      })
    ).result;
    assert.match(done.content[0].text, /h@example\.com/, JSON.stringify(done));

    // A question nobody answers does not hold the shutdown; the call ends failed, its reason stored.
    const again = once(held.airlock.approvals, 'created');
    const unanswered = call(held, 'test_elicitation', { arguments: { message: 'Anyone?' } });
    const [second] = (await again) as [{ id: string }];
    await held.airlock.approvals.decide(second.id, { reviewerId: 'alice', via: 'api', decision: 'approve' });
    assert.equal((await unanswered).result?.resultType, 'input_required');
    const failed = once(held.airlock.approvals, 'executed');
    await held.stop();
    const [ended, result] = (await failed) as [{ id: string; status: string }, { content: any[] }];
    assert.equal(ended.id, second.id);
    assert.equal(ended.status, 'failed');
    assert.match(result.content[0].text, /Airlock shut down/);
  } finally {
    await held.stop();
  }
});
