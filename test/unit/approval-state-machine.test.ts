import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalSpec } from '../../src/core/policy/types.js';
import type { ApprovalRecord, ApprovalStatus, ReviewerDecision } from '../../src/core/approval/types.js';
import {
  applyDecision,
  approvers,
  cancel,
  expire,
  finishExecution,
  isFinal,
  isTerminal,
  startExecution,
  type DecisionContext,
  type DecisionResult,
  type TransitionResult,
} from '../../src/core/approval/state-machine.js';
import { refusalToError } from '../../src/core/approval/refusal.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const reviewers = [
  { id: 'alice', slack: 'U0ALICE01' },
  { id: 'bob', slack: 'U0BOB0001' },
  { id: 'carol' },
  { id: 'owner', slack: 'U0OWNER01' },
];

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function spec(overrides: Partial<ApprovalSpec> = {}): ApprovalSpec {
  return {
    approvers: ['alice', 'U0BOB0001', 'carol', 'owner', 'S0ONCALL'],
    minApprovals: 1,
    timeoutMs: 900_000,
    waitMs: 50_000,
    onTimeout: 'reject',
    allowSelfApproval: false,
    ...overrides,
  };
}

// Frozen, so any mutation by a transition throws (ESM code is strict).
function record(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return deepFreeze({
    id: 'ar_AAAAAAAAAAAAAAAAAAAA',
    createdAt: T0,
    expiresAt: T0 + 900_000,
    server: 'lab',
    tool: 'start_vm',
    agent: 'ci-bot',
    agentOwner: 'U0OWNER01',
    args: { vm_name: 'web-01' },
    argsHash: 'f'.repeat(64),
    rule: 'lab/start_vm',
    approval: spec(),
    status: 'pending',
    decisions: [],
    ...overrides,
  });
}

function ctx(now = T0 + 1000): DecisionContext {
  return { reviewers, groupMembers: { S0ONCALL: ['U0DAVE001'] }, now };
}

function vote(
  by: string,
  decision: 'approve' | 'reject' = 'approve',
  extra: Partial<ReviewerDecision> = {},
): ReviewerDecision {
  return { by, via: 'slack', at: T0 + 1000, decision, ...extra };
}

function ok(result: DecisionResult | TransitionResult): ApprovalRecord {
  if (!result.ok) assert.fail(`expected ok, got ${result.code}: ${result.message}`);
  return result.record;
}

function refused(result: DecisionResult | TransitionResult, code: string, message?: RegExp): void {
  assert.equal(result.ok, false, 'expected a refusal');
  if (result.ok) return;
  assert.equal(result.code, code, result.message);
  if (message) assert.match(result.message, message);
}

describe('applyDecision: single approver', () => {
  it('approves with one approval and records who and when', () => {
    const before = record();
    const result = applyDecision(before, vote('alice', 'approve', { comment: 'looks fine' }), ctx());
    assert.ok(result.ok && result.final);
    const after = ok(result);
    assert.equal(after.status, 'approved');
    assert.equal(after.decidedBy, 'alice');
    assert.equal(after.decidedAt, T0 + 1000);
    assert.deepEqual(after.decisions, [vote('alice', 'approve', { comment: 'looks fine' })]);
    assert.equal(before.status, 'pending', 'input untouched');
    assert.equal(before.decisions.length, 0);
  });

  it('rejects with the reason', () => {
    const after = ok(applyDecision(record(), vote('bob', 'reject', { reason: 'wrong VM' }), ctx()));
    assert.equal(after.status, 'rejected');
    assert.equal(after.reason, 'wrong VM');
    assert.equal(after.decidedBy, 'bob');
  });

  it('stores the canonical identity, whatever form the vote named', () => {
    assert.equal(ok(applyDecision(record(), vote('U0ALICE01'), ctx())).decisions[0]?.by, 'alice');
    assert.equal(ok(applyDecision(record(), vote('slack:U0BOB0001'), ctx())).decisions[0]?.by, 'bob');
  });

  it('treats minApprovals below 1 as 1', () => {
    assert.equal(
      ok(applyDecision(record({ approval: spec({ minApprovals: 0 }) }), vote('alice'), ctx())).status,
      'approved',
    );
  });
});

describe('applyDecision: who may decide', () => {
  it('refuses a non-approver, whether configured or not', () => {
    refused(
      applyDecision(record({ approval: spec({ approvers: ['alice'] }) }), vote('bob'), ctx()),
      'NOT_AN_APPROVER',
      /bob is not an approver for lab\/start_vm/,
    );
    refused(applyDecision(record(), vote('slack:U0EVE0001'), ctx()), 'NOT_AN_APPROVER');
    refused(applyDecision(record(), vote('slack:U0EVE0001', 'reject'), ctx()), 'NOT_AN_APPROVER', undefined);
  });

  it('accepts a member of a listed Slack user group', () => {
    assert.equal(ok(applyDecision(record(), vote('slack:U0DAVE001'), ctx())).status, 'approved');
  });

  it('with an empty approvers list, accepts configured reviewers only', () => {
    const open = record({ approval: spec({ approvers: [] }) });
    assert.equal(ok(applyDecision(open, vote('carol'), ctx())).status, 'approved');
    refused(applyDecision(open, vote('slack:U0DAVE001'), ctx()), 'NOT_AN_APPROVER');
  });
});

describe('applyDecision: self-approval', () => {
  it('refuses the owner (configured by Slack id) approving via the CLI as a reviewer', () => {
    refused(
      applyDecision(record(), vote('owner', 'approve', { via: 'cli' }), ctx()),
      'SELF_APPROVAL',
      /owner owns agent ci-bot/,
    );
  });

  it('refuses the owner (configured by reviewer id) approving via Slack', () => {
    const r = record({ agentOwner: 'owner' });
    refused(applyDecision(r, vote('slack:U0OWNER01'), ctx()), 'SELF_APPROVAL');
    refused(applyDecision(r, vote('U0OWNER01'), ctx()), 'SELF_APPROVAL');
  });

  it('refuses an unconfigured Slack owner approving via Slack', () => {
    const r = record({ agentOwner: 'U0DAVE001' });
    refused(applyDecision(r, vote('slack:U0DAVE001'), ctx()), 'SELF_APPROVAL');
  });

  it('lets the owner approve when the policy allows self-approval', () => {
    const r = record({ approval: spec({ allowSelfApproval: true }) });
    assert.equal(ok(applyDecision(r, vote('owner'), ctx())).status, 'approved');
  });

  it('always lets the owner reject their own agent’s call', () => {
    assert.equal(ok(applyDecision(record(), vote('owner', 'reject'), ctx())).status, 'rejected');
  });

  it('lets others approve a call whose agent has an owner', () => {
    assert.equal(ok(applyDecision(record(), vote('alice'), ctx())).status, 'approved');
  });

  it('answers "not an approver" before "self-approval" for an owner who is not listed', () => {
    const r = record({ approval: spec({ approvers: ['alice'] }) });
    refused(applyDecision(r, vote('owner'), ctx()), 'NOT_AN_APPROVER');
  });
});

describe('applyDecision: quorum', () => {
  const quorum = (): ApprovalRecord => record({ approval: spec({ minApprovals: 2 }) });

  it('stays pending until N distinct identities approve', () => {
    const first = applyDecision(quorum(), vote('alice'), ctx());
    assert.ok(first.ok && !first.final);
    assert.equal(ok(first).status, 'pending');
    assert.equal(ok(first).decidedAt, undefined);
    const second = applyDecision(ok(first), vote('bob', 'approve', { via: 'console' }), ctx(T0 + 2000));
    assert.ok(second.ok && second.final);
    assert.equal(ok(second).status, 'approved');
    assert.equal(ok(second).decidedBy, 'bob');
    assert.deepEqual(approvers(ok(second)), ['alice', 'bob']);
  });

  it('counts the same person via Slack and via the CLI once', () => {
    const afterCli = ok(applyDecision(quorum(), vote('alice', 'approve', { via: 'cli' }), ctx()));
    refused(
      applyDecision(afterCli, vote('slack:U0ALICE01'), ctx()),
      'DUPLICATE_APPROVAL',
      /alice already approved/,
    );
    refused(applyDecision(afterCli, vote('U0ALICE01'), ctx()), 'DUPLICATE_APPROVAL');
    refused(
      applyDecision(afterCli, vote('alice', 'approve', { via: 'console' }), ctx()),
      'DUPLICATE_APPROVAL',
    );
  });

  it('rejects on any one reject, even after approvals', () => {
    const one = ok(applyDecision(quorum(), vote('alice'), ctx()));
    const result = applyDecision(one, vote('bob', 'reject', { reason: 'not today' }), ctx());
    assert.ok(result.ok && result.final);
    assert.equal(ok(result).status, 'rejected');
    assert.equal(ok(result).reason, 'not today');
    assert.equal(ok(result).decisions.length, 2);
  });

  it('lets an approver change their mind and reject before the quorum is met', () => {
    const one = ok(applyDecision(quorum(), vote('alice'), ctx()));
    assert.equal(ok(applyDecision(one, vote('alice', 'reject'), ctx())).status, 'rejected');
  });

  it('accepts a group member and a reviewer as two approvers', () => {
    const one = ok(applyDecision(quorum(), vote('slack:U0DAVE001'), ctx()));
    assert.equal(ok(applyDecision(one, vote('carol'), ctx())).status, 'approved');
  });
});

describe('applyDecision: first decision wins', () => {
  it('refuses a second approval once approved, naming who and when', () => {
    const approved = ok(applyDecision(record(), vote('alice', 'approve', { display: 'Alice A.' }), ctx()));
    refused(
      applyDecision(approved, vote('bob'), ctx()),
      'ALREADY_DECIDED',
      /^Already decided by Alice A\. at 2025-01-01T12:00:01\.000Z: approved\.$/,
    );
    refused(applyDecision(approved, vote('bob', 'reject'), ctx()), 'ALREADY_DECIDED');
  });

  it('refuses an approval once rejected', () => {
    const rejected = ok(applyDecision(record(), vote('bob', 'reject'), ctx()));
    refused(
      applyDecision(rejected, vote('alice'), ctx()),
      'ALREADY_DECIDED',
      /Already decided by bob at .*: rejected/,
    );
  });

  it('names every approver of a quorum', () => {
    const r = record({ approval: spec({ minApprovals: 2 }) });
    const done = ok(applyDecision(ok(applyDecision(r, vote('alice'), ctx())), vote('bob'), ctx()));
    refused(applyDecision(done, vote('carol'), ctx()), 'ALREADY_DECIDED', /alice, bob/);
  });

  it('refuses decisions during and after execution', () => {
    const approved = ok(applyDecision(record(), vote('alice'), ctx()));
    const running = ok(startExecution(approved, T0 + 2000));
    refused(applyDecision(running, vote('bob', 'reject'), ctx()), 'ALREADY_DECIDED');
    const done = ok(finishExecution(running, T0 + 3000, { isError: false }));
    refused(applyDecision(done, vote('bob', 'reject'), ctx()), 'ALREADY_DECIDED');
  });

  it('refuses decisions on a cancelled request', () => {
    const cancelled = ok(cancel(record(), T0 + 5, 'agent disconnected'));
    refused(
      applyDecision(cancelled, vote('alice'), ctx()),
      'ALREADY_DECIDED',
      /cancelled .*agent disconnected/,
    );
  });
});

describe('applyDecision: expiry', () => {
  it('refuses a vote at or after expiresAt even before the deadline job has fired', () => {
    const r = record();
    refused(
      applyDecision(r, vote('alice'), ctx(r.expiresAt)),
      'EXPIRED',
      /expired at 2025-01-01T12:15:00\.000Z/,
    );
    refused(applyDecision(r, vote('alice', 'reject'), ctx(r.expiresAt + 1)), 'EXPIRED');
  });

  it('accepts a vote one millisecond before expiry', () => {
    const r = record();
    assert.equal(ok(applyDecision(r, vote('alice'), ctx(r.expiresAt - 1))).status, 'approved');
  });

  it('refuses a vote on an expired request', () => {
    const expired = ok(expire(record(), T0 + 900_000));
    refused(applyDecision(expired, vote('alice'), ctx()), 'EXPIRED');
  });

  it('race: a decision that landed first makes the deadline a no-op', () => {
    const approved = ok(applyDecision(record(), vote('alice'), ctx(T0 + 899_999)));
    refused(expire(approved, T0 + 900_000), 'ALREADY_DECIDED');
  });

  it('race: an expiry that landed first refuses the late click', () => {
    const expired = ok(expire(record(), T0 + 900_000));
    refused(applyDecision(expired, vote('alice'), ctx(T0 + 899_999)), 'EXPIRED');
  });
});

describe('expire and cancel', () => {
  it('expires a pending request, keeping partial approvals', () => {
    const partial = ok(applyDecision(record({ approval: spec({ minApprovals: 2 }) }), vote('alice'), ctx()));
    const expired = ok(expire(partial, T0 + 900_000));
    assert.equal(expired.status, 'expired');
    assert.equal(expired.decidedAt, T0 + 900_000);
    assert.equal(expired.decidedBy, undefined);
    assert.equal(expired.decisions.length, 1);
  });

  it('cancels a pending request with a reason, once', () => {
    const cancelled = ok(cancel(record(), T0 + 10, 'policy changed'));
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.reason, 'policy changed');
    refused(cancel(cancelled, T0 + 11, 'again'), 'ALREADY_DECIDED');
    refused(expire(cancelled, T0 + 11), 'ALREADY_DECIDED');
  });

  it('does not cancel a decided request', () => {
    refused(cancel(ok(applyDecision(record(), vote('alice'), ctx())), T0 + 10, 'late'), 'ALREADY_DECIDED');
  });
});

describe('execution', () => {
  const approved = (): ApprovalRecord => deepFreeze(ok(applyDecision(record(), vote('alice'), ctx())));

  it('starts only from approved, so the call runs at most once', () => {
    const running = ok(startExecution(approved(), T0 + 2000));
    assert.equal(running.status, 'executing');
    assert.deepEqual(running.execution, { startedAt: T0 + 2000 });
    refused(startExecution(running, T0 + 2001), 'INVALID_TRANSITION', /is executing, not approved/);
    refused(startExecution(record(), T0), 'INVALID_TRANSITION');
    refused(startExecution(ok(expire(record(), T0)), T0), 'INVALID_TRANSITION');
  });

  it('finishes as executed or failed with timing and summary', () => {
    const running = deepFreeze(ok(startExecution(approved(), T0 + 2000)));
    const done = ok(finishExecution(running, T0 + 3500, { isError: false, summary: 'VM web-01 started' }));
    assert.equal(done.status, 'executed');
    assert.deepEqual(done.execution, {
      startedAt: T0 + 2000,
      finishedAt: T0 + 3500,
      isError: false,
      summary: 'VM web-01 started',
    });
    const failed = ok(finishExecution(running, T0 + 2500, { isError: true, summary: 'upstream down' }));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.execution?.isError, true);
    refused(finishExecution(done, T0 + 4000, { isError: false }), 'INVALID_TRANSITION');
    refused(finishExecution(approved(), T0 + 4000, { isError: false }), 'INVALID_TRANSITION');
  });
});

describe('status helpers', () => {
  it('isFinal is true for everything but pending; isTerminal for end states', () => {
    const table: Record<ApprovalStatus, [boolean, boolean]> = {
      pending: [false, false],
      approved: [true, false],
      executing: [true, false],
      rejected: [true, true],
      expired: [true, true],
      cancelled: [true, true],
      executed: [true, true],
      failed: [true, true],
    };
    for (const [status, [final, terminal]] of Object.entries(table) as [
      ApprovalStatus,
      [boolean, boolean],
    ][]) {
      assert.equal(isFinal(status), final, status);
      assert.equal(isTerminal(status), terminal, status);
    }
  });
});

describe('refusalToError', () => {
  it('maps refusals to AirlockError codes, keeping the precise code', () => {
    const cases = [
      ['ALREADY_DECIDED', 'ALREADY_DECIDED'],
      ['DUPLICATE_APPROVAL', 'ALREADY_DECIDED'],
      ['NOT_AN_APPROVER', 'NOT_AN_APPROVER'],
      ['SELF_APPROVAL', 'SELF_APPROVAL'],
      ['EXPIRED', 'APPROVAL_EXPIRED'],
      ['INVALID_TRANSITION', 'INTERNAL'],
    ] as const;
    for (const [refusal, code] of cases) {
      const err = refusalToError({ ok: false, code: refusal, message: 'm' });
      assert.equal(err.code, code);
      assert.equal(err.message, 'm');
      assert.equal(err.details['refusal'], refusal);
    }
  });
});
