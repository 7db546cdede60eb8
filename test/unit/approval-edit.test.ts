import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, PolicyError, type PolicyIssue } from '../../src/core/policy/index.js';
import { explainCall, formatExplanation } from '../../src/policy/explain.js';
import {
  checkEditAllowed,
  checkEditedDecision,
  checkEditorMayApprove,
  restoreRedacted,
  withEdit,
} from '../../src/core/approval/edit.js';
import { argumentHash } from '../../src/core/approval/canonical.js';
import { applyDecision } from '../../src/core/approval/state-machine.js';
import { grantOf, recordGrantOf } from '../../src/core/grants/grant.js';
import { AirlockError } from '../../src/core/errors.js';
import type { ApprovalRecord } from '../../src/core/approval/types.js';
import type { Decision } from '../../src/core/policy/types.js';

const policyWith = (approval: unknown) => ({
  version: '1',
  tools: { start_vm: { action: 'require_approval', approval } },
});

function issuesOf(doc: unknown): PolicyIssue[] {
  try {
    parsePolicy(doc, 'lab.json');
  } catch (err) {
    assert.ok(err instanceof PolicyError);
    return err.issues;
  }
  return [];
}

test('approval.allow_edit compiles to allowEdit (absent: no edits) and policy explain shows it', () => {
  const on = parsePolicy(policyWith({ allow_edit: true }), 'lab.json');
  assert.equal(on.exact.get('start_vm')?.outcome.approval?.allowEdit, true);
  const off = parsePolicy(policyWith({}), 'lab.json');
  assert.equal(off.exact.get('start_vm')?.outcome.approval?.allowEdit, undefined);
  const source = (p: typeof on) => ({ get: (server: string) => (server === 'lab' ? p : undefined) });
  const call = { server: 'lab', tool: 'start_vm', args: {} };
  assert.match(formatExplanation(explainCall(source(on), call)), /edit: +allowed/);
  assert.doesNotMatch(formatExplanation(explainCall(source(off), call)), /edit:/);
});

test('malformed allow_edit values name file and path; allow_edit with a quorum is refused', () => {
  const paths = issuesOf(policyWith({ allow_edit: 'yes' })).map((i) => `${i.file} ${i.path}`);
  assert.deepEqual(paths, ['lab.json $.tools.start_vm.approval.allow_edit']);
  const quorum = issuesOf(policyWith({ approvers: ['alice', 'bob'], min_approvals: 2, allow_edit: true }));
  assert.equal(quorum.length, 1);
  assert.equal(quorum[0]!.path, '$.tools.start_vm.approval.allow_edit');
  assert.match(quorum[0]!.message, /min_approvals 1/);
});

function pending(over: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const args = { vm_name: 'web-01' };
  return {
    id: 'ar_test',
    createdAt: 0,
    expiresAt: 60_000,
    server: 'lab',
    tool: 'start_vm',
    agent: 'ci-bot',
    args,
    argsHash: argumentHash('lab', 'start_vm', args),
    rule: 'lab/start_vm',
    approval: {
      approvers: ['alice'],
      minApprovals: 1,
      timeoutMs: 60_000,
      waitMs: 1000,
      onTimeout: 'reject',
      allowSelfApproval: false,
      allowEdit: true,
      grants: { max: '1h', maxMs: 3_600_000, scopes: ['exact'] },
    },
    status: 'pending',
    decisions: [],
    ...over,
  };
}

function code(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AirlockError);
    return err.code;
  }
  return undefined;
}

test('edits are allowed only where the rule says so, and never with a quorum', () => {
  assert.equal(
    code(() => checkEditAllowed(pending())),
    undefined,
  );
  const r = pending();
  assert.equal(
    code(() => checkEditAllowed({ ...r, approval: { ...r.approval, allowEdit: false } })),
    'EDIT_NOT_ALLOWED',
  );
  const { allowEdit: _a, ...noKey } = r.approval;
  assert.equal(
    code(() => checkEditAllowed({ ...r, approval: noKey })),
    'EDIT_NOT_ALLOWED',
  );
  assert.equal(
    code(() => checkEditAllowed({ ...r, approval: { ...r.approval, minApprovals: 2 } })),
    'EDIT_NOT_ALLOWED',
  );
});

test('the policy on the edited arguments: allow and single approval pass, deny and quorum refuse', () => {
  const d = (over: Partial<Decision>): Decision => ({ action: 'allow', rule: 'lab/x', limits: [], ...over });
  const r = pending();
  assert.equal(
    code(() => checkEditedDecision(r, d({}))),
    undefined,
  );
  assert.equal(
    code(() => checkEditedDecision(r, d({ action: 'require_approval', approval: r.approval }))),
    undefined,
  );
  assert.equal(
    code(() => checkEditedDecision(r, d({ action: 'deny', reason: 'no' }))),
    'EDIT_REFUSED',
  );
  const quorum = { ...r.approval, minApprovals: 2 };
  assert.equal(
    code(() => checkEditedDecision(r, d({ action: 'require_approval', approval: quorum }))),
    'EDIT_REFUSED',
  );
});

test('the approval binds to the edited hash; the original stays in the edit record; an exact grant follows the edit', () => {
  const r = pending();
  const voted = applyDecision(
    r,
    { by: 'alice', via: 'api', at: 10, decision: 'approve', grant: { durationMs: 60_000, scope: 'exact' } },
    { reviewers: [{ id: 'alice' }], groupMembers: {}, openAccess: false, now: 10 },
  );
  assert.ok(voted.ok && voted.final);
  const edited = withEdit(voted.record, {
    args: { vm_name: 'db-01' },
    by: 'alice',
    via: 'api',
    at: 10,
    rule: 'lab/start_vm',
  });
  assert.deepEqual(edited.args, { vm_name: 'db-01' });
  assert.equal(edited.argsHash, argumentHash('lab', 'start_vm', { vm_name: 'db-01' }));
  assert.notEqual(edited.argsHash, r.argsHash);
  assert.deepEqual(edited.edited?.originalArgs, { vm_name: 'web-01' });
  assert.equal(edited.edited?.originalHash, r.argsHash);
  assert.deepEqual(r.args, { vm_name: 'web-01' }, 'the input record is left untouched');
  const g = recordGrantOf(edited, 10, 'gr_0123456789abcdefghijkl')!;
  assert.equal(grantOf({ ...edited, grant: g }, ['alice']).argsHash, edited.argsHash);
});

test('a value still [REDACTED] under a secret key keeps the original; anything else is the edit', () => {
  const original = {
    host: 'a',
    api_key: 'sk-1',
    nested: { password: 'p', note: 'x' },
    list: [{ token: 't' }],
  };
  const edited = {
    host: 'b',
    api_key: '[REDACTED]',
    nested: { password: 'changed', note: '[REDACTED]' },
    list: [{ token: '[REDACTED]' }],
    secret: '[REDACTED]',
  };
  assert.deepEqual(restoreRedacted(edited, original), {
    host: 'b',
    api_key: 'sk-1',
    nested: { password: 'changed', note: '[REDACTED]' },
    list: [{ token: 't' }],
    secret: '[REDACTED]',
  });
  const proto = restoreRedacted(JSON.parse('{"__proto__": {"x": 1}}'), {});
  assert.deepEqual(Object.keys(proto), ['__proto__']);
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('edited arguments under another approval rule need an editor who could approve under it', () => {
  const r = pending({ agentOwner: 'alice' });
  const ctx = { reviewers: [{ id: 'alice' }, { id: 'bob' }], groupMembers: {}, openAccess: false };
  const other = (approvers: string[], allowSelfApproval = true): Decision => ({
    action: 'require_approval',
    rule: 'lab/start_vm#when[0]',
    limits: [],
    approval: { ...r.approval, approvers, allowSelfApproval },
  });
  assert.equal(
    code(() => checkEditorMayApprove(r, other(['alice']), 'alice', ctx)),
    undefined,
  );
  assert.equal(
    code(() => checkEditorMayApprove(r, other(['bob']), 'alice', ctx)),
    'EDIT_REFUSED',
  );
  assert.equal(
    code(() => checkEditorMayApprove(r, other(['alice'], false), 'alice', ctx)),
    'EDIT_REFUSED',
  );
  const same: Decision = { ...other(['bob']), rule: r.rule };
  assert.equal(
    code(() => checkEditorMayApprove(r, same, 'alice', ctx)),
    undefined,
    'the same rule was checked by the vote',
  );
});
