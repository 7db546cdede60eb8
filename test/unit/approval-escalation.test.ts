import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicy, PolicyError, type PolicyIssue } from '../../src/core/policy/index.js';
import type { ApprovalSpec } from '../../src/core/policy/types.js';
import type { ApprovalRecord } from '../../src/core/approval/types.js';
import {
  addedApprovers,
  applyDecision,
  approverEntries,
  escalate,
  mayDecide,
  remind,
  type DecisionContext,
  type FollowUpResult,
} from '../../src/core/approval/state-machine.js';
import { checkPolicyDir, formatIssues } from '../../src/policy/index.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const reviewers = [{ id: 'alice', slack: 'U0ALICE01' }, { id: 'bob' }, { id: 'sec', slack: 'U0SEC0001' }];

function spec(overrides: Partial<ApprovalSpec> = {}): ApprovalSpec {
  return {
    approvers: ['alice'],
    minApprovals: 1,
    timeoutMs: 900_000,
    waitMs: 50_000,
    onTimeout: 'reject',
    allowSelfApproval: false,
    remindMs: 300_000,
    escalate: [
      { afterMs: 600_000, approvers: ['S0SECURITY'], channel: 'C0ESCALATE' },
      { afterMs: 700_000, approvers: ['bob', 'S0SECURITY'] },
    ],
    ...overrides,
  };
}

function record(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return Object.freeze({
    id: 'ar_AAAAAAAAAAAAAAAAAAAA',
    createdAt: T0,
    expiresAt: T0 + 900_000,
    server: 'lab',
    tool: 'start_vm',
    agent: 'ci-bot',
    args: { vm_name: 'web-01' },
    argsHash: 'f'.repeat(64),
    rule: 'lab/start_vm',
    approval: spec(),
    status: 'pending',
    decisions: [],
    ...overrides,
  });
}

const ctx = (now = T0 + 1000): DecisionContext => ({
  reviewers,
  groupMembers: { S0SECURITY: ['U0SEC0001'] },
  now,
});

function ok(result: FollowUpResult): ApprovalRecord & { changed?: boolean } {
  if (!result.ok) assert.fail(`expected ok, got ${result.code}: ${result.message}`);
  return Object.assign({}, result.record, { changed: result.changed });
}

describe('escalate', () => {
  it('adds the step approvers, who may then decide and count toward the quorum', () => {
    const before = record({ approval: spec({ minApprovals: 2 }) });
    assert.equal(mayDecide(before, 'sec', ctx()), false);
    const r = escalate(before, 0, T0 + 600_000);
    assert.ok(r.ok && r.changed);
    assert.deepEqual(r.record.escalations, [
      { step: 0, at: T0 + 600_000, approvers: ['S0SECURITY'], channel: 'C0ESCALATE' },
    ]);
    assert.equal(mayDecide(r.record, 'sec', ctx()), true, 'a member of the added group');
    assert.equal(mayDecide(r.record, 'alice', ctx()), true, 'the original approver keeps her rights');
    assert.equal(mayDecide(r.record, 'bob', ctx()), false, 'step 1 has not happened');
    const one = applyDecision(r.record, { by: 'alice', via: 'slack', at: T0, decision: 'approve' }, ctx());
    assert.ok(one.ok && !one.final);
    const two = applyDecision(
      one.record,
      { by: 'slack:U0SEC0001', via: 'slack', at: T0, decision: 'approve' },
      ctx(),
    );
    assert.ok(two.ok && two.final);
    assert.equal(two.record.status, 'approved');
    assert.equal(two.record.decidedBy, 'sec');
  });

  it('is idempotent: a re-delivered step adds nothing twice', () => {
    const once = ok(escalate(record(), 0, T0 + 600_000));
    const again = escalate(once, 0, T0 + 650_000);
    assert.ok(again.ok);
    assert.equal(again.changed, false);
    assert.equal(again.record, once);
    const both = ok(escalate(once, 1, T0 + 700_000));
    assert.deepEqual(addedApprovers(both), ['S0SECURITY', 'bob']);
    assert.deepEqual(approverEntries(both), ['alice', 'S0SECURITY', 'bob']);
  });

  it('is refused once the request is decided, and for a step the policy does not have', () => {
    for (const status of ['approved', 'rejected', 'expired', 'cancelled', 'executed'] as const) {
      const r = escalate(record({ status, decidedAt: T0 + 5 }), 0, T0 + 600_000);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.code, 'ALREADY_DECIDED');
    }
    const missing = escalate(record(), 2, T0);
    assert.ok(!missing.ok && missing.code === 'INVALID_TRANSITION');
  });

  it('keeps an empty approvers list meaning any configured reviewer after escalation', () => {
    const r = ok(escalate(record({ approval: spec({ approvers: [] }) }), 0, T0));
    assert.equal(mayDecide(r, 'bob', ctx()), true);
    assert.equal(mayDecide(r, 'slack:U0SEC0001', ctx()), true);
    assert.equal(mayDecide(r, 'slack:U0STRANGER', ctx()), false);
  });
});

describe('remind', () => {
  it('records each reminder once, and none after a decision', () => {
    const first = ok(remind(record(), 1, T0 + 300_000));
    assert.deepEqual(first.reminders, [T0 + 300_000]);
    const redelivered = remind(first, 1, T0 + 300_500);
    assert.ok(redelivered.ok && !redelivered.changed);
    const second = ok(remind(first, 2, T0 + 600_000));
    assert.deepEqual(second.reminders, [T0 + 300_000, T0 + 600_000]);
    const late = remind(record({ status: 'rejected', decidedAt: T0 }), 1, T0 + 300_000);
    assert.ok(!late.ok && late.code === 'ALREADY_DECIDED');
  });
});

function issuesOf(approval: unknown): string[] {
  try {
    parsePolicy({ version: '1', tools: { t: { action: 'require_approval', approval } } }, 'lab.json');
  } catch (err) {
    assert.ok(err instanceof PolicyError);
    return err.issues.map((i: PolicyIssue) => `${i.path}: ${i.message}`);
  }
  return [];
}

describe('policy: remind and escalate', () => {
  it('compiles durations to milliseconds', () => {
    const p = parsePolicy(
      {
        version: '1',
        tools: {
          t: {
            action: 'require_approval',
            approval: {
              timeout: '30m',
              remind: '5m',
              escalate: [
                { after: '10m', approvers: ['S0SECURITY'], channel: 'C0ESCALATE' },
                { after: '20m', approvers: ['bob'] },
              ],
            },
          },
        },
      },
      'lab.json',
    );
    const approval = p.exact.get('t')?.outcome.approval;
    assert.equal(approval?.remindMs, 300_000);
    assert.deepEqual(approval?.escalate, [
      { afterMs: 600_000, approvers: ['S0SECURITY'], channel: 'C0ESCALATE' },
      { afterMs: 1_200_000, approvers: ['bob'] },
    ]);
  });

  it('names each problem by path', () => {
    assert.deepEqual(
      issuesOf({
        timeout: '10m',
        remind: '10m',
        escalate: [
          { after: '5 minutes', approvers: ['a'] },
          { after: '6m', approvers: [] },
          { after: '6m', approvers: ['b'], channel: '#security' },
          { after: '12m', approvers: ['c'] },
        ],
      }).sort(),
      [
        '$.tools.t.approval.escalate[0].after: expected a duration like "500ms", "50s", "15m", "1h" or "2d"',
        '$.tools.t.approval.escalate[1].approvers: list at least one approver to escalate to',
        "$.tools.t.approval.escalate[2].after: after (6m) must be later than the previous step's after (6m)",
        '$.tools.t.approval.escalate[2].channel: expected a Slack channel id like "C0123ABCD" (not a #name)',
        '$.tools.t.approval.escalate[3].after: after (12m) must be shorter than timeout (10m), or this step never happens',
        '$.tools.t.approval.remind: remind (10m) must be shorter than timeout (10m), or no reminder is ever sent',
      ],
    );
    assert.deepEqual(issuesOf({ escalate: [{ after: '20m', approvers: ['a'] }] }), [
      '$.tools.t.approval.escalate[0].after: after (20m) must be shorter than timeout (15m, the default), or this step never happens',
    ]);
  });

  it('policy check names the file and path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-escalate-'));
    try {
      writeFileSync(
        join(dir, 'lab.json'),
        JSON.stringify({
          version: '1',
          tools: { t: { approval: { escalate: [{ after: '1m', approvers: [] }] } } },
        }),
      );
      assert.deepEqual(formatIssues(await checkPolicyDir(dir)).split('\n'), [
        `${join(dir, 'lab.json')}: $.tools.t.approval.escalate[0].approvers: list at least one approver to escalate to`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
