// Reminders and escalation as BullMQ delayed jobs, through the Slack integration on a real Redis,
// the fake Slack and signed interaction POSTs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue, QueueEvents } from 'bullmq';
import { APPROVAL_QUEUE } from '../../src/approval/approval-service.js';
import { eventually, useSlackRigs } from '../helpers/slack-rig.js';
import type { SlackCall } from '../helpers/fake-slack.js';

const rigs = useSlackRigs();
const rig = rigs.rig;

const threadReply = (ts: string, pattern: RegExp) => (c: SlackCall) =>
  c.params.thread_ts === ts && pattern.test(String(c.params.text));

describe('reminders', () => {
  test('a reminder lands in the thread while pending, and stops after the decision', async () => {
    const r = await rig();
    const { id, result } = r.hold({ approvers: ['alice', 'S0ONCALL'], remindMs: 300 });
    const post = await r.posted(id);
    const ts = String(post.response?.ts);
    const first = await r.fake.waitFor('chat.postMessage', threadReply(ts, /Reminder/));
    assert.equal(first.params.channel, 'C0APPROVALS');
    assert.match(String(first.params.text), /<@U0ALICE> <!subteam\^S0ONCALL>/);
    const second = await r.fake.waitFor(
      'chat.postMessage',
      (c) => c !== first && threadReply(ts, /Reminder/)(c),
    );
    assert.ok(second.at >= first.at);

    await r.click('U0ALICE', 'airlock_approve', id);
    await result;
    const record = await r.approvals.get(id);
    assert.ok((record?.reminders?.length ?? 0) >= 2, 'each reminder is in the record (the timeline)');
    const queue = new Queue(APPROVAL_QUEUE, { connection: { url: rigs.redisUrl }, prefix: r.prefix });
    try {
      // The reminder job is removed, or it ran once more, found the request decided and ended.
      await eventually(async () => (await queue.getJob(`${id}-remind`)) === undefined);
    } finally {
      await queue.close();
    }
    const reminded = record?.reminders?.length;
    assert.equal((await r.approvals.get(id))?.reminders?.length, reminded);
  });

  test('a reminder or escalation job that fires after the decision does nothing', async () => {
    const r = await rig();
    const { id, result } = r.hold({
      remindMs: 50_000,
      escalate: [{ afterMs: 55_000, approvers: ['U0SEC'], channel: 'C0ESCALATE' }],
    });
    await r.posted(id);
    await r.click('U0BOB', 'airlock_approve', id);
    await result;
    const before = await r.approvals.get(id);
    const queue = new Queue(APPROVAL_QUEUE, { connection: { url: rigs.redisUrl }, prefix: r.prefix });
    const events = new QueueEvents(APPROVAL_QUEUE, { connection: { url: rigs.redisUrl }, prefix: r.prefix });
    try {
      await events.waitUntilReady();
      let reminded = 0;
      let escalated = 0;
      r.approvals.on('reminded', () => reminded++);
      r.approvals.on('escalated', () => escalated++);
      // As if the jobs had been delivered late (or again) after the decision.
      const jobs = await queue.addBulk([
        { name: 'remind', data: { id, n: 1 }, opts: { jobId: `${id}-late-remind` } },
        { name: 'escalate', data: { id, n: 0 }, opts: { jobId: `${id}-late-escalate` } },
      ]);
      for (const job of jobs) await job.waitUntilFinished(events, 10_000);
      const afterwards = await r.approvals.get(id);
      assert.equal(afterwards?.version, before?.version, 'the record was not written');
      assert.equal(afterwards?.escalations, undefined);
      assert.equal(reminded + escalated, 0);
      assert.equal(
        r.fake.callsOf('chat.postMessage').filter((c) => c.params.channel === 'C0ESCALATE').length,
        0,
      );
    } finally {
      await events.close();
      await queue.close();
    }
  });
});

describe('escalation', () => {
  test('adds the approver, posts in the escalation channel, and the added approver decides', async () => {
    const r = await rig();
    r.fake.users.set('U0SEC', 'Sam Security');
    const { id, result } = r.hold({
      approvers: ['alice'],
      minApprovals: 2,
      escalate: [{ afterMs: 1500, approvers: ['U0SEC'], channel: 'C0ESCALATE' }],
    });
    await r.posted(id);
    // Before the step, Sam is not an approver; Alice is, and her vote counts.
    await r.click('U0SEC', 'airlock_approve', id);
    await r.ephemeralTo('U0SEC', /not an approver/);
    await r.click('U0ALICE', 'airlock_approve', id);
    await eventually(async () => (await r.approvals.get(id))?.decisions.length === 1);

    const escalated = await eventually(async () => {
      const x = await r.approvals.get(id);
      return x?.escalations?.length ? x : undefined;
    });
    assert.deepEqual(
      escalated.escalations?.map((e) => e.approvers),
      [['U0SEC']],
    );
    const copy = await r.fake.waitFor(
      'chat.postMessage',
      (c) => c.params.channel === 'C0ESCALATE' && c.params.thread_ts === undefined,
    );
    assert.match(JSON.stringify(copy.params.blocks), /airlock_approve/, 'the copy has working buttons');
    const copyTs = String(copy.response?.ts);
    await r.fake.waitFor('chat.postMessage', threadReply(copyTs, /Escalated: <@U0SEC>/));

    const click = await r.click('U0SEC', 'airlock_approve', id);
    assert.equal(click.status, 200);
    await result;
    const record = await r.approvals.get(id);
    assert.equal(record?.status === 'executed' || record?.status === 'executing', true);
    assert.deepEqual(
      record?.decisions.map((d) => d.by),
      ['alice', 'slack:U0SEC'],
    );
    assert.equal(record?.escalations?.[0]?.slack?.ts, copyTs);
    await r.messageWhen(id, (b) => b.includes('Approved'));
    await r.fake.until(() => {
      const m = r.fake.message('C0ESCALATE', copyTs);
      return (
        m &&
        JSON.stringify(m.blocks).includes('Approved') &&
        !JSON.stringify(m.blocks).includes('airlock_approve')
      );
    });
  });

  test('without a channel, the added approvers are named in the request thread', async () => {
    const r = await rig();
    const { id } = r.hold({
      approvers: ['alice'],
      escalate: [{ afterMs: 200, approvers: ['bob', 'S0SECURITY'] }],
    });
    const ts = String((await r.posted(id)).response?.ts);
    await r.fake.waitFor('chat.postMessage', threadReply(ts, /Escalated: <@U0BOB> <!subteam\^S0SECURITY>/));
    assert.equal(
      r.fake.callsOf('chat.postMessage').filter((c) => c.params.channel !== 'C0APPROVALS').length,
      0,
    );
  });
});

test('reminders and escalations fire after the creating replica is gone, on another one', async () => {
  const a = await rig();
  const { id } = a.hold({
    approvers: ['alice'],
    remindMs: 800,
    escalate: [{ afterMs: 1000, approvers: ['bob'] }],
  });
  await a.posted(id);
  await rigs.stop(a);
  const b = await rig({ prefix: a.prefix });
  // Replica A's worker is closed, so only B's can have run the jobs.
  const record = await eventually(async () => {
    const x = await b.approvals.get(id);
    return x?.reminders?.length && x.escalations?.length ? x : undefined;
  });
  assert.equal(record.status, 'pending');
  assert.equal(record.reminders?.length, 1);
  assert.deepEqual(
    record?.escalations?.map((e) => e.approvers),
    [['bob']],
  );
  // Bob was added by the step that replica B ran; his approval decides.
  assert.equal((await b.click('U0BOB', 'airlock_approve', id)).status, 200);
  await eventually(async () => (await b.approvals.get(id))?.status !== 'pending');
  assert.equal((await b.approvals.get(id))?.decidedBy, 'bob');
});
