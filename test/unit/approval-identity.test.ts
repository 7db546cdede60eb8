import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AirlockError } from '../../src/core/errors.js';
import type { ApprovalSpec } from '../../src/core/policy/types.js';
import {
  identityOf,
  isEligibleApprover,
  resolveIdentity,
  slackUserIdOf,
  type IdentityContext,
} from '../../src/core/approval/identity.js';

const reviewers = [
  { id: 'alice', token: 'x'.repeat(16), slack: 'U0456EFGH' },
  { id: 'bob', slack: 'W0BOB0001' },
  { id: 'carol' },
  // A reviewer id that happens to look like a Slack group id is still a reviewer.
  { id: 'SAM' },
];

function spec(approvers: string[]): ApprovalSpec {
  return {
    approvers,
    minApprovals: 1,
    timeoutMs: 900_000,
    waitMs: 50_000,
    onTimeout: 'reject',
    allowSelfApproval: false,
  };
}

const ctx: IdentityContext = { reviewers, groupMembers: { S0ONCALL: ['U0456EFGH', 'U0DAVE001'] } };

describe('resolveIdentity', () => {
  it('maps a reviewer id and that reviewer’s Slack id to the same identity', () => {
    assert.equal(resolveIdentity(reviewers, { reviewerId: 'alice' }), 'alice');
    assert.equal(resolveIdentity(reviewers, { slackUserId: 'U0456EFGH' }), 'alice');
    assert.equal(resolveIdentity(reviewers, { slackUserId: 'W0BOB0001' }), 'bob');
  });

  it('gives an unconfigured Slack user a slack: identity', () => {
    assert.equal(resolveIdentity(reviewers, { slackUserId: 'U0DAVE001' }), 'slack:U0DAVE001');
  });

  it('prefers the authenticated reviewer id when both are given', () => {
    assert.equal(resolveIdentity(reviewers, { reviewerId: 'carol', slackUserId: 'U0456EFGH' }), 'carol');
  });

  it('keeps an authenticated reviewer id even when it is not configured', () => {
    assert.equal(resolveIdentity(reviewers, { reviewerId: 'retired' }), 'retired');
  });

  it('refuses an anonymous decision', () => {
    assert.throws(
      () => resolveIdentity(reviewers, {}),
      (e: unknown) => e instanceof AirlockError && e.code === 'BAD_REQUEST',
    );
    assert.throws(() => resolveIdentity(reviewers, { reviewerId: '', slackUserId: '' }), AirlockError);
  });
});

describe('identityOf', () => {
  it('canonicalises reviewer ids, Slack ids and slack: identities, idempotently', () => {
    for (const [ref, expected] of [
      ['alice', 'alice'],
      ['U0456EFGH', 'alice'],
      ['slack:U0456EFGH', 'alice'],
      ['U0DAVE001', 'slack:U0DAVE001'],
      ['slack:U0DAVE001', 'slack:U0DAVE001'],
      ['SAM', 'SAM'],
      ['someone', 'someone'],
    ] as const) {
      assert.equal(identityOf(reviewers, ref), expected, ref);
      assert.equal(identityOf(reviewers, identityOf(reviewers, ref)), expected, `${ref} twice`);
    }
  });

  it('finds the Slack user behind an identity', () => {
    assert.equal(slackUserIdOf(reviewers, 'alice'), 'U0456EFGH');
    assert.equal(slackUserIdOf(reviewers, 'slack:U0DAVE001'), 'U0DAVE001');
    assert.equal(slackUserIdOf(reviewers, 'carol'), undefined);
  });
});

describe('isEligibleApprover', () => {
  it('accepts a reviewer listed by id or by Slack id, from any surface', () => {
    assert.ok(isEligibleApprover(spec(['alice']), 'alice', ctx));
    assert.ok(isEligibleApprover(spec(['U0456EFGH']), 'alice', ctx));
    assert.ok(isEligibleApprover(spec(['alice']), 'slack:U0456EFGH', ctx));
    assert.ok(isEligibleApprover(spec(['W0BOB0001']), 'bob', ctx));
  });

  it('accepts an unconfigured Slack user listed by Slack id', () => {
    assert.ok(isEligibleApprover(spec(['U0DAVE001']), 'slack:U0DAVE001', ctx));
  });

  it('refuses anyone not listed', () => {
    assert.equal(isEligibleApprover(spec(['alice']), 'bob', ctx), false);
    assert.equal(isEligibleApprover(spec(['U0456EFGH']), 'carol', ctx), false);
    assert.equal(isEligibleApprover(spec(['alice']), 'slack:U0DAVE001', ctx), false);
  });

  it('accepts members of a listed Slack user group, as reviewers or as plain Slack users', () => {
    assert.ok(isEligibleApprover(spec(['S0ONCALL']), 'alice', ctx));
    assert.ok(isEligibleApprover(spec(['S0ONCALL']), 'slack:U0DAVE001', ctx));
    assert.equal(isEligibleApprover(spec(['S0ONCALL']), 'bob', ctx), false);
    assert.equal(
      isEligibleApprover(spec(['S0ONCALL']), 'carol', ctx),
      false,
      'no Slack id, cannot be a member',
    );
  });

  it('fails closed when a group’s members are unknown', () => {
    assert.equal(isEligibleApprover(spec(['S0UNKNOWN']), 'alice', ctx), false);
  });

  it('reads a reviewer id shaped like a group id as the reviewer', () => {
    assert.ok(isEligibleApprover(spec(['SAM']), 'SAM', ctx));
    assert.equal(isEligibleApprover(spec(['SAM']), 'alice', ctx), false);
  });

  it('with no approvers listed, accepts any configured reviewer and nobody else', () => {
    assert.ok(isEligibleApprover(spec([]), 'carol', ctx));
    assert.ok(isEligibleApprover(spec([]), 'slack:U0456EFGH', ctx));
    assert.equal(isEligibleApprover(spec([]), 'slack:U0DAVE001', ctx), false);
    assert.equal(isEligibleApprover(spec([]), 'retired', ctx), false);
  });

  it('with no approvers and no reviewers, accepts nobody unless open access is on', () => {
    const empty: IdentityContext = { reviewers: [], groupMembers: {} };
    assert.equal(isEligibleApprover(spec([]), 'local', empty), false);
    assert.ok(isEligibleApprover(spec([]), 'local', { ...empty, openAccess: true }));
    assert.equal(
      isEligibleApprover(spec(['alice']), 'local', { ...empty, openAccess: true }),
      false,
      'a list still binds',
    );
  });
});
