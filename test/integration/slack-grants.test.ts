// Grants from Slack, the whole path: an MCP agent calls the gateway, the request message offers
// "Approve for…", a reviewer's real signed menu choice on /slack/events approves with a grant, the next
// matching call runs at once without a new message, and the Home tab lists the grant with a Revoke
// button whose signed click holds the following call again.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';
import type { Grant } from '../../src/core/grants/grant.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { startFakeSlack, type FakeSlack, type SlackCall } from '../helpers/fake-slack.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { untilFile } from '../helpers/changes.js';
import { blockActionPayload, postInteraction, slackSignatureHeaders } from '../helpers/slack-signing.js';

const SECRET = 'grants-signing-secret';
const AGENT_TOKEN = 'ci-bot-token-0123456789';
const TEAM = { id: 'T0FAKE', domain: 'fake' };

const approval = (extra: Record<string, unknown> = {}) => ({
  action: 'require_approval',
  approval: { approvers: ['alice', 'bob'], timeout: '15m', wait: '30s', ...extra },
});

const POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    start_vm: approval({ grants: { max: '8h', scopes: ['exact', 'tool'] } }),
    stop_vm: approval({ grants: { max: '1h', scopes: ['exact'] } }),
    list_vms: approval(),
    get_vm_console_ticket: approval({ min_approvals: 2, grants: { max: '8h', scopes: ['exact', 'tool'] } }),
  },
};

let redis: TestRedis;
let fake: FakeSlack;
let gw: TestAirlock | undefined;
let agent: Client;

before(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  await fake?.stop();
});
after(async () => {
  await redis.stop();
});

async function start(): Promise<void> {
  fake = await startFakeSlack();
  fake.users.set('U0ALICE', 'Alice Liddell');
  fake.users.set('U0BOB', 'Bob Builder');
  gw = await startTestAirlock({
    redisUrl: redis.url,
    policies: { lab: POLICY },
    config: {
      agents: [{ id: 'ci-bot', token: AGENT_TOKEN, owner: 'U0OWNER' }],
      reviewers: [
        { id: 'alice', slack: 'U0ALICE' },
        { id: 'bob', slack: 'U0BOB' },
      ],
      slack: { botToken: 'xoxb-grants', signingSecret: SECRET, channel: 'C0APPROVALS', apiUrl: fake.apiUrl },
    },
  });
  agent = await gw.connect({ token: AGENT_TOKEN });
}

/** Starts a call and resolves once its request is stored and its Slack message posted. */
async function held(name: string, args: Record<string, unknown>) {
  const created = once(gw!.airlock.approvals, 'created') as Promise<[StoredRecord]>;
  const result = agent.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  // Calls a test leaves pending end with the connection when the gateway stops.
  result.catch(() => {});
  const [record] = await created;
  const post = await fake.waitFor(
    'chat.postMessage',
    (c) => c.params.thread_ts === undefined && JSON.stringify(c.params.blocks ?? []).includes(record.id),
  );
  return { record, result, post };
}

/** A call that runs at once: no new request, no new Slack message, no decision in its result. */
async function runsAtOnce(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const created: string[] = [];
  const onCreated = (r: StoredRecord) => void created.push(r.id);
  gw!.airlock.approvals.on('created', onCreated);
  // Thread replies (an earlier call's outcome) may still arrive; a new request would be a top-level post.
  const topLevel = () => fake.callsOf('chat.postMessage').filter((c) => c.params.thread_ts === undefined);
  const posts = topLevel().length;
  const result = (await agent.callTool({ name, arguments: args })) as CallToolResult;
  gw!.airlock.approvals.off('created', onCreated);
  assert.deepEqual(created, [], 'no new request');
  assert.equal(decisionOf(result), undefined, JSON.stringify(result));
  assert.ok(!result.isError, JSON.stringify(result));
  assert.equal(topLevel().length, posts, 'no new Slack message');
  return result;
}

interface Select {
  action_id: string;
  options?: { text: { text: string }; value: string }[];
  option_groups?: { label: { text: string }; options: { text: { text: string }; value: string }[] }[];
}

/** The "Approve for…" menu of a posted request message, if it has one. */
function menuOf(post: SlackCall): Select | undefined {
  const blocks = post.params.blocks as { type: string; elements?: Select[] }[];
  return blocks
    .flatMap((b) => (b.type === 'actions' ? (b.elements ?? []) : []))
    .find((e) => e.action_id === 'airlock_approve_for');
}

/** A signed choice in the "Approve for…" menu, with any option value (a forged one included). */
function choose(user: string, value: string, container: 'message' | 'home' = 'message') {
  const payload = blockActionPayload({ user: { id: user }, actionId: 'airlock_approve_for', value: '' });
  payload.actions = [
    {
      type: 'static_select',
      action_id: 'airlock_approve_for',
      block_id: 'airlock_actions',
      selected_option: { text: { type: 'plain_text', text: 'For 1h' }, value },
      action_ts: `${Date.now() / 1000}`,
    },
  ];
  if (container === 'home') homeContainer(payload);
  return postInteraction(gw!.url, SECRET, payload);
}

/** Makes a block_actions payload come from the Home tab: a view container, no channel, no message. */
function homeContainer(payload: Record<string, unknown>): void {
  payload.container = { type: 'view', view_id: 'V0HOME' };
  payload.view = { id: 'V0HOME', team_id: TEAM.id, type: 'home', callback_id: 'airlock_home', blocks: [] };
  delete payload.channel;
  delete payload.message;
}

/** A signed click on a grant's Revoke button on the Home tab. */
function revokeClick(user: string, grantId: string) {
  const payload = blockActionPayload({
    user: { id: user },
    actionId: 'airlock_revoke_grant',
    value: grantId,
  });
  homeContainer(payload);
  return postInteraction(gw!.url, SECRET, payload);
}

/** The user opens the app's Home tab (a signed Events API callback). */
async function openHome(user: string): Promise<void> {
  const raw = JSON.stringify({
    token: 'legacy-verification-token',
    team_id: TEAM.id,
    api_app_id: 'A0AIRLOCK',
    event: { type: 'app_home_opened', user, channel: `D${user.slice(1)}`, tab: 'home', event_ts: '1.0' },
    type: 'event_callback',
    event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
    event_time: Math.floor(Date.now() / 1000),
  });
  const res = await fetch(`${gw!.url}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...slackSignatureHeaders(SECRET, raw) },
    body: raw,
  });
  await res.text();
  assert.equal(res.status, 200);
}

/** The first views.publish to `user` from call number `since` on whose view (as JSON) satisfies `predicate`. */
async function published(user: string, predicate: (json: string) => boolean, since = 0) {
  const call = await fake.until(
    () =>
      fake.calls
        .slice(since)
        .find(
          (c) =>
            c.method === 'views.publish' &&
            c.params.user_id === user &&
            (c.error !== undefined || predicate(JSON.stringify(c.params.view))),
        ),
    10_000,
    () => `no matching views.publish to ${user}: ${fake.summary()}`,
  );
  assert.equal(call.error, undefined, `views.publish refused: ${JSON.stringify(call.response)}`);
  return call.params.view as { blocks: Record<string, any>[] };
}

/** The DM the app sent `user` (how Home tab answers reach them) whose text matches. */
function dmTo(user: string, pattern: RegExp): Promise<SlackCall> {
  return fake.waitFor(
    'chat.postMessage',
    (c) => c.params.channel === user && pattern.test(String(c.params.text)),
  );
}

function ephemeralTo(user: string, pattern: RegExp): Promise<SlackCall> {
  return fake.waitFor(
    'chat.postEphemeral',
    (c) => c.params.user === user && pattern.test(String(c.params.text)),
  );
}

/** Approves `name` from Slack with a grant; the grant as the service lists it. */
async function grantFromSlack(name: string, args: Record<string, unknown>, duration: string, scope: string) {
  const { record, result, post } = await held(name, args);
  const created = once(gw!.airlock.grants, 'created') as Promise<[Grant]>;
  assert.equal((await choose('U0ALICE', `${record.id} ${duration} ${scope}`)).status, 200);
  const [grant] = await created;
  const outcome = await result;
  assert.ok(!outcome.isError, JSON.stringify(outcome));
  return { grant, record, post };
}

describe('Approve for… in Slack', () => {
  test('the menu offers the rule’s durations (never above max) and scopes; a choice grants and the next call runs at once', async () => {
    await start();
    const { record, result, post } = await held('start_vm', { vm_name: 'web-01' });
    const menu = menuOf(post);
    assert.ok(menu, 'start_vm offers grants');
    assert.deepEqual(
      menu.option_groups?.map((g) => g.label.text),
      ['start_vm, these exact arguments', 'start_vm, any arguments'],
    );
    for (const [i, scope] of ['exact', 'tool'].entries()) {
      assert.deepEqual(
        menu.option_groups![i]!.options.map((o) => o.value),
        ['15m', '1h', '4h', '8h'].map((d) => `${record.id} ${d} ${scope}`),
      );
    }
    const created = once(gw!.airlock.grants, 'created') as Promise<[Grant]>;
    assert.equal((await choose('U0ALICE', `${record.id} 1h tool`)).status, 200);
    const [grant] = await created;
    assert.equal(grant.scope, 'tool');
    assert.equal(grant.expiresAt - grant.createdAt, 60 * 60_000);
    assert.deepEqual(grant.grantedBy, ['alice']);
    assert.ok(!(await result).isError);

    const channel = String(post.response?.channel);
    const ts = String(post.response?.ts);
    const updated = await fake.until(() => {
      const json = JSON.stringify(fake.message(channel, ts)?.blocks ?? []);
      return json.includes(grant.id) && json.includes('Ran in') ? json : undefined;
    });
    assert.match(updated, /Alice Liddell via Slack at [^"]* with a 1h grant \(tool scope\)/);
    assert.doesNotMatch(updated, /airlock_approve_for/, 'the menu is gone once decided');

    await runsAtOnce('start_vm', { vm_name: 'db-01' });
    const listed = (await gw!.airlock.grants.list({ tool: 'start_vm' })).find((g) => g.id === grant.id);
    assert.equal(listed?.uses, 1);
  });

  test('a rule without grants has no menu; one with a single scope offers only it, up to its max', async () => {
    await start();
    const plain = await held('list_vms', {});
    assert.equal(menuOf(plain.post), undefined);
    const one = await held('stop_vm', { vm_name: 'web-01' });
    const menu = menuOf(one.post);
    assert.equal(menu?.option_groups, undefined);
    assert.deepEqual(
      menu?.options?.map((o) => o.value),
      [`${one.record.id} 15m exact`, `${one.record.id} 1h exact`],
    );
  });

  test('forged choices (over max, a scope not offered, a rule without grants, not an approver) are refused and change nothing', async () => {
    await start();
    const { record, post } = await held('stop_vm', { vm_name: 'web-01' });
    const before = fake.message(String(post.response?.channel), String(post.response?.ts))?.blocks;
    const refusedEvents: string[] = [];
    gw!.airlock.approvals.on('refused', (id) => refusedEvents.push(id));

    await choose('U0ALICE', `${record.id} 2h exact`);
    await ephemeralTo('U0ALICE', /Grant for 2h is longer than lab\/stop_vm allows \(max 1h\)/);
    await choose('U0ALICE', `${record.id} 30m tool`);
    await ephemeralTo('U0ALICE', /Grant scope "tool" is not offered by lab\/stop_vm; offered: exact/);
    await choose('U0ALICE', `${record.id} 1h everything`);
    await ephemeralTo('U0ALICE', /does not name an Airlock grant/);
    await choose('U0CAROL', `${record.id} 15m exact`);
    await ephemeralTo('U0CAROL', /not an approver for lab\/stop_vm/);
    assert.deepEqual(refusedEvents, [record.id], 'the non-approver’s refusal is recorded for the audit');

    const plain = await held('list_vms', {});
    await choose('U0BOB', `${plain.record.id} 15m exact`);
    await ephemeralTo('U0BOB', /offers no grants/);

    const after = await gw!.airlock.approvals.get(record.id);
    assert.equal(after?.status, 'pending');
    assert.deepEqual(after?.decisions, []);
    assert.equal((await gw!.airlock.approvals.get(plain.record.id))?.status, 'pending');
    assert.deepEqual(await gw!.airlock.grants.list(), []);
    assert.deepEqual(
      fake.message(String(post.response?.channel), String(post.response?.ts))?.blocks,
      before,
      'the message is unchanged',
    );
  });
});

describe('Home tab grants', () => {
  test('lists active grants to their rule’s approvers; Revoke ends one and the next call is held again', async () => {
    await start();
    const { grant } = await grantFromSlack('start_vm', { vm_name: 'web-01' }, '4h', 'tool');
    await runsAtOnce('start_vm', { vm_name: 'dc-01' });

    await openHome('U0BOB');
    const home = await published('U0BOB', (v) => v.includes(grant.id));
    const section = home.blocks.find((b) => JSON.stringify(b).includes(grant.id))!;
    const text = String(section.text.text);
    assert.match(text, /`start_vm`\* on `lab` · agent `ci-bot` · tool scope/);
    assert.match(text, /Granted by alice · expires in (3h 59m|4h) \(<!date\^/);
    assert.match(text, /· 1 use/);
    assert.equal(section.accessory.action_id, 'airlock_revoke_grant');
    assert.equal(section.accessory.value, grant.id);

    // Someone who approves nothing sees no grants, and a forged Revoke from them changes nothing.
    await openHome('U0CAROL');
    const carols = await published('U0CAROL', () => true);
    assert.doesNotMatch(JSON.stringify(carols), /gr_/);
    const refused = once(gw!.airlock.grants, 'revokeRefused') as Promise<[Grant, string]>;
    await revokeClick('U0CAROL', grant.id);
    await dmTo('U0CAROL', /not an approver for lab\/start_vm, so may not revoke/);
    assert.ok((await gw!.airlock.grants.list()).some((g) => g.id === grant.id));
    assert.equal((await refused)[0].id, grant.id);
    const file = gw!.airlock.config.audit.file!;
    const line = await untilFile(
      file,
      () =>
        readFileSync(file, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
          .find((e) => e.event === 'grant.revoke_refused' && e.grantId === grant.id),
      'the audit line of the refused revoke',
    );
    assert.equal(line.by, 'slack:U0CAROL', 'a Slack user who is no configured reviewer');
    assert.equal(line.via, 'slack');
    assert.equal(line.code, 'NOT_AN_APPROVER');

    const revoked = once(gw!.airlock.grants, 'revoked') as Promise<[Grant, string]>;
    const since = fake.calls.length;
    assert.equal((await revokeClick('U0BOB', grant.id)).status, 200);
    const [gone, by] = await revoked;
    assert.equal(gone.id, grant.id);
    assert.equal(by, 'bob');
    await dmTo('U0BOB', new RegExp(`Revoked grant ${grant.id}`));
    const refreshed = await published('U0BOB', () => true, since);
    assert.doesNotMatch(JSON.stringify(refreshed), new RegExp(grant.id));

    const again = await held('start_vm', { vm_name: 'kali-01' });
    assert.equal(again.record.status, 'pending');

    await revokeClick('U0BOB', grant.id);
    await dmTo('U0BOB', /is not active any more/);
  });

  test('with two approvals needed, both choices make one grant: the shorter, the narrower', async () => {
    await start();
    const { record, result, post } = await held('get_vm_console_ticket', { vm_name: 'db-01' });
    const created = once(gw!.airlock.grants, 'created') as Promise<[Grant]>;
    await choose('U0ALICE', `${record.id} 4h tool`);
    const channel = String(post.response?.channel);
    const ts = String(post.response?.ts);
    await fake.until(() => JSON.stringify(fake.message(channel, ts)?.blocks ?? []).includes('1 of 2'));
    assert.deepEqual(await gw!.airlock.grants.list(), [], 'no grant before the quorum');
    await choose('U0BOB', `${record.id} 1h exact`);
    const [grant] = await created;
    assert.equal(grant.scope, 'exact');
    assert.equal(grant.expiresAt - grant.createdAt, 60 * 60_000);
    assert.deepEqual(grant.grantedBy, ['alice', 'bob']);
    assert.ok(!(await result).isError);
    const json = await fake.until(() => {
      const j = JSON.stringify(fake.message(channel, ts)?.blocks ?? []);
      return j.includes(grant.id) ? j : undefined;
    });
    assert.match(json, /with a 4h grant \(tool scope\)/);
    assert.match(json, /with a 1h grant \(exact scope\)/);
  });
});
