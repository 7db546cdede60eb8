// "Approve with changes" in Slack through the whole gateway: the signed button click opens the modal
// on the fake Slack, signed view submissions are refused with errors (bad JSON, schema, policy, not an
// approver) or approve with the edited arguments, which the demo lab then runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { startFakeSlack, viewProblems, type FakeSlack, type SlackCall } from '../helpers/fake-slack.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { blockActionPayload, postInteraction, viewSubmissionPayload } from '../helpers/slack-signing.js';
import { DECISION_META_KEY } from '../../src/gateway/tool-error.js';

const SECRET = 'edit-signing-secret';
const AGENT_TOKEN = 'ci-bot-token-0123456789';

let redis: TestRedis;
let fake: FakeSlack;
let airlock: TestAirlock;
let agent: Client;

before(async () => {
  redis = await startRedis();
  fake = await startFakeSlack();
  fake.users.set('U0ALICE', 'Alice Liddell');
  fake.users.set('U0BOB', 'Bob Builder');
  const approval = { approvers: ['alice'], timeout: '15m', wait: '30s' };
  airlock = await startTestAirlock({
    redisUrl: redis.url,
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          start_vm: { action: 'require_approval', approval: { ...approval, allow_edit: true } },
          stop_vm: { action: 'require_approval', approval },
        },
      },
    },
    config: {
      agents: [{ id: 'ci-bot', token: AGENT_TOKEN }],
      reviewers: [
        { id: 'alice', slack: 'U0ALICE' },
        { id: 'bob', slack: 'U0BOB' },
      ],
      slack: { botToken: 'xoxb-edit', signingSecret: SECRET, channel: 'C0APPROVALS', apiUrl: fake.apiUrl },
    },
  });
  agent = await airlock.connect({ token: AGENT_TOKEN });
});
after(async () => {
  await airlock?.stop();
  await fake?.stop();
  await redis?.stop();
});

function posted(tool: string): Promise<SlackCall> {
  return fake.waitFor(
    'chat.postMessage',
    (c) =>
      c.params.thread_ts === undefined &&
      JSON.stringify(c.params.blocks).includes(`Approval needed: ${tool}`),
  );
}

function requestIdOf(post: SlackCall): string {
  const id = /"value":"(ar_[A-Za-z0-9_-]{20})"/.exec(JSON.stringify(post.params.blocks))?.[1];
  assert.ok(id, 'the message carries the request id on its buttons');
  return id;
}

/** A signed submission of the edit modal with `json` in its arguments input. */
async function submitEdit(user: string, requestId: string, json: string, comment?: string) {
  const payload = viewSubmissionPayload({
    user: { id: user },
    requestId,
    reason: '',
    callbackId: 'airlock_edit_modal',
  });
  (payload.view as { state: unknown }).state = {
    values: {
      airlock_edit_args: { airlock_edit_args_input: { type: 'plain_text_input', value: json } },
      airlock_edit_comment: {
        airlock_edit_comment_input: { type: 'plain_text_input', value: comment ?? null },
      },
    },
  };
  const res = await postInteraction(airlock.url, SECRET, payload);
  assert.equal(res.status, 200);
  return res.body
    ? (JSON.parse(res.body) as { response_action?: string; errors?: Record<string, string> })
    : {};
}

test('only a rule with allow_edit offers "Approve with changes"', async () => {
  const call = agent.callTool({
    name: 'stop_vm',
    arguments: { vm_name: 'web-01' },
  }) as Promise<CallToolResult>;
  const post = await posted('stop_vm');
  assert.doesNotMatch(JSON.stringify(post.params.blocks), /airlock_edit/);
  const id = requestIdOf(post);
  const submitted = await submitEdit('U0ALICE', id, '{"vm_name": "db-01"}');
  assert.equal(submitted.response_action, 'errors');
  assert.match(submitted.errors!.airlock_edit_args!, /does not allow edits/);
  await airlock.airlock.approvals.decide(id, {
    reviewerId: 'alice',
    via: 'api',
    decision: 'reject',
    reason: 'done',
  });
  await call;
});

test('the modal opens prefilled; bad JSON, schema and approver refusals keep it open; a good edit approves and runs it', async () => {
  const call = agent.callTool({
    name: 'start_vm',
    arguments: { vm_name: 'db-01' },
  }) as Promise<CallToolResult>;
  const post = await posted('start_vm');
  assert.match(JSON.stringify(post.params.blocks), /"action_id":"airlock_edit"/);
  const id = requestIdOf(post);

  await postInteraction(
    airlock.url,
    SECRET,
    blockActionPayload({ user: { id: 'U0BOB' }, actionId: 'airlock_edit', value: id }),
  );
  await fake.waitFor(
    'chat.postEphemeral',
    (c) => c.params.user === 'U0BOB' && /may not decide request/.test(String(c.params.text)),
  );
  assert.equal(fake.okCallsOf('views.open').length, 0, 'no editor for someone who may not decide');

  const click = await postInteraction(
    airlock.url,
    SECRET,
    blockActionPayload({ user: { id: 'U0ALICE' }, actionId: 'airlock_edit', value: id }),
  );
  assert.equal(click.status, 200);
  const open = await fake.waitFor('views.open');
  const view = open.params.view as { callback_id: string; private_metadata: string; blocks: unknown[] };
  assert.equal(view.callback_id, 'airlock_edit_modal');
  assert.equal(view.private_metadata, id);
  assert.deepEqual(viewProblems(view), []);
  assert.match(JSON.stringify(view.blocks), /"initial_value":"\{\\n {2}\\"vm_name\\": \\"db-01\\"\\n\}"/);

  const badJson = await submitEdit('U0ALICE', id, '{\n  "vm_name": "kali-01",\n}');
  assert.equal(badJson.response_action, 'errors');
  assert.match(badJson.errors!.airlock_edit_args!, /not valid JSON: error at line 3, column 1/);
  const schema = await submitEdit('U0ALICE', id, '{"vm_name": 42}');
  assert.equal(schema.response_action, 'errors');
  assert.match(schema.errors!.airlock_edit_args!, /\$\.vm_name: must be string/);
  const bob = await submitEdit('U0BOB', id, '{"vm_name": "kali-01"}');
  assert.equal(bob.response_action, 'errors');
  assert.match(bob.errors!.airlock_edit_args!, /not an approver/);
  const still = (await airlock.airlock.approvals.get(id))!;
  assert.equal(still.status, 'pending');
  assert.deepEqual(still.args, { vm_name: 'db-01' });

  const ok = await submitEdit('U0ALICE', id, '{"vm_name": "kali-01"}', 'the workstation, not the database');
  assert.equal(ok.response_action, undefined, JSON.stringify(ok));
  const result = await call;
  assert.ok(!result.isError, JSON.stringify(result));
  assert.match((result.content as { text: string }[])[0]!.text, /kali-01/);
  const meta = result._meta?.[DECISION_META_KEY] as { edited: { by: string; originalHash: string } };
  assert.equal(meta.edited.by, 'alice');
  assert.equal(meta.edited.originalHash, still.argsHash);

  const channel = String(post.response?.channel);
  const ts = String(post.response?.ts);
  const m = await fake.until(() => {
    const msg = fake.message(channel, ts);
    return msg && JSON.stringify(msg.blocks).includes('Ran in') ? msg : undefined;
  });
  const blocks = JSON.stringify(m.blocks);
  assert.match(blocks, /Approved with changes\* by Alice Liddell via Slack/);
  assert.match(blocks, /the workstation, not the database/);
  assert.ok(blocks.includes(still.argsHash), 'the original hash is named');
  assert.match(blocks, /kali-01/);
  assert.doesNotMatch(blocks, /airlock_edit/, 'buttons are gone');
});
