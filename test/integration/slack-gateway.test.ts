// The whole path with Slack: an MCP agent calls the gateway, the request is posted to the fake Slack,
// a reviewer's real signed click on /slack/events (mounted on Airlock's own listener) decides, and the
// agent gets the demo lab's result or the reviewer's reason.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { blockKitProblems, startFakeSlack, type FakeSlack, type SlackCall } from '../helpers/fake-slack.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { blockActionPayload, postInteraction, viewSubmissionPayload } from '../helpers/slack-signing.js';

const SECRET = 'gateway-signing-secret';
const AGENT_TOKEN = 'ci-bot-token-0123456789';

const approval = (extra: Record<string, unknown> = {}) => ({
  action: 'require_approval',
  approval: { approvers: ['alice', 'bob'], min_approvals: 1, timeout: '15m', wait: '30s', ...extra },
});

const POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    list_vms: {},
    start_vm: approval(),
    stop_vm: approval({ timeout: '2s', wait: '2s' }),
    vm_management: approval({ approvers: ['S0ONCALL'] }),
  },
};

let redis: TestRedis;
let fake: FakeSlack;
let airlock: TestAirlock | undefined;

before(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await airlock?.stop();
  airlock = undefined;
  await fake?.stop();
});
after(async () => {
  await redis.stop();
});

async function start(): Promise<{ agent: Client; url: string }> {
  fake = await startFakeSlack();
  fake.users.set('U0ALICE', 'Alice Liddell');
  fake.users.set('U0BOB', 'Bob Builder');
  airlock = await startTestAirlock({
    redisUrl: redis.url,
    policies: { lab: POLICY },
    config: {
      publicUrl: 'https://airlock.example.com',
      agents: [{ id: 'ci-bot', token: AGENT_TOKEN, owner: 'U0OWNER' }],
      reviewers: [
        { id: 'alice', slack: 'U0ALICE' },
        { id: 'bob', slack: 'U0BOB' },
      ],
      slack: { botToken: 'xoxb-gateway', signingSecret: SECRET, channel: 'C0APPROVALS', apiUrl: fake.apiUrl },
    },
  });
  return { agent: await airlock.connect({ token: AGENT_TOKEN }), url: airlock.url };
}

/** The top-level request message posted for a call to `tool`. */
function posted(tool: string): Promise<SlackCall> {
  return fake.waitFor(
    'chat.postMessage',
    (c) =>
      c.params.thread_ts === undefined &&
      JSON.stringify(c.params.blocks).includes(`Approval needed: ${tool}`),
  );
}

/** The request id a posted message carries on its buttons. */
function requestIdOf(post: SlackCall): string {
  const id = /"value":"(ar_[A-Za-z0-9_-]{20})"/.exec(JSON.stringify(post.params.blocks))?.[1];
  assert.ok(id, 'the message carries the request id on its buttons');
  return id;
}

function messageWhen(post: SlackCall, predicate: (blocksJson: string) => boolean) {
  const channel = String(post.response?.channel);
  const ts = String(post.response?.ts);
  return fake.until(() => {
    const m = fake.message(channel, ts);
    return m && predicate(JSON.stringify(m.blocks)) ? m : undefined;
  });
}

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

describe('Slack approvals through the gateway', () => {
  test('approve in Slack: the agent gets the upstream result, the message is updated and threaded', async () => {
    const { agent, url } = await start();
    const progress: string[] = [];
    const call = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'web-01' } }, undefined, {
      onprogress: (p) => progress.push(p.message ?? ''),
    }) as Promise<CallToolResult>;
    const post = await posted('start_vm');
    assert.equal(post.params.channel, 'C0APPROVALS');
    const id = requestIdOf(post);
    const click = await postInteraction(
      url,
      SECRET,
      blockActionPayload({ user: { id: 'U0ALICE' }, actionId: 'airlock_approve', value: id }),
    );
    assert.equal(click.status, 200);
    const result = await call;
    assert.ok(!result.isError, text(result));
    assert.match(text(result), /web-01/);
    const reply = await fake.waitFor('chat.postMessage', (c) => c.params.thread_ts === post.response?.ts);
    assert.match(String(reply.params.text), /start_vm/);
    const m = await messageWhen(post, (b) => b.includes('Ran in'));
    assert.match(JSON.stringify(m.blocks), /Alice Liddell via Slack/);
    assert.ok(
      progress.some((p) => p.includes('#lab-approvals') && p.includes(id)),
      progress.join(' | '),
    );
  });

  test('reject with reason: the agent gets a tool error naming the reviewer and the reason', async () => {
    const { agent, url } = await start();
    const call = agent.callTool({
      name: 'start_vm',
      arguments: { vm_name: 'db-01' },
    }) as Promise<CallToolResult>;
    const id = requestIdOf(await posted('start_vm'));
    await postInteraction(
      url,
      SECRET,
      blockActionPayload({ user: { id: 'U0BOB' }, actionId: 'airlock_reject_reason', value: id }),
    );
    const open = await fake.waitFor('views.open');
    assert.equal((open.params.view as { private_metadata: string }).private_metadata, id);
    const submit = await postInteraction(
      url,
      SECRET,
      viewSubmissionPayload({ user: { id: 'U0BOB' }, requestId: id, reason: 'db-01 is being migrated' }),
    );
    assert.equal(submit.status, 200);
    const result = await call;
    assert.equal(result.isError, true);
    assert.match(text(result), /Bob Builder/);
    assert.match(text(result), /db-01 is being migrated/);
    const meta = result._meta?.['airlock/decision'] as { status: string; reviewer: string; reason: string };
    assert.equal(meta.status, 'rejected');
    assert.equal(meta.reviewer, 'bob');
    assert.equal(meta.reason, 'db-01 is being migrated');
  });

  test('expiry: the message is updated to expired, and the agent is told so', async () => {
    const { agent } = await start();
    const args = { name: 'stop_vm', arguments: { vm_name: 'web-01' } };
    const first = (await agent.callTool(args)) as CallToolResult;
    const post = await posted('stop_vm');
    await messageWhen(post, (b) => b.includes('Expired'));
    // Whether the first answer was "pending" or "expired", the identical retry gets the outcome.
    const outcome =
      first.isError && /expired/.test(text(first)) ? first : ((await agent.callTool(args)) as CallToolResult);
    assert.equal(outcome.isError, true);
    assert.match(text(outcome), /expired/);
  });

  test('a Slack user group decides through usergroups.users.list', async () => {
    const { agent, url } = await start();
    fake.groups.set('S0ONCALL', ['U0CAROL']);
    const call = agent.callTool({
      name: 'vm_management',
      arguments: { vm_name: 'web-01', action: 'snapshot', params: { snapshot_name: 'before-test' } },
    }) as Promise<CallToolResult>;
    const id = requestIdOf(await posted('vm_management'));
    await postInteraction(
      url,
      SECRET,
      blockActionPayload({ user: { id: 'U0CAROL' }, actionId: 'airlock_approve', value: id }),
    );
    const result = await call;
    assert.ok(!result.isError, text(result));
    assert.equal(fake.okCallsOf('usergroups.users.list')[0]?.params.usergroup, 'S0ONCALL');
  });

  test('forged and stale interaction POSTs get 401 on Airlock’s listener', async () => {
    const { agent, url } = await start();
    const call = agent.callTool({
      name: 'start_vm',
      arguments: { vm_name: 'web-01' },
    }) as Promise<CallToolResult>;
    const id = requestIdOf(await posted('start_vm'));
    const payload = blockActionPayload({ user: { id: 'U0ALICE' }, actionId: 'airlock_approve', value: id });
    assert.equal((await postInteraction(url, SECRET, payload, { signWith: 'guessed' })).status, 401);
    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    assert.equal((await postInteraction(url, SECRET, payload, { timestampSec: stale })).status, 401);
    assert.equal((await airlock!.airlock.approvals.get(id))?.status, 'pending');
    assert.equal((await postInteraction(url, SECRET, payload)).status, 200);
    assert.ok(!(await call).isError);
  });

  test('hostile arguments reach Slack inert and within Block Kit limits', async () => {
    const { agent } = await start();
    let deep: Record<string, unknown> = { end: '<!everyone>' };
    for (let i = 0; i < 40; i++) deep = { nested: deep };
    const call = agent.callTool({
      name: 'start_vm',
      arguments: {
        vm_name: '<!channel> <https://evil.example|click to approve>',
        comment: `<@U0ALICE> ${'A'.repeat(100 * 1024)}`,
        deep,
        unicode: 'ｗｅｂ－０１ \u202Egnp.exe 🧨 \u200b',
      },
    }) as Promise<CallToolResult>;
    const post = await posted('start_vm');
    assert.deepEqual(blockKitProblems(post.params.blocks, post.params.text), []);
    const json = JSON.stringify(post.params.blocks);
    for (const raw of [
      '<!channel>',
      '<!everyone>',
      '<https://evil.example|click to approve>',
      '<@U0ALICE>',
      '\u202E',
    ]) {
      assert.ok(!json.includes(raw), `raw ${JSON.stringify(raw)} must not reach Slack`);
    }
    assert.ok(json.includes('&lt;!channel&gt;'));
    assert.match(json, /truncated/);
    const id = requestIdOf(post);
    await airlock!.airlock.approvals.decide(id, {
      reviewerId: 'alice',
      via: 'cli',
      decision: 'reject',
      reason: 'test',
    });
    assert.equal((await call).isError, true);
  });
});
