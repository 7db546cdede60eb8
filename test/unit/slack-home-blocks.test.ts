// The pure builders behind the App Home tab and `/airlock`: layout, limits, escaping, and the rule that
// decides which requests wait for whom.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalRecord } from '../../src/core/approval/types.js';
import {
  ARGUMENT_PREVIEW_CHARS,
  BLOCK_KIT_LIMITS,
  HOME_VIEW_MAX_BLOCKS,
  argumentPreview,
  consoleHomeUrl,
  homeView,
  pendingListMessage,
  requestButtons,
  requestDetail,
  requestMessage,
} from '../../src/slack/blocks/index.js';
import { awaitsDecisionFrom } from '../../src/slack/reviewer-queue.js';
import { parseSlashCommand, SLASH_COMMAND, SLASH_USAGE_HINT } from '../../src/slack/slash-command.js';
import { blockKitProblems, viewProblems } from '../helpers/block-kit-check.js';
import { approvalRecord, approvalSpec, T0, vote } from '../helpers/approval-records.js';

type Json = Record<string, any>;

const PUBLIC_URL = 'https://airlock.example.com';

let seq = 0;
function record(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return approvalRecord({ id: `ar_${String(++seq).padStart(20, '0')}`, ...overrides });
}

function buttons(blocks: Json[]): Json[] {
  return blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements as Json[]);
}

/** Every `<…>` is one Airlock wrote (a date or a console link); no bare `<`, `>` or `&` remain. */
function assertInert(surface: unknown): void {
  const text = JSON.stringify(surface);
  const rest = JSON.parse(text, (_k, v: unknown) =>
    typeof v === 'string'
      ? v.replace(
          /<(!date\^\d+\^\{date_short_pretty\} at \{time\}\|[^<>]*|https:\/\/airlock\.example\.com\/[^|<>\s]*\|[^<>|]*)>/g,
          '',
        )
      : v,
  ) as unknown;
  const strings: string[] = [];
  JSON.stringify(rest, (_k, v: unknown) => {
    if (typeof v === 'string') strings.push(v);
    return v;
  });
  for (const s of strings) {
    assert.ok(!/[<>]/.test(s), `live markup in ${s.slice(0, 200)}`);
    assert.ok(!/&(?!amp;|lt;|gt;)/.test(s), `unescaped & in ${s.slice(0, 200)}`);
  }
}

describe('homeView', () => {
  it('lists each request with its facts, preview, console link and the channel message’s buttons', () => {
    const a = record();
    const b = record({
      tool: 'delete_vm',
      agent: 'nightly',
      rule: 'lab/delete_vm',
      args: { vm_name: 'db-01' },
    });
    const view = homeView([a, b], { now: T0, publicUrl: PUBLIC_URL, isReviewer: true });
    assert.equal(view.type, 'home');
    assert.deepEqual(viewProblems(view), []);
    const blocks = view.blocks as Json[];
    assert.equal(blocks[0]?.type, 'header');
    assert.equal(blocks[0]?.text.text, '2 requests waiting for your approval');
    const json = JSON.stringify(view);
    for (const fact of [
      '`start_vm`',
      '`delete_vm`',
      '`lab`',
      '`ci-bot`',
      '`nightly`',
      '`lab/delete_vm`',
      'db-01',
    ])
      assert.ok(json.includes(fact), fact);
    assert.ok(json.includes(`<!date^${Math.floor(a.expiresAt / 1000)}^`), 'expiry in Slack date format');
    assert.ok(json.includes(`${PUBLIC_URL}/#/requests/${a.id}|Open in console`));
    // Exactly the request message's buttons, under a block id of their own.
    const channel = buttons(requestMessage(a).blocks as Json[]);
    assert.deepEqual(
      buttons(blocks).filter((x) => x.value === a.id),
      channel,
    );
    const ids = blocks.map((x) => x.block_id).filter(Boolean);
    assert.equal(new Set(ids).size, ids.length, 'block ids are unique');
    assert.match(JSON.stringify(blocks[1]), /Updated <!date\^/);
  });

  it('shows an empty state that depends on whether the viewer reviews at all', () => {
    const reviewer = homeView([], { now: T0, isReviewer: true });
    const stranger = homeView([], { now: T0 });
    for (const v of [reviewer, stranger]) {
      assert.equal((v.blocks[0] as Json).text.text, 'Nothing waiting for you');
      assert.deepEqual(buttons(v.blocks as Json[]), []);
      assert.deepEqual(viewProblems(v), []);
    }
    assert.match(JSON.stringify(stranger), /not an approver for any pending request/);
    assert.doesNotMatch(JSON.stringify(reviewer), /not an approver/);
  });

  it('keeps to 100 blocks with 150 requests and says how many more are in the console', () => {
    const many = Array.from({ length: 150 }, () => record());
    const view = homeView(many, { now: T0, publicUrl: PUBLIC_URL });
    assert.ok(view.blocks.length <= HOME_VIEW_MAX_BLOCKS, `${view.blocks.length} blocks`);
    assert.deepEqual(viewProblems(view), []);
    const shown = buttons(view.blocks as Json[]).filter((x) => x.action_id === 'airlock_approve').length;
    assert.ok(shown >= 30, `${shown} shown`);
    assert.equal((view.blocks[0] as Json).text.text, '150 requests waiting for your approval');
    assert.equal(
      (view.blocks.at(-1) as Json).elements[0].text,
      `…and ${150 - shown} more in <${PUBLIC_URL}/|the console>`,
    );
    // A floor when the read itself was cut.
    const cut = homeView(many, { now: T0, moreUnread: true });
    assert.match((cut.blocks[0] as Json).text.text, /^150\+ requests/);
    assert.match((cut.blocks.at(-1) as Json).elements[0].text, /more in the console$/);
  });

  it('escapes hostile names and arguments and redacts secrets', () => {
    const hostile = record({
      tool: '<!channel>*bold*',
      server: 'a&b',
      agent: '<@U0BOB>',
      rule: '<https://evil.example|x>',
      args: {
        cmd: '<!here> & <https://evil.example|click> ``` `',
        password: 'hunter2',
        nested: { apiKey: 'k' },
      },
    });
    const view = homeView([hostile], { now: T0, publicUrl: PUBLIC_URL });
    assertInert(view);
    const json = JSON.stringify(view);
    assert.ok(json.includes('&lt;!channel&gt;'));
    assert.ok(!json.includes('hunter2'));
    assert.ok(json.includes('[REDACTED]'));
  });
});

describe('argumentPreview', () => {
  it('is one inline-code line, cut to its budget, with bidi controls made visible', () => {
    const long = argumentPreview({ note: 'x'.repeat(5000) });
    assert.ok(long.length <= ARGUMENT_PREVIEW_CHARS + 2, `${long.length} chars`);
    assert.match(long, /^`\{"note":"x+…`$/);
    assert.equal(argumentPreview({}), '`{}`');
    assert.equal(argumentPreview({ a: '`x`' }), '`{"a":"ˋxˋ"}`');
    assert.match(argumentPreview({ f: 'a\u202eb' }), /\\u202e/);
    assert.ok(!argumentPreview({ s: 'line\nbreak' }).includes('\n'));
  });
});

describe('pendingListMessage', () => {
  it('fits one message and lists ids with buttons', () => {
    const many = Array.from({ length: 60 }, () => record());
    const m = pendingListMessage(many, { publicUrl: PUBLIC_URL, isReviewer: true });
    assert.deepEqual(blockKitProblems(m.blocks, m.text), []);
    assert.ok(m.blocks.length <= BLOCK_KIT_LIMITS.messageBlocks);
    assert.equal(m.text, '60 requests waiting for your approval');
    const shown = buttons(m.blocks as Json[]).filter((x) => x.action_id === 'airlock_approve');
    assert.ok(JSON.stringify(m.blocks).includes(many[0]!.id));
    assert.match(JSON.stringify(m.blocks.at(-1)), new RegExp(`and ${60 - shown.length} more`));
  });

  it('answers an empty list by who is asking', () => {
    assert.equal(pendingListMessage([]).text, 'You are not an approver for any pending request.');
    assert.match(pendingListMessage([], { isReviewer: true }).text, /^Nothing waiting for you/);
    assert.equal(pendingListMessage([record()]).text, '1 request waiting for your approval');
  });

  it('counts approvals on a quorum request', () => {
    const q = record({
      approval: approvalSpec({ minApprovals: 2, approvers: [] }),
      decisions: [vote('bob', 'approve')],
    });
    assert.match(JSON.stringify(pendingListMessage([q]).blocks), /Approvals: 1 of 2/);
  });
});

describe('requestDetail', () => {
  it('shows a pending request with buttons only for someone who may decide', () => {
    const r = record();
    const mine = requestDetail(r, { canDecide: true, publicUrl: PUBLIC_URL });
    assert.deepEqual(blockKitProblems(mine.blocks, mine.text), []);
    assert.match(mine.text, /^Pending: start_vm on lab for ci-bot/);
    assert.equal(buttons(mine.blocks as Json[]).length, 3);
    assert.match(JSON.stringify(mine.blocks), /None yet/);
    assert.match(JSON.stringify(mine.blocks), /web-01/);
    assert.equal(buttons(requestDetail(r).blocks as Json[]).length, 0);
  });

  it('shows decisions with reasons, and the execution outcome escaped', () => {
    const rejected = record({
      status: 'rejected',
      decidedAt: T0 + 60_000,
      decisions: [vote('bob', 'reject', { display: 'Bob <b>', reason: 'not now <!channel>' })],
    });
    const r = requestDetail(rejected, { canDecide: true });
    assert.match(r.text, /^Rejected:/);
    assert.equal(buttons(r.blocks as Json[]).length, 0, 'no buttons once decided');
    assert.match(JSON.stringify(r.blocks), /Rejected by Bob &lt;b&gt; via Slack/);
    assertInert(r);

    const failed = record({
      status: 'failed',
      decidedAt: T0 + 60_000,
      decisions: [vote('alice', 'approve', { comment: 'go' })],
      execution: {
        startedAt: T0 + 61_000,
        finishedAt: T0 + 63_500,
        isError: true,
        summary: '<@U1> ```boom```',
      },
    });
    const f = requestDetail(failed);
    const json = JSON.stringify(f.blocks);
    assert.match(json, /Approved by alice via Slack/);
    assert.match(json, /Failed after 2\.5s/);
    assert.match(json, /&lt;@U1&gt;/);
    assertInert(f);

    const expired = requestDetail(record({ status: 'expired', decidedAt: T0 + 900_000 }));
    assert.match(JSON.stringify(expired.blocks), /Expired without a decision/);
  });

  it('drops whole decision lines rather than overflow a section', () => {
    const decisions = Array.from({ length: 200 }, (_, i) =>
      vote(`reviewer-${i}`, 'approve', { comment: 'c'.repeat(300) }),
    );
    const d = requestDetail(record({ approval: approvalSpec({ minApprovals: 500 }), decisions }));
    assert.deepEqual(blockKitProblems(d.blocks, d.text), []);
    assert.match(JSON.stringify(d.blocks), /more \(see the console\)/);
  });
});

describe('requestButtons', () => {
  it('keeps action ids, values and the confirm dialog, with a per-request block id', () => {
    const r = record();
    const home = requestButtons(r);
    const channel = requestMessage(r).blocks.find((b) => b.type === 'actions');
    assert.deepEqual(home.elements, (channel as Json).elements);
    assert.equal(home.block_id, `airlock_actions:${r.id}`);
  });
});

describe('consoleHomeUrl', () => {
  it('is the console root for http(s) and nothing otherwise', () => {
    assert.equal(consoleHomeUrl('https://airlock.example.com'), 'https://airlock.example.com/');
    assert.equal(consoleHomeUrl('https://x.example/air lock//'), 'https://x.example/air%20lock/');
    assert.equal(consoleHomeUrl('javascript:alert(1)'), undefined);
    assert.equal(consoleHomeUrl(undefined), undefined);
    assert.equal(consoleHomeUrl('not a url'), undefined);
  });
});

describe('awaitsDecisionFrom', () => {
  const reviewers = [
    { id: 'alice', slack: 'U0ALICE' },
    { id: 'bob', slack: 'U0BOB' },
  ];
  const ctx = { reviewers, groupMembers: { S0ONCALL: ['U0CAROL'] } };

  it('follows the decision’s own eligibility rule', () => {
    assert.equal(awaitsDecisionFrom(record(), 'alice', ctx, T0), true);
    assert.equal(awaitsDecisionFrom(record(), 'bob', ctx, T0), false);
    const group = record({ approval: approvalSpec({ approvers: ['S0ONCALL'] }) });
    assert.equal(awaitsDecisionFrom(group, 'slack:U0CAROL', ctx, T0), true);
    assert.equal(awaitsDecisionFrom(group, 'slack:U0MALLORY', ctx, T0), false);
    const anyReviewer = record({ approval: approvalSpec({ approvers: [] }) });
    assert.equal(awaitsDecisionFrom(anyReviewer, 'bob', ctx, T0), true);
    // Slack is never open access, even when the gateway runs in open mode.
    assert.equal(awaitsDecisionFrom(anyReviewer, 'slack:U0MALLORY', { ...ctx, openAccess: true }, T0), false);
  });

  it('leaves out what is no longer theirs to move: decided, past its deadline, or already approved by them', () => {
    assert.equal(awaitsDecisionFrom(record({ status: 'approved' }), 'alice', ctx, T0), false);
    assert.equal(awaitsDecisionFrom(record(), 'alice', ctx, T0 + 900_000), false);
    const quorum = record({
      approval: approvalSpec({ approvers: ['alice', 'bob'], minApprovals: 2 }),
      decisions: [vote('alice', 'approve')],
    });
    assert.equal(awaitsDecisionFrom(quorum, 'alice', ctx, T0), false);
    assert.equal(awaitsDecisionFrom(quorum, 'bob', ctx, T0), true);
  });
});

describe('parseSlashCommand', () => {
  it('reads pending, show ID, help and anything else', () => {
    assert.deepEqual(parseSlashCommand(''), { kind: 'help' });
    assert.deepEqual(parseSlashCommand('  HELP '), { kind: 'help' });
    assert.deepEqual(parseSlashCommand('pending'), { kind: 'pending' });
    assert.deepEqual(parseSlashCommand('show ar_AbC'), { kind: 'show', id: 'ar_AbC' });
    assert.deepEqual(parseSlashCommand('show'), { kind: 'show', id: undefined });
    assert.deepEqual(parseSlashCommand('approve everything'), { kind: 'unknown', word: 'approve' });
  });
});

describe('slack-manifest.json', () => {
  it('enables the Home tab, its event, and the command with its usage hint', async () => {
    const { readFile } = await import('node:fs/promises');
    const manifest = JSON.parse(
      await readFile(new URL('../../slack-manifest.json', import.meta.url), 'utf8'),
    );
    assert.equal(manifest.features.app_home.home_tab_enabled, true);
    assert.ok(manifest.settings.event_subscriptions.bot_events.includes('app_home_opened'));
    const command = manifest.features.slash_commands.find((c: Json) => c.command === SLASH_COMMAND);
    assert.equal(command?.usage_hint, SLASH_USAGE_HINT);
  });
});
