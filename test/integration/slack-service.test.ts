// The Slack integration wired to a real ApprovalService on a real Redis, with a stub upstream and the
// fake Slack Web API: every flow goes through real signed interaction POSTs to /slack/events, without
// the MCP gateway in front (slack-gateway.test.ts covers the agent's side).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AirlockError } from '../../src/core/errors.js';
import { blockKitProblems } from '../helpers/fake-slack.js';
import { RIG_SIGNING_SECRET as SECRET, eventually, rejection, useSlackRigs } from '../helpers/slack-rig.js';
import {
  blockActionPayload,
  postInteraction,
  postSlashCommand,
  viewSubmissionPayload,
} from '../helpers/slack-signing.js';
import { untilChanged } from '../helpers/changes.js';

const rigs = useSlackRigs();
const rig = rigs.rig;

describe('Slack approvals', () => {
  test('approve: the call runs, the message is updated in place and the outcome is threaded', async () => {
    const r = await rig();
    const { id, result } = r.hold();
    const post = await r.posted(id);
    assert.equal(post.params.channel, 'C0APPROVALS');
    assert.equal(post.token, 'xoxb-test');
    assert.equal((await r.click('U0ALICE', 'airlock_approve', id)).status, 200);
    assert.deepEqual((await result).content, [{ type: 'text', text: 'started web-01' }]);
    const reply = await r.fake.waitFor('chat.postMessage', (c) => c.params.thread_ts !== undefined);
    assert.match(String(reply.params.text), /start_vm/);
    assert.match(String(reply.params.text), /started web-01/);
    const record = await r.approvals.get(id);
    assert.equal(reply.params.thread_ts, record?.slack?.ts);
    const m = await r.messageWhen(id, (b) => b.includes('Ran in'));
    assert.match(JSON.stringify(m.blocks), /Approved\* by Alice Liddell via Slack/);
    assert.doesNotMatch(JSON.stringify(m.blocks), /airlock_approve/, 'buttons are gone');
    assert.deepEqual(r.executed, [id]);
    assert.equal(
      r.fake.okCallsOf('chat.postMessage').filter((c) => c.params.thread_ts === undefined).length,
      1,
    );
  });

  test('reject with reason: the modal opens, and its submission rejects with the reason', async () => {
    const r = await rig();
    const { id, result } = r.hold();
    await r.posted(id);
    await r.click('U0BOB', 'airlock_reject_reason', id);
    const open = await r.fake.waitFor('views.open');
    const view = open.params.view as { callback_id: string; private_metadata: string };
    assert.equal(view.callback_id, 'airlock_reject_modal');
    assert.equal(view.private_metadata, id);
    assert.ok(open.params.trigger_id);
    const submit = await postInteraction(
      r.url,
      SECRET,
      viewSubmissionPayload({ user: { id: 'U0BOB' }, requestId: id, reason: 'Not during the change freeze' }),
    );
    assert.equal(submit.status, 200);
    const err = await rejection(result);
    assert.equal(err.code, 'APPROVAL_REJECTED');
    assert.match(err.message, /Bob Builder/);
    assert.match(err.message, /Not during the change freeze/);
    const m = await r.messageWhen(id, (b) => b.includes('Rejected'));
    assert.match(JSON.stringify(m.blocks), /Not during the change freeze/);
    assert.deepEqual(r.executed, []);
  });

  test('an empty reason keeps the modal open with an error and decides nothing', async () => {
    const r = await rig();
    const { id } = r.hold();
    await r.posted(id);
    const res = await postInteraction(
      r.url,
      SECRET,
      viewSubmissionPayload({ user: { id: 'U0BOB' }, requestId: id, reason: '   ' }),
    );
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).response_action, 'errors');
    assert.equal((await r.approvals.get(id))?.status, 'pending');
  });

  test('expiry: the message says the request expired', async () => {
    const r = await rig();
    const { id, result } = r.hold({ timeoutMs: 1500, waitMs: 10_000 });
    await r.posted(id);
    const err = await rejection(result);
    assert.equal(err.code, 'APPROVAL_EXPIRED');
    const m = await r.messageWhen(id, (b) => b.includes('Expired'));
    assert.doesNotMatch(JSON.stringify(m.blocks), /airlock_approve/);
  });

  test('quorum: two distinct approvers are needed, and the message counts them', async () => {
    const r = await rig();
    const { id, result } = r.hold({ minApprovals: 2 });
    await r.posted(id);
    const first = once(r.approvals, 'decided');
    await r.click('U0ALICE', 'airlock_approve', id);
    await first;
    await r.messageWhen(id, (b) => b.includes('1 of 2'));
    assert.equal((await r.approvals.get(id))?.status, 'pending');
    // Alice again does not count twice.
    await r.click('U0ALICE', 'airlock_approve', id);
    await r.ephemeralTo('U0ALICE', /already approved/);
    await r.click('U0BOB', 'airlock_approve', id);
    assert.deepEqual((await result).content, [{ type: 'text', text: 'started web-01' }]);
    const m = await r.messageWhen(id, (b) => b.includes('Ran in'));
    const blocks = JSON.stringify(m.blocks);
    assert.match(blocks, /Alice Liddell/);
    assert.match(blocks, /Bob Builder/);
  });

  test('self-approval is refused privately and decides nothing', async () => {
    const r = await rig();
    const { id } = r.hold({ approvers: ['alice', 'U0OWNER'] });
    await r.posted(id);
    const refused = once(r.approvals, 'refused');
    await r.click('U0OWNER', 'airlock_approve', id);
    const [, , error] = (await refused) as [string, unknown, AirlockError];
    assert.equal(error.code, 'SELF_APPROVAL');
    const eph = await r.ephemeralTo('U0OWNER', /may not approve/);
    assert.equal(eph.params.channel, 'C0APPROVALS');
    assert.equal((await r.approvals.get(id))?.status, 'pending');
  });

  test('a non-approver is refused privately, audited, and nothing is decided', async () => {
    const r = await rig();
    const { id } = r.hold();
    await r.posted(id);
    const refused = once(r.approvals, 'refused');
    await r.click('U0MALLORY', 'airlock_approve', id);
    const [refusedId, input, error] = (await refused) as [string, { slackUserId: string }, AirlockError];
    assert.equal(refusedId, id);
    assert.equal(input.slackUserId, 'U0MALLORY');
    assert.equal(error.code, 'NOT_AN_APPROVER');
    await r.ephemeralTo('U0MALLORY', /not an approver/);
    const record = await r.approvals.get(id);
    assert.equal(record?.status, 'pending');
    assert.deepEqual(record?.decisions, []);
  });

  test('forged signatures and stale timestamps get 401 and decide nothing', async () => {
    const r = await rig();
    const { id } = r.hold();
    await r.posted(id);
    let decided = false;
    r.approvals.on('decided', () => (decided = true));
    const payload = blockActionPayload({ user: { id: 'U0ALICE' }, actionId: 'airlock_approve', value: id });
    assert.equal((await postInteraction(r.url, SECRET, payload, { signWith: 'not-the-secret' })).status, 401);
    assert.equal((await postInteraction(r.url, SECRET, payload, { signature: 'v0=deadbeef' })).status, 401);
    const stale = Math.floor(Date.now() / 1000) - 10 * 60;
    assert.equal((await postInteraction(r.url, SECRET, payload, { timestampSec: stale })).status, 401);
    const unsigned = await fetch(`${r.url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
    });
    assert.equal(unsigned.status, 401);
    // A genuine click afterwards still works, so nothing above was merely queued.
    await r.click('U0ALICE', 'airlock_approve', id);
    await once(r.approvals, 'decided');
    const record = await r.approvals.get(id);
    assert.equal(record?.decisions.length, 1);
    assert.ok(decided);
  });

  test('a second click is answered "already decided by …"', async () => {
    const r = await rig();
    const { id, result } = r.hold();
    await r.posted(id);
    await r.click('U0ALICE', 'airlock_approve', id);
    await result;
    await r.click('U0BOB', 'airlock_reject', id);
    const eph = await r.ephemeralTo('U0BOB', /Already decided by/);
    assert.match(String(eph.params.text), /Alice Liddell/);
    assert.equal((await r.approvals.get(id))?.decisions.length, 1);
  });

  test('50 concurrent approve/reject clicks make exactly one final decision', async () => {
    const users = Array.from({ length: 50 }, (_, i) => `U0R${String(i).padStart(2, '0')}`);
    const r = await rig();
    const { id, result } = r.hold({ approvers: users });
    await r.posted(id);
    let finals = 0;
    r.approvals.on('decided', (rec) => {
      if (rec.status !== 'pending') finals++;
    });
    const responses = await Promise.all(
      users.map((u, i) => r.click(u, i % 2 === 0 ? 'airlock_approve' : 'airlock_reject', id)),
    );
    assert.ok(responses.every((res) => res.status === 200));
    await result.catch(() => {});
    await r.fake.until(() => r.fake.callsOf('chat.postEphemeral').length >= 49 || undefined, 15_000);
    const record = await r.approvals.get(id);
    assert.equal(finals, 1);
    assert.equal(record?.decisions.length, 1);
    assert.ok(r.executed.length <= 1);
    const refusedUsers = new Set(r.fake.callsOf('chat.postEphemeral').map((c) => c.params.user));
    assert.equal(refusedUsers.size, 49);
    assert.ok(!refusedUsers.has(record!.decisions[0]!.by.replace('slack:', '')));
  });

  test('a Slack user group resolves approvers through usergroups.users.list', async () => {
    const r = await rig();
    r.fake.groups.set('S0ONCALL', ['U0CAROL']);
    const { id, result } = r.hold({ approvers: ['S0ONCALL'] });
    await r.posted(id);
    await r.click('U0DAVE', 'airlock_approve', id);
    await r.ephemeralTo('U0DAVE', /not an approver/);
    await r.click('U0CAROL', 'airlock_approve', id);
    assert.deepEqual((await result).content, [{ type: 'text', text: 'started web-01' }]);
    const lookups = r.fake.okCallsOf('usergroups.users.list');
    assert.ok(lookups.length >= 1);
    assert.equal(lookups[0]!.params.usergroup, 'S0ONCALL');
    assert.equal(lookups.length, 1, 'membership is cached');
  });

  test('an unreachable user group fails closed', async () => {
    const r = await rig();
    r.fake.groups.set('S0ONCALL', ['U0CAROL']);
    r.fake.failNext('usergroups.users.list', 1, { status: 500 });
    const { id } = r.hold({ approvers: ['S0ONCALL'] });
    await r.posted(id);
    await r.click('U0CAROL', 'airlock_approve', id);
    await r.ephemeralTo('U0CAROL', /not an approver/);
    assert.equal((await r.approvals.get(id))?.status, 'pending');
  });

  test('Slack 500s are retried until the message is posted, exactly once', async () => {
    const r = await rig();
    r.fake.failNext('chat.postMessage', 3, { status: 500 });
    const { id } = r.hold();
    const post = await r.posted(id);
    const attempts = r.fake.callsOf('chat.postMessage');
    assert.equal(attempts.filter((c) => c.status === 500).length, 3);
    assert.equal(r.fake.okCallsOf('chat.postMessage').length, 1);
    const ref = await untilChanged(
      { redisUrl: rigs.redisUrl, prefix: r.prefix },
      async () => (await r.approvals.get(id))?.slack,
      'the stored Slack reference',
    );
    assert.equal(ref.ts, post.response?.ts, 'the reference of the one posted message is stored');
  });

  test('a 429 is retried after its Retry-After, and the message is posted once', async () => {
    const r = await rig({ backoffMs: 60_000 });
    r.fake.failNext('chat.postMessage', 1, { status: 429, retryAfter: 1 });
    const { id } = r.hold();
    const ok = await r.posted(id);
    const limited = r.fake.callsOf('chat.postMessage').find((c) => c.status === 429)!;
    assert.ok(limited, 'the first attempt was rate limited');
    // With a 60 s backoff, only Retry-After can explain a retry this soon; and it must not be sooner.
    assert.ok(ok.at - limited.at >= 900, `retried after ${ok.at - limited.at} ms`);
    assert.ok(ok.at - limited.at < 10_000, `retried after ${ok.at - limited.at} ms`);
    assert.equal(r.fake.okCallsOf('chat.postMessage').length, 1);
  });

  test('a decision made while Slack is down still reaches the message once Slack is back', async () => {
    const r = await rig();
    r.fake.failNext('chat.postMessage', 2, { status: 503 as 500 });
    const { id, result } = r.hold();
    // The CLI/API path: decided without Slack.
    await r.approvals.decide(id, { reviewerId: 'alice', via: 'cli', decision: 'approve' });
    await result;
    const m = await r.messageWhen(id, (b) => b.includes('Ran in'));
    assert.doesNotMatch(JSON.stringify(m.blocks), /airlock_approve/);
  });

  test('hostile arguments are shown inert and within Block Kit limits', async () => {
    const r = await rig();
    let deep: Record<string, unknown> = { bottom: '<!here>' };
    for (let i = 0; i < 60; i++) deep = { [`level${i}`]: deep };
    const args = {
      vm_name: '<!channel> please approve',
      note: '<https://evil.example|click here> <@U0ALICE> &amp; ```break out``` *bold* _it_',
      big: 'x'.repeat(100 * 1024),
      deep,
      unicode: '👩‍💻 Ünïcödé \u202Etxt.exe ﷽ 𝕏 \u0000',
      list: Array.from({ length: 500 }, (_, i) => `<!subteam^S${i}>`),
    };
    const { id } = r.hold({}, args);
    const post = await r.posted(id);
    const blocks = post.params.blocks as unknown[];
    assert.deepEqual(blockKitProblems(blocks, post.params.text), []);
    const json = JSON.stringify(blocks);
    for (const raw of [
      '<!channel>',
      '<!here>',
      '<https://evil.example|click here>',
      '<@U0ALICE>',
      '<!subteam^',
    ]) {
      assert.ok(!json.includes(raw), `raw ${raw} must not reach Slack`);
    }
    assert.ok(json.includes('&lt;!channel&gt;'));
    assert.ok(json.includes('&amp;amp;'), 'an & typed by the agent shows as typed');
    assert.ok(!json.includes('\u202E'), 'bidi controls are shown escaped');
    assert.ok(json.length < 60_000, `message is ${json.length} chars`);
    assert.match(json, /truncated/);
  });

  test('an invalid button value is refused privately', async () => {
    const r = await rig();
    await r.click('U0ALICE', 'airlock_approve', 'ar_../../etc');
    await r.ephemeralTo('U0ALICE', /does not name an Airlock request/);
  });

  test('channelLabel names the channel for the agent, and groupMembers is cached', async () => {
    const r = await rig();
    r.fake.groups.set('S0ONCALL', ['U0CAROL']);
    const spec = { approval: { channel: undefined } } as never;
    // The name is looked up in the background at start; the id stands in until then.
    assert.equal(
      await eventually(() => (r.directory.channelLabel(spec) === '#lab-approvals' ? true : undefined)),
      true,
    );
    assert.equal(r.directory.channelLabel({ approval: { channel: 'C0UNKNOWN' } } as never), '#C0UNKNOWN');
    assert.deepEqual(await r.directory.groupMembers(['S0ONCALL', 'S0NONE']), {
      S0ONCALL: ['U0CAROL'],
      S0NONE: [],
    });
    await r.directory.groupMembers(['S0ONCALL']);
    assert.equal(
      r.fake.callsOf('usergroups.users.list').filter((c) => c.params.usergroup === 'S0ONCALL').length,
      1,
    );
  });

  test('/airlock answers privately with where requests are and the console link', async () => {
    const r = await rig();
    const res = await postSlashCommand(r.url, SECRET, { command: '/airlock', userId: 'U0ALICE' });
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body) as { response_type: string; text: string };
    assert.equal(body.response_type, 'ephemeral');
    assert.match(body.text, /<#C0APPROVALS>/);
    assert.match(body.text, /<http:\/\/127\.0\.0\.1:7420\/\|the Airlock console>/);
  });
});
