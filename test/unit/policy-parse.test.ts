import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicy, parsePolicyText, PolicyError, type PolicyIssue } from '../../src/core/policy/index.js';
import { AirlockError } from '../../src/core/errors.js';

function issuesOf(fn: () => unknown): PolicyIssue[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PolicyError, `expected PolicyError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected the policy to be rejected');
}

const bad = (value: unknown) => issuesOf(() => parsePolicy(value, 'lab.json'));
const at = (issues: PolicyIssue[]) => issues.map((i) => `${i.path}: ${i.message}`);

describe('parsePolicy: rejected files', () => {
  it('PolicyError is an AirlockError with code POLICY_INVALID and the issues in details', () => {
    try {
      parsePolicy({ version: '1', nope: 1 }, 'lab.json');
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof AirlockError);
      assert.equal(err.code, 'POLICY_INVALID');
      assert.match(err.message, /lab\.json: \$\.nope: unknown key "nope"/);
      assert.deepEqual((err.details as { issues: PolicyIssue[] }).issues, (err as PolicyError).issues);
    }
  });

  it('names unknown keys by path, with a hint for near misses', () => {
    const issues = bad({
      version: '1',
      tool: {},
      tools: { start_vm: { action: 'require_approval', aproval: {}, when: [{ arg: {} }] } },
    });
    assert.deepEqual(at(issues).sort(), [
      '$.tool: unknown key "tool" (did you mean "tools"?)',
      '$.tools.start_vm.aproval: unknown key "aproval" (did you mean "approval"?)',
      '$.tools.start_vm.when[0].arg: unknown key "arg" (did you mean "args"?)',
    ]);
    assert.ok(issues.every((i) => i.file === 'lab.json'));
  });

  it('quotes keys that are not identifiers', () => {
    assert.deepEqual(at(bad({ version: '1', tools: { 'delete_*': { action: 'drop' } } })), [
      '$.tools["delete_*"].action: expected "allow" | "deny" | "require_approval", got "drop"',
    ]);
  });

  it('reports wrong types with what was found', () => {
    const issues = at(
      bad({
        version: '1',
        default: 'maybe',
        hide: 'x',
        tools: {
          a: { limits: { counter: 'c' } },
          b: { when: [{ agents: 'ci-bot' }] },
          c: { approval: { approvers: 'U1', min_approvals: 1.5, allow_self_approval: 'no' } },
          d: 7,
        },
      }),
    );
    assert.deepEqual(issues.sort(), [
      '$.default: expected "allow" | "deny" | "require_approval", got "maybe"',
      '$.hide: expected a list, got "x"',
      '$.tools.a.limits: expected a list, got an object',
      '$.tools.b.when[0].agents: expected a list, got "ci-bot"',
      '$.tools.c.approval.allow_self_approval: expected a boolean, got "no"',
      '$.tools.c.approval.approvers: expected a list, got "U1"',
      '$.tools.c.approval.min_approvals: expected a whole number, got 1.5',
      '$.tools.d: expected an object, got 7',
    ]);
  });

  it('requires version "1"', () => {
    assert.deepEqual(at(bad({ tools: {} })), ['$.version: is required']);
    assert.deepEqual(at(bad({ version: '2' })), ['$.version: version must be "1"']);
    assert.doesNotThrow(() => parsePolicy({ version: 1 }, 'lab.json'));
  });

  it('rejects an empty file and a non-object', () => {
    assert.deepEqual(at(bad(null)), ['$: the policy file is empty']);
    assert.deepEqual(at(bad([])), ['$: expected an object, got a list']);
  });

  it('validates limits: window, scope, max, counter', () => {
    const issues = at(
      bad({
        version: '1',
        tools: {
          a: {
            limits: [
              { counter: 'ok', window: 'week', max: 10 },
              { counter: '', window: '5m', max: 0, scope: 'tool' },
              { counter: 'x', window: '30s', max: 2, extra: true },
            ],
          },
        },
      }),
    );
    assert.deepEqual(issues.sort(), [
      '$.tools.a.limits[0].window: expected second, minute, hour, day, or a count and unit like "30s", "5m", "2h", "1d"',
      '$.tools.a.limits[1].counter: must not be empty',
      '$.tools.a.limits[1].max: must be at least 1',
      '$.tools.a.limits[1].scope: expected "grant" | "agent" | "global", got "tool"',
      '$.tools.a.limits[2].extra: unknown key "extra"',
    ]);
  });

  it('requires one window per shared counter', () => {
    const issues = at(
      bad({
        version: '1',
        tools: {
          a: { limits: [{ counter: 'calls', window: 'minute', max: 10, scope: 'agent' }] },
          b: { limits: [{ counter: 'calls', window: 'hour', max: 100, scope: 'agent' }] },
          c: { limits: [{ counter: 'calls', window: 'hour', max: 100 }] },
        },
      }),
    );
    assert.deepEqual(issues, [
      '$.tools.b.limits[0].window: counter "calls" (scope agent) already has window "minute" at $.tools.a.limits[0]; limits sharing a counter need the same window',
    ]);
  });

  it('validates approval durations and their relations', () => {
    const issues = at(
      bad({
        version: '1',
        tools: {
          a: { approval: { timeout: '15 minutes' } },
          b: { approval: { timeout: '10m', wait: '11m' } },
          c: { approval: { wait: '20m' } },
          d: { approval: { approvers: ['U1'], min_approvals: 2 } },
          e: { approval: { on_timeout: 'approve' } },
          f: { approval: { timeout: 900 } },
        },
      }),
    );
    assert.deepEqual(issues.sort(), [
      '$.tools.a.approval.timeout: expected a duration like "500ms", "50s", "15m", "1h" or "2d"',
      '$.tools.b.approval.wait: wait (11m) must not exceed timeout (10m)',
      '$.tools.c.approval.wait: wait (20m) must not exceed timeout (15m, the default)',
      '$.tools.d.approval.min_approvals: min_approvals (2) is more than the 1 listed approver',
      '$.tools.e.approval.on_timeout: expected "reject", got "approve"',
      '$.tools.f.approval.timeout: expected a string, got 900',
    ]);
  });

  it('accepts any min_approvals when approvers is empty (any configured reviewer)', () => {
    assert.doesNotThrow(() =>
      parsePolicy(
        { version: '1', tools: { a: { approval: { approvers: [], min_approvals: 3 } } } },
        'x.json',
      ),
    );
  });

  it('validates conditions: operators, operand types, regex', () => {
    const issues = at(
      bad({
        version: '1',
        tools: {
          a: {
            when: [
              {
                args: {
                  x: { like: 'a' },
                  y: { in: 'a' },
                  z: { gt: '5' },
                  w: { regex: '([a-z' },
                  v: { exists: 'yes' },
                  u: {},
                },
                agents: [],
              },
            ],
          },
        },
      }),
    );
    assert.deepEqual(issues.sort(), [
      '$.tools.a.when[0].agents: list at least one agent id, or leave agents out',
      '$.tools.a.when[0].args.u: needs at least one operator: eq, ne, neq, in, not_in, gt, gte, lt, lte, glob, regex, exists, contains',
      '$.tools.a.when[0].args.v.exists: exists needs true or false',
      '$.tools.a.when[0].args.w.regex: invalid regex: Invalid regular expression: /([a-z/: Unterminated character class',
      '$.tools.a.when[0].args.x.like: unknown key "like"',
      '$.tools.a.when[0].args.y.in: in needs a list of values',
      '$.tools.a.when[0].args.z.gt: gt needs a number',
    ]);
  });

  it('validates PolicyLayer require / deny_if items', () => {
    const issues = at(
      bad({
        version: '1',
        tools: {
          a: {
            require: [{ path: 'x', op: 'bigger', value: 1 }, 5],
            deny_if: [{ path: 'y', op: 'regex', value: '(' }],
          },
        },
      }),
    );
    assert.deepEqual(issues.sort(), [
      '$.tools.a.deny_if[0].value: invalid regex: Invalid regular expression: /(/: Unterminated group',
      '$.tools.a.require[0].op: expected "eq" | "ne" | "neq" | "in" | "not_in" | "gt" | "gte" | "lt" | "lte" | "glob" | "regex" | "exists" | "contains", got "bigger"',
      '$.tools.a.require[1]: expected an object, got 5',
    ]);
  });

  it('collects issues from every part of the file at once', () => {
    const issues = bad({
      version: '1',
      default: 'nah',
      tools: {
        a: { action: 'x' },
        b: { approval: { timeout: 'y' } },
        c: { when: [{ args: { r: { regex: '(a+)+' } } }] },
      },
    });
    assert.equal(issues.length, 4);
  });
});

describe('parsePolicyText', () => {
  it('reads JSON and YAML by extension', () => {
    assert.equal(parsePolicyText('{"version":"1"}', 'a.json').defaultAction, 'deny');
    assert.equal(parsePolicyText('version: "1"\ndefault: allow\n', 'a.yaml').defaultAction, 'allow');
    assert.equal(parsePolicyText('version: "1"\ndefault: allow\n', 'a.yml').defaultAction, 'allow');
  });

  it('treats an empty YAML entry as {} (allow)', () => {
    const p = parsePolicyText('version: "1"\ntools:\n  list_vms:\n', 'a.yaml');
    assert.equal(p.exact.get('list_vms')?.outcome.action, 'allow');
  });

  it('reports JSON syntax errors with line and column', () => {
    const issues = issuesOf(() =>
      parsePolicyText('{\n  "version": "1",\n  "tools": { "a": {} },,\n}', 'lab.json'),
    );
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.path, '$');
    assert.match(issues[0]?.message ?? '', /^JSON syntax error at line 3, column 24: /);
  });

  it('reports YAML syntax errors with line and column, and duplicate keys', () => {
    const issues = issuesOf(() => parsePolicyText('version: "1"\ntools:\n  a: [\n', 'lab.yaml'));
    assert.match(issues[0]?.message ?? '', /^YAML syntax error at line \d+, column \d+: /);
    const dup = issuesOf(() => parsePolicyText('version: "1"\ntools:\n  a: {}\n  a: {}\n', 'lab.yaml'));
    assert.match(dup[0]?.message ?? '', /^YAML syntax error at line 4, column 3: .*[Uu]nique/);
  });

  it('names the file in every issue, including validation issues of YAML files', () => {
    const issues = issuesOf(() =>
      parsePolicyText('version: "1"\ntools:\n  a:\n    action: maybe\n', 'policies/lab.yaml'),
    );
    assert.deepEqual(issues, [
      {
        file: 'policies/lab.yaml',
        path: '$.tools.a.action',
        message: 'expected "allow" | "deny" | "require_approval", got "maybe"',
      },
    ]);
  });

  it('refuses other extensions and alias bombs', () => {
    assert.match(
      issuesOf(() => parsePolicyText('{}', 'lab.txt'))[0]?.message ?? '',
      /\.json, \.yaml or \.yml/,
    );
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 8; i++)
      bomb.push(
        `${'b'.repeat(i)}: &${'b'.repeat(i)} [${Array(10)
          .fill(i === 1 ? '*a' : `*${'b'.repeat(i - 1)}`)
          .join(',')}]`,
      );
    const issues = issuesOf(() => parsePolicyText(bomb.join('\n'), 'bomb.yaml'));
    assert.match(issues[0]?.message ?? '', /YAML error: .*[Aa]lias/);
  });
});
