// Approval records built in memory for tests of what is rendered or decided from one (Slack blocks,
// edit checks): a pending `lab/start_vm` request by ci-bot, changed by what each test overrides.
import { argumentHash } from '../../src/core/approval/canonical.js';
import type { ApprovalRecord, ReviewerDecision } from '../../src/core/approval/types.js';
import type { ApprovalSpec } from '../../src/core/policy/types.js';

/** The records' creation time. */
export const T0 = Date.UTC(2025, 5, 1, 9, 30, 0);

/** One approver (alice), 15 minutes to decide, 50 s of long poll. */
export function approvalSpec(overrides: Partial<ApprovalSpec> = {}): ApprovalSpec {
  return {
    approvers: ['alice'],
    minApprovals: 1,
    timeoutMs: 900_000,
    waitMs: 50_000,
    onTimeout: 'reject',
    allowSelfApproval: false,
    ...overrides,
  };
}

/** A pending request; `argsHash` follows `overrides.args` unless set too. */
export function approvalRecord(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const args = overrides.args ?? { vm_name: 'web-01' };
  return {
    id: 'ar_AAAAAAAAAAAAAAAAAAAA',
    createdAt: T0,
    expiresAt: T0 + 900_000,
    server: 'lab',
    tool: 'start_vm',
    agent: 'ci-bot',
    args,
    argsHash: overrides.argsHash ?? argumentHash('lab', 'start_vm', args),
    rule: 'lab/start_vm',
    approval: approvalSpec(),
    status: 'pending',
    decisions: [],
    ...overrides,
  };
}

/** A reviewer's vote from Slack a minute after {@link T0}. */
export function vote(
  by: string,
  decision: 'approve' | 'reject',
  extra: Partial<ReviewerDecision> = {},
): ReviewerDecision {
  return { by, via: 'slack', at: T0 + 60_000, decision, ...extra };
}
