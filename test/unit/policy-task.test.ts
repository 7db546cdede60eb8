import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluate, parsePolicy, PolicyError, taskSupportOf } from '../../src/core/policy/index.js';
import { checkPolicyDir, explainCall, formatExplanation, formatIssues } from '../../src/policy/index.js';

const FILE = 'policies/lab.json';
const compile = (tools: unknown, extra: object = {}) => parsePolicy({ version: '1', tools, ...extra }, FILE);
const call = (tool: string, args: Record<string, unknown> = {}, agent = 'ci-bot') => ({
  server: 'lab',
  tool,
  agent,
  args,
});

function issuesOf(tools: unknown): string[] {
  try {
    compile(tools);
  } catch (err) {
    if (err instanceof PolicyError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('policy task key', () => {
  it('rides on allow decisions from an entry and from a when rule', () => {
    const p = compile({
      slow_compute: { task: 'required' },
      report: {
        task: 'optional',
        when: [{ args: { size: { gt: 100 } }, task: 'required' }, { agents: ['night-bot'] }],
      },
      plain: {},
    });
    assert.equal(evaluate(p, call('slow_compute')).task, 'required');
    assert.equal(evaluate(p, call('report', { size: 500 })).task, 'required');
    assert.equal(evaluate(p, call('report', { size: 5 })).task, 'optional');
    assert.equal(
      evaluate(p, call('report', {}, 'night-bot')).task,
      'optional',
      'a rule inherits the entry task',
    );
    assert.ok(!('task' in evaluate(p, call('plain'))));
  });

  it('is not inherited by a rule that does not allow', () => {
    const p = compile({
      deploy: {
        task: 'optional',
        when: [
          { args: { env: { eq: 'prod' } }, action: 'require_approval' },
          { args: { env: { eq: 'moon' } }, action: 'deny' },
        ],
      },
    });
    const held = evaluate(p, call('deploy', { env: 'prod' }));
    assert.equal(held.action, 'require_approval');
    assert.ok(!('task' in held));
    assert.ok(!('task' in evaluate(p, call('deploy', { env: 'moon' }))));
  });

  it('written on a deny or require_approval entry or rule is an error naming its path', () => {
    assert.deepEqual(
      issuesOf({
        a: { action: 'deny', task: 'optional' },
        b: { action: 'require_approval', task: 'required' },
        c: {
          action: 'deny',
          when: [
            { agents: ['x'], task: 'optional' },
            { agents: ['y'], action: 'allow', task: 'required' },
          ],
        },
      }),
      [
        '$.tools.a.task: task applies only to allowed calls; a denied call never runs',
        '$.tools.b.task: task applies only to allowed calls; a call held for approval runs as a task whenever the client supports tasks',
        '$.tools.c.when[0].task: task applies only to allowed calls; a denied call never runs',
      ],
    );
  });

  it('rejects a value other than optional or required', () => {
    const [issue] = issuesOf({ a: { task: 'always' } });
    assert.match(issue!, /^\$\.tools\.a\.task: /);
    assert.match(issue!, /optional/);
    const [ruleIssue] = issuesOf({ a: { when: [{ agents: ['x'], task: true }] } });
    assert.match(ruleIssue!, /^\$\.tools\.a\.when\[0\]\.task: /);
  });

  it('policy check names the file and the JSON path of a bad value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-policy-task-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'lab.json'), '{"version":"1","tools":{"x":{"action":"deny","task":"required"}}}');
    assert.equal(
      formatIssues(await checkPolicyDir(dir)),
      `${join(dir, 'lab.json')}: $.tools.x.task: task applies only to allowed calls; a denied call never runs`,
    );
  });

  it('policy explain prints it', () => {
    const p = compile({ slow_compute: { task: 'required' }, quick: { task: 'optional' }, plain: {} });
    const source = { get: (s: string) => (s === 'lab' ? p : undefined) };
    const explain = (tool: string) =>
      formatExplanation(explainCall(source, { server: 'lab', tool, args: {} }));
    assert.match(explain('slow_compute'), /^task: +required \(runs as an MCP task; .*-32021\)$/m);
    assert.match(
      explain('quick'),
      /^task: +optional \(runs as an MCP task when the client supports tasks\)$/m,
    );
    assert.doesNotMatch(explain('plain'), /^task:/m);
  });
});

describe('policy task_after key', () => {
  it('rides beside task in milliseconds, and a rule inherits it when it allows', () => {
    const p = compile({
      ask_first: {
        task: 'required',
        task_after: '5s',
        when: [
          { agents: ['quick-bot'], task_after: '250ms' },
          { agents: ['held-bot'], action: 'require_approval' },
        ],
      },
      plain_task: { task: 'optional' },
    });
    const d = evaluate(p, call('ask_first'));
    assert.equal(d.task, 'required');
    assert.equal(d.taskAfterMs, 5000);
    assert.equal(evaluate(p, call('ask_first', {}, 'quick-bot')).taskAfterMs, 250);
    assert.ok(!('taskAfterMs' in evaluate(p, call('ask_first', {}, 'held-bot'))));
    assert.ok(!('taskAfterMs' in evaluate(p, call('plain_task'))));
  });

  it('without task, on a held or denied call, or not a duration is an error naming its path', () => {
    assert.deepEqual(
      issuesOf({
        a: { task_after: '1s' },
        b: { action: 'require_approval', task_after: '1s' },
        c: { action: 'deny', when: [{ agents: ['x'], task_after: '1s' }] },
      }),
      [
        '$.tools.a.task_after: task_after needs task ("optional" or "required")',
        '$.tools.b.task_after: task_after applies only to allowed calls; a call held for approval runs as a task whenever the client supports tasks',
        '$.tools.c.when[0].task_after: task_after applies only to allowed calls; a denied call never runs',
      ],
    );
    const [issue] = issuesOf({ a: { task: 'optional', task_after: 'soon' } });
    assert.match(issue!, /^\$\.tools\.a\.task_after: expected a duration/);
  });

  it('policy explain prints it', () => {
    const p = compile({ ask_first: { task: 'required', task_after: '5s' } });
    const source = { get: (s: string) => (s === 'lab' ? p : undefined) };
    const text = formatExplanation(explainCall(source, { server: 'lab', tool: 'ask_first', args: {} }));
    assert.match(text, /^task after: +5s \(questions asked, and optional results ready, within 5s/m);
  });
});

describe('taskSupportOf', () => {
  const p = compile(
    {
      slow_compute: { task: 'required' },
      quick: { task: 'optional' },
      plain: {},
      start_vm: { action: 'require_approval' },
      gone: { action: 'deny' },
      mixed: { task: 'required', when: [{ args: { fast: { eq: true } }, task: 'optional' }] },
      inherits: { task: 'required', when: [{ args: { fast: { eq: true } } }] },
      sometimes_held: { when: [{ args: { env: { eq: 'prod' } }, action: 'require_approval' }] },
      per_agent: { when: [{ agents: ['night-bot'], task: 'required' }] },
      'vm_*': { action: 'require_approval' },
    },
    { hide: ['secret'], default: 'deny' },
  );

  it('is required when every runnable call must be a task', () => {
    assert.equal(taskSupportOf(p, 'slow_compute', 'ci-bot'), 'required');
    assert.equal(taskSupportOf(p, 'per_agent', 'night-bot'), 'required');
    assert.equal(taskSupportOf(p, 'inherits', 'ci-bot'), 'required', 'its rule inherits required');
  });

  it('is optional for optional tasks, mixed entries and anything that can be held', () => {
    assert.equal(taskSupportOf(p, 'quick', 'ci-bot'), 'optional');
    assert.equal(taskSupportOf(p, 'start_vm', 'ci-bot'), 'optional');
    assert.equal(taskSupportOf(p, 'vm_clone', 'ci-bot'), 'optional');
    assert.equal(taskSupportOf(p, 'sometimes_held', 'ci-bot'), 'optional');
    assert.equal(
      taskSupportOf(p, 'mixed', 'ci-bot'),
      'optional',
      'a rule inherits required, but may not match',
    );
  });

  it('is omitted for plain allowed, denied, hidden and unlisted tools', () => {
    assert.equal(taskSupportOf(p, 'plain', 'ci-bot'), undefined);
    assert.equal(taskSupportOf(p, 'per_agent', 'ci-bot'), undefined);
    assert.equal(taskSupportOf(p, 'gone', 'ci-bot'), undefined);
    assert.equal(taskSupportOf(p, 'secret', 'ci-bot'), undefined);
    assert.equal(taskSupportOf(p, 'unlisted', 'ci-bot'), undefined);
    assert.equal(taskSupportOf(undefined, 'plain', 'ci-bot'), undefined);
  });

  it('follows a default that holds calls', () => {
    const held = compile({}, { default: 'require_approval' });
    assert.equal(taskSupportOf(held, 'anything', 'ci-bot'), 'optional');
  });
});
