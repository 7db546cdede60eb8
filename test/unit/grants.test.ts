import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  combineGrantVotes,
  grantMatches,
  isGrantId,
  newGrantId,
  recordGrantOf,
  validateGrantRequest,
  type Grant,
} from '../../src/core/grants/grant.js';
import { AirlockError } from '../../src/core/errors.js';
import type { ApprovalRecord, ReviewerDecision } from '../../src/core/approval/types.js';
import { parsePolicy, PolicyError, type GrantSpec, type PolicyIssue } from '../../src/core/policy/index.js';

/** A clock the test moves by hand. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const SPEC: GrantSpec = { max: '8h', maxMs: 8 * 3_600_000, scopes: ['exact', 'tool'] };

function grant(over: Partial<Grant> = {}, now = 0): Grant {
  return {
    id: newGrantId(),
    agent: 'ci-bot',
    server: 'lab',
    tool: 'start_vm',
    scope: 'exact',
    argsHash: 'h1',
    grantedBy: ['alice'],
    requestId: 'ar_x',
    rule: 'lab/start_vm',
    createdAt: now,
    expiresAt: now + 3_600_000,
    uses: 0,
    ...over,
  };
}

const call = { agent: 'ci-bot', server: 'lab', tool: 'start_vm', argsHash: 'h1' };

test('an exact grant matches the same agent, server, tool and arguments until it expires', () => {
  const c = clock();
  const g = grant({}, c.now());
  assert.ok(grantMatches(g, call, c.now()));
  assert.ok(!grantMatches(g, { ...call, argsHash: 'h2' }, c.now()));
  assert.ok(!grantMatches(g, { ...call, agent: 'claude' }, c.now()));
  assert.ok(!grantMatches(g, { ...call, server: 'virt' }, c.now()));
  assert.ok(!grantMatches(g, { ...call, tool: 'stop_vm' }, c.now()));
  c.advance(3_600_000 - 1);
  assert.ok(grantMatches(g, call, c.now()));
  c.advance(1);
  assert.ok(!grantMatches(g, call, c.now()), 'expired at expiresAt');
});

test('a tool grant matches any arguments of that tool, never another tool or agent', () => {
  const c = clock();
  const g = grant({ scope: 'tool', argsHash: undefined }, c.now());
  assert.ok(grantMatches(g, { ...call, argsHash: 'anything' }, c.now()));
  assert.ok(!grantMatches(g, { ...call, tool: 'delete_vm' }, c.now()));
  assert.ok(!grantMatches(g, { ...call, agent: 'other' }, c.now()));
});

test('an exact grant without a hash matches nothing', () => {
  assert.ok(!grantMatches(grant({ argsHash: undefined }), call, 0));
});

test('grant ids are unguessable and checked for shape', () => {
  const a = newGrantId();
  assert.ok(isGrantId(a));
  assert.notEqual(a, newGrantId());
  assert.ok(!isGrantId('gr_short'));
  assert.ok(!isGrantId('ar_AAAAAAAAAAAAAAAAAAAAAA'));
  assert.ok(!isGrantId(42));
});

function refusal(fn: () => unknown): AirlockError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AirlockError);
    assert.equal(err.code, 'GRANT_NOT_ALLOWED');
    return err;
  }
  assert.fail('expected a refusal');
}

test('a grant request within the rule gets its terms; scope defaults to exact', () => {
  assert.deepEqual(validateGrantRequest(SPEC, { for: '1h' }, 'lab/start_vm'), {
    durationMs: 3_600_000,
    scope: 'exact',
  });
  assert.deepEqual(validateGrantRequest(SPEC, { for: '8h', scope: 'tool' }, 'lab/start_vm'), {
    durationMs: 8 * 3_600_000,
    scope: 'tool',
  });
});

test('a grant request outside the rule is refused with what the rule allows', () => {
  assert.match(refusal(() => validateGrantRequest(SPEC, { for: '9h' }, 'lab/start_vm')).message, /max 8h/);
  const exactOnly = { ...SPEC, scopes: ['exact'] as const };
  assert.match(
    refusal(() => validateGrantRequest(exactOnly, { for: '1h', scope: 'tool' }, 'lab/start_vm')).message,
    /not offered by lab\/start_vm; offered: exact/,
  );
  assert.match(
    refusal(() => validateGrantRequest(undefined, { for: '1h' }, 'lab/start_vm')).message,
    /offers no grants/,
  );
  assert.match(refusal(() => validateGrantRequest(SPEC, { for: 'soon' }, 'r')).message, /not a duration/);
});

function vote(by: string, g?: ReviewerDecision['grant'], decision: 'approve' | 'reject' = 'approve') {
  return { by, via: 'api', at: 0, decision, ...(g ? { grant: g } : {}) } as ReviewerDecision;
}

test('a quorum makes a grant only when every approving vote asked for one: shortest, narrowest', () => {
  const h = (n: number) => n * 3_600_000;
  assert.deepEqual(
    combineGrantVotes([
      vote('alice', { durationMs: h(4), scope: 'tool' }),
      vote('bob', { durationMs: h(1), scope: 'tool' }),
    ]),
    { durationMs: h(1), scope: 'tool' },
  );
  assert.deepEqual(
    combineGrantVotes([
      vote('alice', { durationMs: h(1), scope: 'tool' }),
      vote('bob', { durationMs: h(2), scope: 'exact' }),
    ]),
    { durationMs: h(1), scope: 'exact' },
  );
  assert.equal(
    combineGrantVotes([vote('alice', { durationMs: h(1), scope: 'tool' }), vote('bob')]),
    undefined,
  );
  assert.equal(combineGrantVotes([]), undefined);
});

test('the grant of an approved record expires its duration after the decision', () => {
  const c = clock();
  const record = {
    decisions: [vote('alice', { durationMs: 60_000, scope: 'exact' })],
  } as unknown as ApprovalRecord;
  const g = recordGrantOf(record, c.now(), 'gr_fixed');
  assert.deepEqual(g, { id: 'gr_fixed', durationMs: 60_000, scope: 'exact', expiresAt: c.now() + 60_000 });
  assert.equal(
    recordGrantOf({ decisions: [vote('alice')] } as unknown as ApprovalRecord, c.now()),
    undefined,
  );
});

test('policy grants compile to milliseconds; malformed ones name file and path', () => {
  const approvalWith = (grants: unknown) => ({
    version: '1',
    tools: { start_vm: { action: 'require_approval', approval: { grants } } },
  });
  const policy = parsePolicy(approvalWith({ max: '8h', scopes: ['exact', 'tool'] }), 'lab.json');
  assert.deepEqual(policy.exact.get('start_vm')?.outcome.approval?.grants, SPEC);
  assert.equal(
    parsePolicy(approvalWith(undefined), 'lab.json').exact.get('start_vm')?.outcome.approval?.grants,
    undefined,
  );
  let issues: PolicyIssue[] = [];
  try {
    parsePolicy(approvalWith({ max: 'long', scopes: ['all'] }), 'lab.json');
  } catch (err) {
    assert.ok(err instanceof PolicyError);
    issues = err.issues;
  }
  const paths = issues.map((i) => `${i.file} ${i.path}`);
  assert.ok(paths.includes('lab.json $.tools.start_vm.approval.grants.max'), paths.join('; '));
  assert.ok(paths.includes('lab.json $.tools.start_vm.approval.grants.scopes[0]'), paths.join('; '));
});
