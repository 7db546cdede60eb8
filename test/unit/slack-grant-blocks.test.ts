// The pure builders behind Slack's grant controls: the "Approve for…" menu (durations never above the
// rule's max, only the offered scopes), the grant lines of a decided message, and the Home tab's grants.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalRecord } from '../../src/core/approval/types.js';
import type { Grant } from '../../src/core/grants/grant.js';
import { parseDuration } from '../../src/core/policy/duration.js';
import type { GrantScope } from '../../src/core/policy/types.js';
import {
  HOME_GRANTS_MAX,
  HOME_VIEW_MAX_BLOCKS,
  approveForMenu,
  decidedMessage,
  grantDurations,
  homeView,
  parseGrantChoice,
  requestMessage,
} from '../../src/slack/blocks/index.js';
import { blockKitProblems, viewProblems } from '../helpers/block-kit-check.js';
import { approvalRecord, approvalSpec, T0 } from '../helpers/approval-records.js';

const grants = (max: string, scopes: GrantScope[] = ['exact', 'tool']) => ({
  max,
  maxMs: parseDuration(max),
  scopes,
});

function record(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return approvalRecord({ approval: approvalSpec({ grants: grants('8h') }), ...overrides });
}

function grant(i: number, overrides: Partial<Grant> = {}): Grant {
  return {
    id: `gr_${String(i).padStart(22, 'A')}`,
    agent: 'ci-bot',
    server: 'lab',
    tool: 'start_vm',
    scope: 'tool',
    grantedBy: ['alice'],
    requestId: 'ar_AAAAAAAAAAAAAAAAAAAA',
    rule: 'lab/start_vm',
    createdAt: T0,
    expiresAt: T0 + 3_600_000,
    uses: 2,
    ...overrides,
  };
}

describe('grantDurations', () => {
  it('offers the presets below max and max itself, never more', () => {
    assert.deepEqual(grantDurations(grants('8h')), ['15m', '1h', '4h', '8h']);
    assert.deepEqual(grantDurations(grants('30m')), ['15m', '30m']);
    assert.deepEqual(grantDurations(grants('5s')), ['5s']);
    assert.deepEqual(grantDurations(grants('7d')), ['15m', '1h', '4h', '8h', '24h', '7d']);
    assert.deepEqual(grantDurations(grants('90m')), ['15m', '1h', '90m']);
  });
});

describe('approveForMenu', () => {
  it('is absent when the rule offers no grants', () => {
    const r = record();
    delete r.approval.grants;
    assert.equal(approveForMenu(r), undefined);
    const json = JSON.stringify(requestMessage(r).blocks);
    assert.doesNotMatch(json, /airlock_approve_for/);
  });

  it('groups durations by scope when both are offered, with a confirm dialog; Slack would accept it', () => {
    const msg = requestMessage(record());
    assert.deepEqual(blockKitProblems(msg.blocks, msg.text), []);
    const menu = approveForMenu(record())!;
    assert.equal(menu.action_id, 'airlock_approve_for');
    assert.equal(menu.placeholder?.text, 'Approve for…');
    assert.ok(menu.confirm, 'a confirm dialog guards against an accidental tap');
    assert.deepEqual(
      menu.option_groups?.map((g) => g.options.map((o) => o.text.text)),
      [
        ['For 15m', 'For 1h', 'For 4h', 'For 8h'],
        ['For 15m', 'For 1h', 'For 4h', 'For 8h'],
      ],
    );
    const values = menu.option_groups!.flatMap((g) => g.options.map((o) => o.value!));
    for (const v of values) {
      const choice = parseGrantChoice(v)!;
      assert.equal(choice.requestId, 'ar_AAAAAAAAAAAAAAAAAAAA');
      assert.ok(parseDuration(choice.grant.for) <= parseDuration('8h'));
    }
  });

  it('offers a single scope as plain options', () => {
    const r = record();
    r.approval.grants = grants('1h', ['exact']);
    const menu = approveForMenu(r)!;
    assert.equal(menu.option_groups, undefined);
    assert.deepEqual(
      menu.options?.map((o) => [o.text.text, o.value]),
      [
        ['For 15m · these exact arguments', 'ar_AAAAAAAAAAAAAAAAAAAA 15m exact'],
        ['For 1h · these exact arguments', 'ar_AAAAAAAAAAAAAAAAAAAA 1h exact'],
      ],
    );
  });

  it('parseGrantChoice refuses malformed values', () => {
    assert.equal(parseGrantChoice(undefined), undefined);
    assert.equal(parseGrantChoice('ar_x 1h'), undefined);
    assert.equal(parseGrantChoice('ar_x 1h everything'), undefined);
    assert.equal(parseGrantChoice('ar_x 1h tool extra'), undefined);
    assert.deepEqual(parseGrantChoice('ar_x 2h tool'), {
      requestId: 'ar_x',
      grant: { for: '2h', scope: 'tool' },
    });
  });
});

describe('decided message with a grant', () => {
  it('says who approved with which grant, and the grant id and expiry', () => {
    const r = record({
      status: 'executed',
      decidedAt: T0 + 1000,
      decidedBy: 'alice',
      decisions: [
        {
          by: 'alice',
          display: 'Alice',
          via: 'slack',
          at: T0 + 1000,
          decision: 'approve',
          grant: { durationMs: 3_600_000, scope: 'tool' },
        },
      ],
      grant: {
        id: 'gr_BBBBBBBBBBBBBBBBBBBBBB',
        durationMs: 3_600_000,
        scope: 'tool',
        expiresAt: T0 + 3_601_000,
      },
    });
    const msg = decidedMessage(r);
    assert.deepEqual(blockKitProblems(msg.blocks, msg.text), []);
    const json = JSON.stringify(msg.blocks);
    assert.match(json, /Approved\* by Alice via Slack at <!date\^\d+[^>]*> with a 1h grant \(tool scope\)/);
    assert.match(json, /\*Grant\* `gr_BBBBBBBBBBBBBBBBBBBBBB` \(tool scope\)/);
    assert.match(json, new RegExp(`until <!date\\^${Math.floor((T0 + 3_601_000) / 1000)}\\^`));
  });
});

describe('Home tab grants', () => {
  it('lists each grant with its facts and a Revoke button; nothing when there are none', () => {
    const none = homeView([], { now: T0, isReviewer: true });
    assert.doesNotMatch(JSON.stringify(none), /grant/i);
    const view = homeView([], { now: T0, isReviewer: true, grants: [grant(1)] });
    assert.deepEqual(viewProblems(view), []);
    const section = view.blocks.find((b) => JSON.stringify(b).includes('airlock_revoke_grant')) as any;
    assert.match(section.text.text, /`start_vm`\* on `lab` · agent `ci-bot` · tool scope/);
    assert.match(section.text.text, /Granted by alice · expires in 1h \(<!date/);
    assert.match(section.text.text, /· 2 uses/);
    assert.equal(section.accessory.value, grant(1).id);
    assert.equal(section.accessory.style, 'danger');
    assert.ok(section.accessory.confirm);
  });

  it('caps the grants and keeps the whole view within Slack’s 100 blocks', () => {
    const many = Array.from({ length: HOME_GRANTS_MAX + 4 }, (_, i) => grant(i));
    const pending = Array.from({ length: 60 }, (_, i) => record({ id: `ar_${String(i).padStart(20, 'P')}` }));
    const view = homeView(pending, { now: T0, isReviewer: true, grants: many });
    assert.ok(view.blocks.length <= HOME_VIEW_MAX_BLOCKS, `${view.blocks.length} blocks`);
    const revokes = JSON.stringify(view).match(/airlock_revoke_grant/g) ?? [];
    assert.equal(revokes.length, HOME_GRANTS_MAX);
    assert.match(JSON.stringify(view), /…and 4 more: `airlock grants`/);
  });
});
