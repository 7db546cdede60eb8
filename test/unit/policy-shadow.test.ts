import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  evaluate,
  isDeniedOutright,
  parsePolicy,
  PolicyError,
  type CompiledPolicy,
} from '../../src/core/policy/index.js';
import { checkPolicyDir, explainCall, formatExplanation } from '../../src/policy/index.js';

function policy(file: Record<string, unknown>): CompiledPolicy {
  return parsePolicy({ version: '1', ...file }, 'lab.json');
}

const decide = (p: CompiledPolicy | undefined, tool: string, args: Record<string, unknown> = {}) =>
  evaluate(p, { server: 'lab', tool, agent: 'bot', args });

function issuesOf(file: Record<string, unknown>) {
  try {
    policy(file);
  } catch (err) {
    if (err instanceof PolicyError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('policy mode: parse and compile', () => {
  it('defaults to enforce: decisions carry no mode', () => {
    const p = policy({ tools: { delete_vm: { action: 'deny' } } });
    assert.equal(p.mode, 'enforce');
    assert.equal(decide(p, 'delete_vm').mode, undefined);
    assert.equal(policy({ mode: 'enforce', tools: {} }).mode, 'enforce');
  });

  it('a bad mode names its JSON path, on the file and on a tool entry', () => {
    assert.deepEqual(issuesOf({ mode: 'dry-run' }).length, 1);
    assert.match(issuesOf({ mode: 'dry-run' })[0]!, /^\$\.mode: .*enforce.*shadow/);
    assert.match(issuesOf({ tools: { a: { mode: true } } })[0]!, /^\$\.tools\.a\.mode: /);
  });

  it('refuses mode on a when rule, saying where it belongs', () => {
    const issues = issuesOf({ tools: { a: { when: [{ agents: ['x'], action: 'deny', mode: 'shadow' }] } } });
    assert.deepEqual(issues, [
      '$.tools.a.when[0].mode: mode is set on the whole file or on a tool entry, not on a when rule',
    ]);
  });
});

describe('policy mode: evaluate', () => {
  const p = policy({
    mode: 'shadow',
    default: 'deny',
    hide: ['secret'],
    tools: {
      delete_vm: { action: 'deny', reason: 'people only' },
      start_vm: { action: 'require_approval' },
      stop_vm: { action: 'deny', mode: 'enforce' },
      list_vms: {},
    },
  });

  it('a shadow file computes every decision and marks it shadow', () => {
    assert.deepEqual(decide(p, 'delete_vm'), {
      action: 'deny',
      rule: 'lab/delete_vm',
      reason: 'people only',
      limits: [],
      mode: 'shadow',
    });
    assert.equal(decide(p, 'start_vm').action, 'require_approval');
    assert.equal(decide(p, 'start_vm').mode, 'shadow');
    assert.equal(decide(p, 'list_vms').mode, 'shadow');
    assert.deepEqual([decide(p, 'unlisted').rule, decide(p, 'unlisted').mode], ['lab/default', 'shadow']);
    assert.deepEqual([decide(p, 'secret').rule, decide(p, 'secret').mode], ['lab/hide', 'shadow']);
  });

  it("a tool entry's mode overrides the file's, both ways", () => {
    assert.equal(decide(p, 'stop_vm').action, 'deny');
    assert.equal(decide(p, 'stop_vm').mode, undefined);
    const q = policy({ tools: { a: { action: 'deny', mode: 'shadow' }, b: { action: 'deny' } } });
    assert.equal(decide(q, 'a').mode, 'shadow');
    assert.equal(decide(q, 'b').mode, undefined);
    assert.equal(decide(q, 'c').mode, undefined);
  });

  it('no policy file stays denied and is never shadowed', () => {
    assert.deepEqual(decide(undefined, 'x'), {
      action: 'deny',
      rule: 'lab/(no policy)',
      reason: 'No policy file for server lab',
      limits: [],
    });
    assert.equal(isDeniedOutright(undefined, 'lab', 'x', 'bot'), true);
  });

  it('shadowed tools stay in tools/list, since their calls run', () => {
    assert.equal(isDeniedOutright(p, 'lab', 'delete_vm', 'bot'), false);
    assert.equal(isDeniedOutright(p, 'lab', 'secret', 'bot'), false);
    assert.equal(isDeniedOutright(p, 'lab', 'stop_vm', 'bot'), true);
  });
});

describe('policy mode: explain and check', () => {
  const p = parsePolicy(
    {
      version: '1',
      tools: {
        delete_vm: { action: 'deny', mode: 'shadow', reason: 'people only' },
        start_vm: { action: 'require_approval', mode: 'shadow' },
        health: { mode: 'shadow', limits: [{ counter: 'h', window: 'minute', max: 2 }] },
        stop_vm: { action: 'deny' },
      },
    },
    'policies/lab.json',
  );
  const source = { get: (server: string) => (server === 'lab' ? p : undefined) };
  const explain = (tool: string) => explainCall(source, { server: 'lab', tool, args: {} });

  it('states the shadow verdict', () => {
    assert.equal(explain('delete_vm').verdict, 'would be denied by lab/delete_vm, shadow mode: allowed');
    assert.equal(
      explain('start_vm').verdict,
      'would be held for approval by lab/start_vm, shadow mode: allowed',
    );
    assert.equal(
      explain('health').verdict,
      'allowed by lab/health; over a limit it would be rate limited, shadow mode: allowed',
    );
    assert.equal(explain('stop_vm').verdict, 'denied by lab/stop_vm');
    assert.equal(explain('stop_vm').decision.mode, undefined);
  });

  it('prints mode and verdict lines for shadowed decisions only', () => {
    const text = formatExplanation(explain('delete_vm'));
    assert.match(text, /^mode: +shadow \(nothing is enforced; every call runs\)$/m);
    assert.match(text, /^verdict: +would be denied by lab\/delete_vm, shadow mode: allowed$/m);
    assert.doesNotMatch(formatExplanation(explain('stop_vm')), /^(mode|verdict):/m);
  });

  it('policy check names file and JSON path of a bad mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-shadow-check-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'lab.json'), '{"version":"1","tools":{"start_vm":{"mode":"shdow"}}}');
    const issues = await checkPolicyDir(dir);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.file, join(dir, 'lab.json'));
    assert.equal(issues[0]!.path, '$.tools.start_vm.mode');
  });
});
