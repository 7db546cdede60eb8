import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  evaluate,
  isDeniedOutright,
  parsePolicyText,
  PolicyError,
  type CompiledPolicy,
  type Decision,
} from '../../src/core/policy/index.js';

const dir = fileURLToPath(new URL('../fixtures/policies/policylayer/', import.meta.url));
const REJECTED = new Set(['intercept-docs-stripe.yaml']);

function load(name: string, sub = ''): CompiledPolicy {
  return parsePolicyText(readFileSync(`${dir}${sub}${name}`, 'utf8'), name);
}

function decide(p: CompiledPolicy, tool: string, args: Record<string, unknown> = {}): Decision {
  return evaluate(p, { server: 'pl', tool, agent: 'agent-1', args });
}

const names = readdirSync(dir).filter((n) => /\.(json|ya?ml)$/.test(n));

describe('PolicyLayer examples load unchanged', () => {
  it('finds the fixtures, verbatim and comment-free', () => {
    assert.ok(names.length >= 7);
    assert.deepEqual(readdirSync(`${dir}verbatim`).sort(), [...names].sort());
  });

  for (const name of names) {
    for (const sub of ['', 'verbatim/']) {
      it(`${sub}${name}`, () => {
        if (REJECTED.has(name)) {
          assert.throws(
            () => load(name, sub),
            (err: unknown) =>
              err instanceof PolicyError &&
              err.issues.length === 1 &&
              err.issues[0]?.path === '$.tools.create_charge.rules[1].state.increment_from' &&
              /not supported by Airlock/.test(err.issues[0].message),
          );
          return;
        }
        assert.doesNotThrow(() => load(name, sub));
      });
    }
  }

  it('the comment-free copies compile to the same decisions as the verbatim files', () => {
    for (const name of names.filter((n) => !REJECTED.has(n))) {
      const a = load(name);
      const b = load(name, 'verbatim/');
      for (const tool of [
        'create_charge',
        'list_customers',
        'read_text_file',
        'create_issue',
        'delete_repository',
        'x',
      ]) {
        assert.deepEqual(decide(a, tool), decide(b, tool), `${name} ${tool}`);
      }
    }
  });
});

describe('PolicyLayer semantics', () => {
  it('hosted: hide, require/deny_if/limits lists, default deny', () => {
    const p = load('hosted-policy-shape.json');
    assert.equal(decide(p, 'delete_account').rule, 'pl/hide');
    assert.equal(isDeniedOutright(p, 'pl', 'delete_account', 'agent-1'), true);
    assert.deepEqual(decide(p, 'create_charge'), { action: 'allow', rule: 'pl/create_charge', limits: [] });
    assert.equal(decide(p, 'refund').action, 'deny');
    const q = load('hosted-default-deny.json');
    assert.equal(decide(q, 'list_customers').action, 'allow');
    assert.equal(decide(q, 'delete_customer').action, 'deny');
  });

  it('Intercept generated files: rules: [] allows, default "allow" applies to unlisted tools', () => {
    const fs = load('intercept-filesystem.yaml');
    assert.equal(decide(fs, 'write_file').action, 'allow');
    assert.equal(decide(fs, 'unlisted_tool').action, 'allow');
    const stripe = load('intercept-stripe.yaml');
    assert.equal(decide(stripe, 'create_refund').action, 'allow');
  });

  it('Intercept docs GitHub example: rate_limit, deny rules, hide and the "*" rules that apply to every tool', () => {
    const p = load('intercept-docs-github.yaml');
    const issue = decide(p, 'create_issue');
    assert.equal(issue.action, 'allow');
    assert.deepEqual(issue.limits, [
      { counter: 'create_issue._rate_hour', window: 'hour', windowMs: 3_600_000, max: 5, scope: 'global' },
      { counter: '_global._rate_minute', window: 'minute', windowMs: 60_000, max: 60, scope: 'global' },
    ]);
    assert.deepEqual(decide(p, 'delete_repository'), {
      action: 'deny',
      rule: 'pl/delete_repository#rules[0]',
      reason: 'Repository deletion is not permitted via AI agents',
      limits: [],
    });
    assert.equal(decide(p, 'transfer_repository').rule, 'pl/hide');
    // Airlock's default is deny when a file leaves it out (Intercept's is allow): fail closed.
    assert.equal(decide(p, 'get_issue').action, 'deny');
    assert.equal(isDeniedOutright(p, 'pl', 'delete_repository', 'a'), true);
  });

  it('Intercept docs default-deny example', () => {
    const p = load('intercept-docs-default-deny.yaml');
    assert.deepEqual(decide(p, 'read_file'), { action: 'allow', rule: 'pl/read_file', limits: [] });
    assert.equal(decide(p, 'create_issue').limits[0]?.counter, 'create_issue._rate_hour');
    assert.equal(decide(p, 'push_files').action, 'deny');
  });

  it('Intercept conditions on args and state counters, without increment_from', () => {
    const yaml = `
version: "1"
default: allow
tools:
  create_refund:
    rules:
      - name: "refund limit"
        conditions:
          - path: "args.amount"
            op: "lte"
            value: 10000
        on_deny: "Refunds over $100.00 require manual processing"
      - name: "daily refund count"
        conditions:
          - path: "state.create_refund.daily_count"
            op: "lte"
            value: 10
        state:
          counter: "daily_count"
          window: "day"
  "*":
    rules:
      - name: "currency"
        conditions:
          - path: "args.currency"
            op: "neq"
            value: "btc"
        on_deny: "No crypto"
`;
    const p = parsePolicyText(yaml, 'stripe.yaml');
    const big = decide(p, 'create_refund', { amount: 20_000 });
    assert.equal(big.action, 'deny');
    assert.equal(big.rule, 'pl/create_refund#rules[0]');
    assert.equal(big.reason, 'Refunds over $100.00 require manual processing');
    const ok = decide(p, 'create_refund', { amount: 500 });
    assert.equal(ok.action, 'allow');
    assert.deepEqual(ok.limits, [
      { counter: 'create_refund.daily_count', window: 'day', windowMs: 86_400_000, max: 10, scope: 'global' },
    ]);
    const btc = decide(p, 'other', { currency: 'btc' });
    assert.equal(btc.rule, 'pl/*#rules[0]');
    assert.equal(btc.reason, 'No crypto');
  });

  it('Intercept validation errors are reported with their paths', () => {
    const yaml = `
version: "1"
tools:
  a:
    rules:
      - name: "x"
        action: "deny"
        conditions: [{ path: "args.a", op: "eq", value: 1 }]
      - name: "y"
      - name: "z"
        rate_limit: "5/week"
      - name: "w"
        conditions: [{ path: "state.a.nope", op: "lte", value: 1 }, { path: "amount", op: "eq", value: 1 }]
`;
    let issues: string[] = [];
    try {
      parsePolicyText(yaml, 'a.yaml');
    } catch (err) {
      issues = (err as PolicyError).issues.map((i) => `${i.path}: ${i.message}`).sort();
    }
    assert.deepEqual(issues, [
      '$.tools.a.rules[0].conditions: deny rules must not have conditions',
      '$.tools.a.rules[1].conditions: evaluate rules must have at least one condition',
      '$.tools.a.rules[2].rate_limit: expected "<count>/<window>" with window minute, hour or day, e.g. "5/hour"',
      '$.tools.a.rules[3].conditions[1].path: path must start with "args." or "state.", got "amount"',
    ]);
  });

  it('Intercept state conditions must name a counter of the same tool, with lte or lt', () => {
    const yaml = `
version: "1"
tools:
  a:
    rules:
      - name: "count"
        conditions: [{ path: "state.a.nope", op: "lte", value: 1 }]
        state: { counter: "calls", window: "hour" }
      - name: "other tool"
        conditions: [{ path: "state.b.calls", op: "lte", value: 1 }]
      - name: "op"
        conditions: [{ path: "state.a.calls", op: "gt", value: 1 }]
      - name: "never"
        conditions: [{ path: "state.a.calls", op: "lt", value: 1 }]
`;
    let issues: string[] = [];
    try {
      parsePolicyText(yaml, 'a.yaml');
    } catch (err) {
      issues = (err as PolicyError).issues.map((i) => `${i.path}: ${i.message}`);
    }
    assert.deepEqual(issues, [
      '$.tools.a.rules[0].conditions[0].path: condition references state.a.nope but no rule for this tool has a state block with counter "nope"',
      '$.tools.a.rules[1].conditions[0].path: expected state.a.<counter>, got "state.b.calls"',
      '$.tools.a.rules[2].conditions[0].op: Airlock supports only "lte" and "lt" with a number on state counters',
      '$.tools.a.rules[3].conditions[0].value: this limit never allows a call; use action "deny" instead',
    ]);
  });
});
