import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  evaluate,
  isDeniedOutright,
  parsePolicy,
  parsePolicyText,
  type CompiledPolicy,
  type Decision,
} from '../../src/core/policy/index.js';

const fixture = (name: string) => new URL(`../fixtures/policies/${name}`, import.meta.url);

function policy(tools: Record<string, unknown>, extra: Record<string, unknown> = {}): CompiledPolicy {
  return parsePolicy({ version: '1', ...extra, tools }, 'lab.json');
}

function decide(
  p: CompiledPolicy | undefined,
  tool: string,
  args: Record<string, unknown> = {},
  agent = 'bot',
): Decision {
  return evaluate(p, { server: 'lab', tool, agent, args });
}

describe('evaluate: the SPEC example', () => {
  for (const name of ['lab.json', 'lab.yaml']) {
    const p = parsePolicyText(readFileSync(fixture(name), 'utf8'), name);

    it(`${name}: {} allows, limits are attached`, () => {
      assert.deepEqual(decide(p, 'get_vm_console_ticket'), {
        action: 'allow',
        rule: 'lab/get_vm_console_ticket',
        limits: [],
      });
      assert.deepEqual(decide(p, 'health_checks').limits, [
        { counter: 'health_checks_rate', window: 'minute', windowMs: 60_000, max: 10, scope: 'grant' },
      ]);
    });

    it(`${name}: globs, approvals, when rules, default`, () => {
      assert.deepEqual(decide(p, 'delete_vm'), {
        action: 'deny',
        rule: 'lab/delete_*',
        reason: 'Deleting is done by people, not agents',
        limits: [],
      });
      assert.deepEqual(decide(p, 'start_vm').approval, {
        approvers: ['U0456EFGH', 'S0ONCALL'],
        minApprovals: 1,
        timeoutMs: 900_000,
        waitMs: 50_000,
        onTimeout: 'reject',
        allowSelfApproval: false,
      });
      assert.equal(
        decide(p, 'capture_network_traffic', { duration: 30 }, 'ci-bot').rule,
        'lab/capture_network_traffic#when[0]',
      );
      const ci = decide(p, 'capture_network_traffic', { duration: 300 }, 'ci-bot');
      assert.equal(ci.action, 'deny');
      assert.equal(ci.rule, 'lab/capture_network_traffic#when[1]');
      assert.equal(ci.reason, 'CI never captures traffic');
      const other = decide(p, 'capture_network_traffic', { duration: 300 }, 'alice-bot');
      assert.equal(other.action, 'require_approval');
      assert.equal(other.rule, 'lab/capture_network_traffic');
      const unlisted = decide(p, 'list_vms');
      assert.equal(unlisted.action, 'deny');
      assert.equal(unlisted.rule, 'lab/default');
      assert.match(unlisted.reason ?? '', /list_vms is not listed/);
    });
  }
});

describe('evaluate: no policy, default, hide', () => {
  it('no policy denies with the server named', () => {
    assert.deepEqual(decide(undefined, 'start_vm'), {
      action: 'deny',
      rule: 'lab/(no policy)',
      reason: 'No policy file for server lab',
      limits: [],
    });
  });

  it('default is deny when absent, and can allow or require approval', () => {
    assert.equal(decide(policy({}), 'x').action, 'deny');
    assert.deepEqual(decide(policy({}, { default: 'allow' }), 'x'), {
      action: 'allow',
      rule: 'lab/default',
      limits: [],
    });
    const held = decide(policy({}, { default: 'require_approval' }), 'x');
    assert.equal(held.action, 'require_approval');
    assert.equal(held.approval?.timeoutMs, 900_000);
  });

  it('hide denies before anything else, with exact names and globs', () => {
    const p = policy({ secret: {}, admin_x: {} }, { default: 'allow', hide: ['secret', 'admin_*'] });
    assert.deepEqual(decide(p, 'secret'), {
      action: 'deny',
      rule: 'lab/hide',
      reason: 'Tool secret is hidden by policy',
      limits: [],
    });
    assert.equal(decide(p, 'admin_x').rule, 'lab/hide');
    assert.equal(decide(p, 'public').action, 'allow');
    assert.equal(decide(policy({ a: {} }, { hide: ['*'] }), 'a').rule, 'lab/hide');
  });
});

describe('evaluate: key precedence', () => {
  const p = policy({
    delete_vm_snapshot: { action: 'allow' },
    'delete_*': { action: 'deny' },
    'delete_vm_*': { action: 'require_approval' },
    '*': { action: 'deny', reason: 'catch-all' },
    '*_vm': { action: 'allow' },
    'a?c': { reason: 'question mark' },
  });

  it('an exact key beats every glob', () => {
    assert.equal(decide(p, 'delete_vm_snapshot').rule, 'lab/delete_vm_snapshot');
  });

  it('a longer glob beats a shorter one', () => {
    assert.equal(decide(p, 'delete_vm_disk').rule, 'lab/delete_vm_*');
    assert.equal(decide(p, 'delete_user').rule, 'lab/delete_*');
    assert.equal(decide(p, 'start_vm').rule, 'lab/*_vm');
    assert.equal(decide(p, 'anything').rule, 'lab/*');
    assert.equal(decide(p, 'abc').rule, 'lab/a?c');
  });

  it('ties are broken by the key, not by the order in the file', () => {
    const tools = { 'a*': { reason: 'a*' }, '*a': { reason: '*a' } };
    const reversed = { '*a': { reason: '*a' }, 'a*': { reason: 'a*' } };
    assert.equal(decide(policy(tools), 'aa').rule, 'lab/*a');
    assert.equal(decide(policy(reversed), 'aa').rule, 'lab/*a');
  });
});

describe('evaluate: when rules', () => {
  const p = policy({
    t: {
      action: 'require_approval',
      reason: 'entry reason',
      limits: [{ counter: 'entry', window: 'minute', max: 5 }],
      approval: { approvers: ['U1', 'U2'], min_approvals: 2, timeout: '1h' },
      when: [
        { args: { size: { gt: 100 } }, action: 'deny', reason: 'too big' },
        { args: { size: { gt: 10 } }, action: 'deny' },
        {
          args: { size: { lte: 10 } },
          agents: ['ci-*', 'ops'],
          action: 'allow',
          limits: [{ counter: 'ci', window: '30s', max: 2, scope: 'agent' }],
        },
        { args: { mode: { eq: 'fast' } }, approval: { timeout: '5m' } },
        { args: { mode: { eq: 'slow' } } },
      ],
    },
  });

  it('the first rule that holds decides, in file order', () => {
    assert.equal(decide(p, 't', { size: 1000 }).reason, 'too big');
    assert.equal(decide(p, 't', { size: 1000 }).rule, 'lab/t#when[0]');
    assert.equal(decide(p, 't', { size: 50 }).rule, 'lab/t#when[1]');
  });

  it("a rule's reason falls back to the entry's only when the action is the entry's", () => {
    assert.equal(decide(p, 't', { size: 50 }).reason, undefined);
    assert.equal(decide(p, 't', { mode: 'slow' }).reason, 'entry reason');
  });

  it('agents narrows a rule; ids may be globs', () => {
    assert.equal(decide(p, 't', { size: 5 }, 'ci-7').action, 'allow');
    assert.equal(decide(p, 't', { size: 5 }, 'ops').action, 'allow');
    const other = decide(p, 't', { size: 5 }, 'alice');
    assert.equal(other.action, 'require_approval');
    assert.equal(other.rule, 'lab/t');
  });

  it('a rule with its own limits uses them; one without uses the entry limits', () => {
    assert.deepEqual(decide(p, 't', { size: 5 }, 'ci-1').limits, [
      { counter: 'ci', window: '30s', windowMs: 30_000, max: 2, scope: 'agent' },
    ]);
    assert.deepEqual(
      decide(p, 't', { mode: 'slow' }).limits.map((l) => l.counter),
      ['entry'],
    );
  });

  it("a rule's missing action and approval fall back to the entry's; a given approval replaces it whole", () => {
    const slow = decide(p, 't', { mode: 'slow' });
    assert.equal(slow.action, 'require_approval');
    assert.equal(slow.rule, 'lab/t#when[4]');
    assert.deepEqual(slow.approval?.approvers, ['U1', 'U2']);
    assert.equal(slow.approval?.minApprovals, 2);
    assert.equal(slow.approval?.timeoutMs, 3_600_000);
    const fast = decide(p, 't', { mode: 'fast' });
    assert.equal(fast.rule, 'lab/t#when[3]');
    assert.deepEqual(fast.approval, {
      approvers: [],
      minApprovals: 1,
      timeoutMs: 300_000,
      waitMs: 50_000,
      onTimeout: 'reject',
      allowSelfApproval: false,
    });
  });

  it('no rule holding means the entry decides', () => {
    const d = decide(p, 't', {});
    assert.equal(d.rule, 'lab/t');
    assert.equal(d.reason, 'entry reason');
  });

  it('a rule without conditions always holds', () => {
    const q = policy({ t: { when: [{ agents: ['x'], action: 'deny' }, { action: 'require_approval' }] } });
    assert.equal(decide(q, 't').action, 'require_approval');
    assert.equal(decide(q, 't', {}, 'x').action, 'deny');
  });

  it('deny decisions carry no limits and no approval', () => {
    const d = decide(p, 't', { size: 1000 });
    assert.deepEqual(d.limits, []);
    assert.equal(d.approval, undefined);
  });
});

describe('evaluate: approval defaults', () => {
  it('fills approvers, min_approvals, timeout, wait, on_timeout and allow_self_approval', () => {
    const d = decide(policy({ t: { action: 'require_approval' } }), 't');
    assert.deepEqual(d.approval, {
      approvers: [],
      minApprovals: 1,
      timeoutMs: 900_000,
      waitMs: 50_000,
      onTimeout: 'reject',
      allowSelfApproval: false,
    });
  });

  it('keeps channel, and shortens the default wait to a shorter timeout', () => {
    const d = decide(
      policy({ t: { action: 'require_approval', approval: { channel: 'C1', timeout: '30s' } } }),
      't',
    );
    assert.equal(d.approval?.channel, 'C1');
    assert.equal(d.approval?.waitMs, 30_000);
  });
});

describe('evaluate: PolicyLayer keys', () => {
  const p = policy(
    {
      create_charge: {
        require: ['reason', { path: 'args.currency', op: 'in', value: ['usd', 'eur'] }],
        deny_if: [
          { path: 'amount', op: 'gt', value: 10_000, reason: 'Charges over 100.00 are done by people' },
        ],
        limits: [{ counter: 'charges', window: 'hour', max: 30 }],
      },
      refund: {},
    },
    {
      default: 'deny',
      all_tools: { limits: [{ counter: 'all', window: 'minute', max: 60, scope: 'grant' }] },
    },
  );

  it('deny_if denies when its condition holds', () => {
    const d = decide(p, 'create_charge', { amount: 20_000, reason: 'r', currency: 'usd' });
    assert.equal(d.action, 'deny');
    assert.equal(d.rule, 'lab/create_charge#deny_if[0]');
    assert.equal(d.reason, 'Charges over 100.00 are done by people');
  });

  it('require denies when its condition fails; a string means "present"', () => {
    const noReason = decide(p, 'create_charge', { amount: 1, currency: 'usd' });
    assert.equal(noReason.rule, 'lab/create_charge#require[0]');
    assert.equal(noReason.reason, 'Requires reason is present');
    const yen = decide(p, 'create_charge', { amount: 1, reason: 'r', currency: 'jpy' });
    assert.equal(yen.rule, 'lab/create_charge#require[1]');
    assert.equal(yen.reason, 'Requires currency in ["usd","eur"]');
  });

  it('all_tools limits apply to every tool, counted per agent across tools', () => {
    const ok = decide(p, 'create_charge', { amount: 1, reason: 'r', currency: 'usd' });
    assert.equal(ok.action, 'allow');
    assert.deepEqual(
      ok.limits.map((l) => `${l.counter}/${l.scope}`),
      ['charges/grant', 'all/agent'],
    );
    assert.deepEqual(
      decide(p, 'refund').limits.map((l) => l.counter),
      ['all'],
    );
  });
});

describe('isDeniedOutright', () => {
  const p = policy(
    {
      open: {},
      closed: { action: 'deny' },
      'delete_*': { action: 'deny' },
      ci_only: { action: 'deny', when: [{ agents: ['ci'], action: 'allow' }] },
      no_ci: { when: [{ agents: ['ci'], action: 'deny' }] },
      by_args: { action: 'deny', when: [{ args: { dry_run: { eq: true } }, action: 'allow' }] },
      deny_after_catch_all: { when: [{ action: 'deny' }, { action: 'allow' }] },
      intercept_block: { rules: [{ name: 'block', action: 'deny' }] },
      guarded: { deny_if: [{ path: 'x', op: 'exists', value: true }] },
    },
    { hide: ['secret'] },
  );

  it('is true only when every possible outcome for this agent is deny', () => {
    const cases: [string, string, boolean][] = [
      ['open', 'a', false],
      ['closed', 'a', true],
      ['delete_vm', 'a', true],
      ['unlisted', 'a', true],
      ['secret', 'a', true],
      ['ci_only', 'a', true],
      ['ci_only', 'ci', false],
      ['no_ci', 'ci', true],
      ['no_ci', 'a', false],
      ['by_args', 'a', false],
      ['deny_after_catch_all', 'a', true],
      ['intercept_block', 'a', true],
      ['guarded', 'a', false],
    ];
    for (const [tool, agent, expected] of cases) {
      assert.equal(isDeniedOutright(p, 'lab', tool, agent), expected, `${tool} for ${agent}`);
    }
  });

  it('is true for every tool without a policy, and follows the default for unlisted tools', () => {
    assert.equal(isDeniedOutright(undefined, 'lab', 'x', 'a'), true);
    assert.equal(isDeniedOutright(policy({}, { default: 'allow' }), 'lab', 'x', 'a'), false);
    assert.equal(isDeniedOutright(policy({}, { default: 'require_approval' }), 'lab', 'x', 'a'), false);
  });
});
