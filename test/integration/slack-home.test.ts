// The App Home tab and `/airlock` against a real ApprovalService on a real Redis and the fake Slack Web
// API: every flow goes through real signed POSTs to /slack/events (event_callback JSON for
// app_home_opened, form-encoded slash commands and block_actions), exactly as Slack sends them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { App } from '@slack/bolt';
import { argumentHash, dedupeKey } from '../../src/core/approval/canonical.js';
import { newRequestId } from '../../src/core/approval/request-id.js';
import type { ApprovalRecord } from '../../src/core/approval/types.js';
import { silentLogger } from '../../src/log.js';
import type { ReviewerQueue } from '../../src/slack/reviewer-queue.js';
import { registerSlashCommand } from '../../src/slack/slash-command.js';
import type { SlackCall } from '../helpers/fake-slack.js';
import {
  RIG_SIGNING_SECRET as SECRET,
  rejection,
  useSlackRigs,
  type SlackRig,
} from '../helpers/slack-rig.js';
import { postInteraction, postSlashCommand, slackSignatureHeaders } from '../helpers/slack-signing.js';

const rigs = useSlackRigs();
const rig = rigs.rig;

const TEAM = { id: 'T0FAKE', domain: 'fake' };

/** POSTs a signed Events API `event_callback` as Slack does: a JSON body, signed like every request. */
async function postEvent(r: SlackRig, event: Record<string, unknown>): Promise<number> {
  const raw = JSON.stringify({
    token: 'legacy-verification-token',
    team_id: TEAM.id,
    context_team_id: TEAM.id,
    api_app_id: 'A0AIRLOCK',
    event: { ...event, event_ts: `${(Date.now() / 1000).toFixed(6)}` },
    type: 'event_callback',
    event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [
      {
        enterprise_id: null,
        team_id: TEAM.id,
        user_id: 'U0AIRLOCK',
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
  });
  const res = await fetch(`${r.url}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...slackSignatureHeaders(SECRET, raw) },
    body: raw,
  });
  await res.text();
  return res.status;
}

/** The user opens the app's Home tab. */
function openHome(r: SlackRig, user: string, tab: 'home' | 'messages' = 'home'): Promise<number> {
  return postEvent(r, { type: 'app_home_opened', user, channel: `D${user.slice(1)}`, tab });
}

/** A `block_actions` payload for a button on the Home tab: a view container, no channel, no message. */
function homeClickPayload(user: string, actionId: string, id: string): Record<string, unknown> {
  const name = user.toLowerCase();
  return {
    type: 'block_actions',
    user: { id: user, username: name, name, team_id: TEAM.id },
    api_app_id: 'A0AIRLOCK',
    token: 'legacy-verification-token',
    container: { type: 'view', view_id: 'V0HOME' },
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    team: TEAM,
    enterprise: null,
    is_enterprise_install: false,
    view: {
      id: 'V0HOME',
      team_id: TEAM.id,
      type: 'home',
      blocks: [],
      private_metadata: '',
      callback_id: 'airlock_home',
      state: { values: {} },
      hash: 'fakehash',
      title: { type: 'plain_text', text: 'View Title' },
      clear_on_close: false,
      notify_on_close: false,
      close: null,
      submit: null,
      previous_view_id: null,
      root_view_id: 'V0HOME',
      app_id: 'A0AIRLOCK',
      external_id: '',
      app_installed_team_id: TEAM.id,
      bot_id: 'B0AIRLOCK',
    },
    actions: [
      {
        action_id: actionId,
        block_id: `airlock_actions:${id}`,
        text: { type: 'plain_text', text: 'Approve', emoji: true },
        value: id,
        type: 'button',
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
}

interface View {
  type: string;
  blocks: Record<string, any>[];
}

/**
 * The first views.publish to `user` after call number `since` whose view (as JSON) satisfies
 * `predicate`; a publish Slack would refuse fails the test at once instead of timing out.
 */
async function published(
  r: SlackRig,
  user: string,
  predicate: (json: string) => boolean = () => true,
  since = 0,
): Promise<View> {
  const call = await r.fake.until(
    () =>
      r.fake.calls
        .slice(since)
        .find(
          (c: SlackCall) =>
            c.method === 'views.publish' &&
            c.params.user_id === user &&
            (c.error !== undefined || predicate(JSON.stringify(c.params.view))),
        ),
    10_000,
    () =>
      `no matching views.publish to ${user}; got: ${r.fake
        .callsOf('views.publish')
        .map((c) => `${String(c.params.user_id)}:${JSON.stringify(c.params.view).slice(0, 300)}`)
        .join(' | ')}`,
  );
  assert.equal(call.error, undefined, `views.publish refused: ${JSON.stringify(call.response)}`);
  return call.params.view as View;
}

function buttonsOf(view: { blocks: Record<string, any>[] }): { action_id: string; value: string }[] {
  return view.blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements);
}

/** A `/airlock …` command as Slack sends it; the answer is the ack body. */
async function slash(r: SlackRig, user: string, text: string): Promise<{ text: string; blocks?: any[] }> {
  const res = await postSlashCommand(r.url, SECRET, { command: '/airlock', text, userId: user });
  assert.equal(res.status, 200);
  const body = JSON.parse(res.body) as { response_type: string; text: string; blocks?: any[] };
  assert.equal(body.response_type, 'ephemeral');
  return body;
}

/** Stores `n` pending requests directly (no Slack post, no deadline job): a big queue, fast. */
async function seedPending(r: SlackRig, n: number, approvers: string[]): Promise<string[]> {
  const ids: string[] = [];
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const id = newRequestId();
    const args = { vm_name: `vm-${i}` };
    const record: ApprovalRecord = {
      id,
      createdAt: now + i,
      expiresAt: now + 600_000 + i,
      server: 'lab',
      tool: 'start_vm',
      agent: 'ci-bot',
      args,
      argsHash: argumentHash('lab', 'start_vm', args),
      rule: 'lab/start_vm',
      approval: {
        approvers,
        minApprovals: 1,
        timeoutMs: 600_000,
        waitMs: 30_000,
        onTimeout: 'reject',
        allowSelfApproval: false,
      },
      status: 'pending',
      decisions: [],
    };
    await r.store.createOrAttach(record, dedupeKey('ci-bot', 'lab', 'start_vm', args));
    ids.push(id);
  }
  return ids;
}

describe('Slack App Home', () => {
  test('opening Home publishes the viewer’s pending requests with the channel message’s buttons', async () => {
    const r = await rig();
    r.fake.groups.set('S0ONCALL', ['U0CAROL']);
    const a = r.hold({}, { vm_name: 'web-01' });
    const b = r.hold({ approvers: ['bob'] }, { vm_name: 'db-01' });
    const c = r.hold({ approvers: ['S0ONCALL', 'alice'] }, { vm_name: 'cache-01' });
    await Promise.all([a, b, c].map((h) => r.posted(h.id)));

    assert.equal(await openHome(r, 'U0ALICE'), 200);
    const view = await published(r, 'U0ALICE');
    assert.equal(view.type, 'home');
    const json = JSON.stringify(view);
    assert.equal(view.blocks[0]?.type, 'header');
    assert.match(view.blocks[0]?.text.text, /^2 requests waiting for your approval$/);
    assert.ok(json.includes(a.id) && json.includes(c.id), 'lists both of Alice’s requests');
    assert.ok(!json.includes(b.id), 'not the one only Bob may decide');
    for (const fact of ['start_vm', 'lab', 'ci-bot', 'lab/start_vm', 'web-01', '<!date^'])
      assert.ok(json.includes(fact), `shows ${fact}`);
    assert.ok(json.includes(`http://127.0.0.1:7420/#/requests/${a.id}|Open in console`), 'console link');
    const buttons = buttonsOf(view);
    for (const id of [a.id, c.id]) {
      assert.deepEqual(
        buttons.filter((x) => x.value === id).map((x) => x.action_id),
        ['airlock_approve', 'airlock_reject', 'airlock_reject_reason'],
      );
    }
    // The same buttons as the channel message, so the existing handlers decide.
    const post = await r.posted(a.id);
    const channelButtons = buttonsOf({ blocks: post.params.blocks as any[] });
    assert.deepEqual(
      buttons.filter((x) => x.value === a.id),
      channelButtons,
    );

    // A user-group member who is no configured reviewer sees the group's request only.
    await openHome(r, 'U0CAROL');
    const carol = JSON.stringify(await published(r, 'U0CAROL'));
    assert.ok(carol.includes(c.id) && !carol.includes(a.id) && !carol.includes(b.id));
  });

  test('a user who is not an approver sees the empty state; the Messages tab publishes nothing', async () => {
    const r = await rig();
    const { id } = r.hold();
    await r.posted(id);
    await openHome(r, 'U0MALLORY', 'messages');
    await openHome(r, 'U0MALLORY');
    const view = await published(r, 'U0MALLORY');
    const json = JSON.stringify(view);
    assert.equal(view.blocks[0]?.text.text, 'Nothing waiting for you');
    assert.match(json, /not an approver for any pending request/);
    assert.ok(!json.includes(id));
    assert.deepEqual(buttonsOf(view), []);
    assert.equal(
      r.fake.callsOf('views.publish').filter((c) => c.params.user_id === 'U0MALLORY').length,
      1,
      'the Messages tab is not a Home visit',
    );
  });

  test('Approve clicked on the Home tab decides, and the Home is re-published without it', async () => {
    const r = await rig();
    const a = r.hold({}, { vm_name: 'web-01' });
    const b = r.hold({}, { vm_name: 'web-02' });
    await Promise.all([r.posted(a.id), r.posted(b.id)]);
    await openHome(r, 'U0ALICE');
    await published(r, 'U0ALICE', (j) => j.includes(a.id) && j.includes(b.id));

    const since = r.fake.calls.length;
    const click = await postInteraction(r.url, SECRET, homeClickPayload('U0ALICE', 'airlock_approve', a.id));
    assert.equal(click.status, 200);
    assert.deepEqual((await a.result).content, [{ type: 'text', text: 'started web-01' }]);
    const after = await published(r, 'U0ALICE', (j) => !j.includes(a.id), since);
    const json = JSON.stringify(after);
    assert.ok(json.includes(b.id), 'the other request stays');
    assert.match(after.blocks[0]?.text.text, /^1 request waiting/);
    const record = await r.approvals.get(a.id);
    assert.equal(record?.decisions[0]?.by, 'alice');
    assert.equal(record?.decisions[0]?.via, 'slack');
  });

  test('a late click from a stale Home is refused as today, and the Home is refreshed', async () => {
    const r = await rig();
    const { id, result } = r.hold();
    await r.posted(id);
    await openHome(r, 'U0ALICE');
    await published(r, 'U0ALICE', (j) => j.includes(id));
    let since = r.fake.calls.length;
    await r.click('U0BOB', 'airlock_reject', id);
    await rejection(result);
    // Bob's decision refreshes Alice's Home by itself.
    await published(r, 'U0ALICE', (j) => !j.includes(id), since);
    since = r.fake.calls.length;
    await postInteraction(r.url, SECRET, homeClickPayload('U0ALICE', 'airlock_approve', id));
    const eph = await r.ephemeralTo('U0ALICE', /already/i);
    assert.equal(eph.params.channel, 'C0APPROVALS');
    await published(r, 'U0ALICE', (j) => j.includes('Nothing waiting for you'), since);
    assert.equal((await r.approvals.get(id))?.status, 'rejected');
  });

  test('new requests and expiries re-publish the Homes of recent viewers', async () => {
    const r = await rig();
    await openHome(r, 'U0BOB');
    await published(r, 'U0BOB', (j) => j.includes('Nothing waiting for you'));
    const { id, result } = r.hold({ timeoutMs: 1500, waitMs: 10_000 });
    await published(r, 'U0BOB', (j) => j.includes(id));
    const since = r.fake.calls.length;
    assert.equal((await rejection(result)).code, 'APPROVAL_EXPIRED');
    await published(r, 'U0BOB', (j) => j.includes('Nothing waiting for you'), since);
  });

  test('hostile argument text is escaped and secrets are redacted', async () => {
    const r = await rig();
    const hostile = '<!channel> <@U0BOB> & <https://evil.example|click> ```fence```';
    const { id } = r.hold({}, { vm_name: hostile, api_token: 'hunter2-secret' });
    await r.posted(id);
    await openHome(r, 'U0ALICE');
    const home = JSON.stringify(await published(r, 'U0ALICE', (j) => j.includes(id)));
    const list = JSON.stringify(await slash(r, 'U0ALICE', 'pending'));
    const detail = JSON.stringify(await slash(r, 'U0ALICE', `show ${id}`));
    for (const [where, json] of Object.entries({ home, list, detail })) {
      assert.ok(json.includes('&lt;!channel&gt;'), `${where}: shown escaped`);
      for (const live of ['<!channel>', '<@U0BOB>', '<https://evil.example']) {
        assert.ok(!json.includes(live), `${where}: ${live} is inert`);
      }
      assert.ok(!json.includes('hunter2'), `${where}: the token is redacted`);
    }
  });

  test('150 pending requests stay within 100 blocks and point at the console for the rest', async () => {
    const r = await rig();
    await seedPending(r, 150, ['alice']);
    await openHome(r, 'U0ALICE');
    const view = await published(r, 'U0ALICE');
    assert.ok(view.blocks.length <= 100, `${view.blocks.length} blocks`);
    assert.match(view.blocks[0]?.text.text, /^150 requests waiting/);
    const shown = buttonsOf(view).filter((x) => x.action_id === 'airlock_approve').length;
    assert.ok(shown >= 20, `shows ${shown}`);
    const last = JSON.stringify(view.blocks.at(-1));
    assert.ok(last.includes(`…and ${150 - shown} more in <http://127.0.0.1:7420/|the console>`), last);

    const list = await slash(r, 'U0ALICE', 'pending');
    assert.ok((list.blocks?.length ?? 0) <= 50, `${list.blocks?.length} blocks in the ephemeral list`);
    assert.match(JSON.stringify(list.blocks?.at(-1)), /more in/);
  });
});

describe('/airlock', () => {
  test('pending lists the caller’s requests with id, tool, agent, expiry and buttons', async () => {
    const r = await rig();
    const a = r.hold({}, { vm_name: 'web-01' });
    const b = r.hold({ approvers: ['bob'] }, { vm_name: 'db-01' });
    await Promise.all([r.posted(a.id), r.posted(b.id)]);
    const body = await slash(r, 'U0ALICE', 'pending');
    assert.match(body.text, /^1 request waiting for your approval/);
    const json = JSON.stringify(body.blocks);
    for (const fact of [a.id, 'start_vm', 'ci-bot', '<!date^', 'web-01'])
      assert.ok(json.includes(fact), fact);
    assert.ok(!json.includes(b.id));
    assert.deepEqual(
      buttonsOf({ blocks: body.blocks ?? [] }).map((x) => [x.action_id, x.value]),
      [
        ['airlock_approve', a.id],
        ['airlock_reject', a.id],
        ['airlock_reject_reason', a.id],
      ],
    );
    const bob = await slash(r, 'U0BOB', 'PENDING');
    assert.ok(JSON.stringify(bob.blocks).includes(a.id) && JSON.stringify(bob.blocks).includes(b.id));
  });

  test('pending for someone who approves nothing says so', async () => {
    const r = await rig();
    const { id } = r.hold();
    await r.posted(id);
    const body = await slash(r, 'U0MALLORY', 'pending');
    assert.equal(body.text, 'You are not an approver for any pending request.');
    assert.ok(!JSON.stringify(body).includes(id));
  });

  test('show ID: the detail of a pending, then of a rejected and of an executed request', async () => {
    const r = await rig();
    const a = r.hold({}, { vm_name: 'web-01' });
    await r.posted(a.id);
    let body = await slash(r, 'U0ALICE', `show ${a.id}`);
    let json = JSON.stringify(body.blocks);
    assert.match(body.text, /^Pending: start_vm/);
    for (const fact of [a.id, 'web-01', 'None yet', 'lab/start_vm', `#/requests/${a.id}`])
      assert.ok(json.includes(fact), fact);
    assert.equal(buttonsOf({ blocks: body.blocks ?? [] }).length, 3, 'Alice may decide it');
    const mallory = await slash(r, 'U0MALLORY', `show ${a.id}`);
    assert.match(mallory.text, /not an approver for request/);
    assert.ok(!JSON.stringify(mallory).includes('web-01'));

    await r.click('U0ALICE', 'airlock_approve', a.id);
    await a.result;
    await r.messageWhen(a.id, (m) => m.includes('Ran in'));
    body = await slash(r, 'U0BOB', `show ${a.id}`);
    json = JSON.stringify(body.blocks);
    assert.match(body.text, /^Executed: start_vm/);
    assert.match(json, /Approved by Alice Liddell via Slack/);
    assert.match(json, /Ran in/);
    assert.match(json, /started web-01/);
    assert.equal(buttonsOf({ blocks: body.blocks ?? [] }).length, 0, 'nothing left to decide');

    const b = r.hold({}, { vm_name: 'web-02' });
    await r.posted(b.id);
    await postInteraction(r.url, SECRET, homeClickPayload('U0BOB', 'airlock_reject', b.id));
    await rejection(b.result);
    body = await slash(r, 'U0ALICE', `show ${b.id}`);
    assert.match(body.text, /^Rejected: start_vm/);
    assert.match(JSON.stringify(body.blocks), /Rejected by Bob Builder via Slack/);
  });

  test('a malformed or unknown id, a missing id and an unknown word get clear answers', async () => {
    const r = await rig();
    const malformed = await slash(r, 'U0ALICE', 'show <!channel>');
    assert.match(malformed.text, /is not an Airlock request id/);
    assert.ok(!malformed.text.includes('<!channel>'), 'echoed escaped');
    const unknown = await slash(r, 'U0ALICE', `show ${newRequestId()}`);
    assert.match(unknown.text, /No request ar_\S+ found/);
    assert.match((await slash(r, 'U0ALICE', 'show')).text, /Say which request/);
    const word = await slash(r, 'U0ALICE', 'frobnicate now');
    assert.match(word.text, /Unknown `\/airlock` command `frobnicate`/);
    assert.match(word.text, /\/airlock pending/);
  });

  test('an answer slower than the ack budget is acked at once and follows through response_url', async () => {
    // Redis cannot be made slow on demand, so the command runs on a stand-in Bolt app whose lookup
    // resolves only when the test says so; the ack must not wait for it.
    let handler: ((args: Record<string, unknown>) => Promise<void>) | undefined;
    const app = { command: (_name: string, fn: typeof handler) => (handler = fn) } as unknown as App;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = {
      pendingFor: async () => {
        await gate;
        return { identity: 'alice', isReviewer: true, records: [], moreUnread: false };
      },
    } as unknown as ReviewerQueue;
    registerSlashCommand(app, {
      queue,
      approvals: { get: async () => undefined },
      logger: silentLogger,
      ackBudgetMs: 20,
    });
    const acked: unknown[] = [];
    const responded: { text: string }[] = [];
    let ackedOnce: () => void = () => {};
    const ackSeen = new Promise<void>((resolve) => (ackedOnce = resolve));
    const done = handler!({
      command: { user_id: 'U0ALICE', text: 'pending' },
      ack: async (m: unknown) => {
        acked.push(m);
        ackedOnce();
      },
      respond: async (m: { text: string }) => void responded.push(m),
    });
    await ackSeen;
    assert.equal(responded.length, 0, 'acked before the answer exists');
    assert.match(JSON.stringify(acked[0]), /Looking that up/);
    release();
    await done;
    assert.equal(acked.length, 1);
    assert.match(String(responded[0]?.text), /^Nothing waiting for you/);
  });

  test('help and the bare command give the usage, the channel and the console', async () => {
    const r = await rig();
    for (const text of ['', 'help']) {
      const body = await slash(r, 'U0ALICE', text);
      assert.match(body.text, /`\/airlock pending`/);
      assert.match(body.text, /`\/airlock show ID`/);
      assert.match(body.text, /<#C0APPROVALS>/);
      assert.match(body.text, /<http:\/\/127\.0\.0\.1:7420\/\|the Airlock console>/);
    }
  });
});
