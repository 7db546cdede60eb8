import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parsePolicy } from '../../src/core/policy/index.js';
import {
  checkPolicyDir,
  checkPolicyDirReport,
  explainCall,
  formatExplanation,
  formatIssues,
} from '../../src/policy/index.js';

const root = mkdtempSync(join(tmpdir(), 'airlock-policy-check-'));
after(() => rmSync(root, { recursive: true, force: true }));

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'p-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('checkPolicyDir', () => {
  it('returns no issues for a valid directory', async () => {
    const dir = dirWith({ 'lab.json': '{"version":"1","tools":{"a":{}}}', 'virt.yaml': 'version: "1"\n' });
    assert.deepEqual(await checkPolicyDir(dir), []);
  });

  it('returns every issue of every file, each naming file and path', async () => {
    const dir = dirWith({
      'lab.json': '{"version":"1","tools":{"a":{"action":"nope"},"b":{"aproval":{}}}}',
      'virt.yaml': 'version: "1"\ntools:\n  c: { approval: { wait: 2h } }\n',
      'broken.json': '{"version": }',
      'notes.txt': 'not a policy',
      '.lab.json.swp': 'editor junk',
    });
    const issues = await checkPolicyDir(dir);
    assert.deepEqual(formatIssues(issues).split('\n'), [
      `${join(dir, 'broken.json')}: $: JSON syntax error at line 1, column 13: Unexpected token '}'`,
      `${join(dir, 'lab.json')}: $.tools.a.action: expected "allow" | "deny" | "require_approval", got "nope"`,
      `${join(dir, 'lab.json')}: $.tools.b.aproval: unknown key "aproval" (did you mean "approval"?)`,
      `${join(dir, 'virt.yaml')}: $.tools.c.approval.wait: wait (2h) must not exceed timeout (15m, the default)`,
    ]);
  });

  it('flags two files for one server, a missing directory, and warns about server mismatches', async () => {
    const dir = dirWith({
      'lab.json': '{"version":"1"}',
      'lab.yaml': 'version: "1"\n',
      'old.json': '{"version":"1"}',
    });
    const report = await checkPolicyDirReport(dir, ['lab', 'virt']);
    assert.equal(report.issues.length, 1);
    assert.match(report.issues[0]?.message ?? '', /server lab has more than one policy file/);
    assert.deepEqual(report.warnings, [
      `${join(dir, 'old.json')}: matches no configured server; it is ignored`,
      `${join(dir, 'virt.json')}: no policy file for server virt; every tool call to it is denied`,
    ]);
    assert.deepEqual(await checkPolicyDir(join(root, 'nope')), [
      { file: join(root, 'nope'), path: '$', message: 'directory not found' },
    ]);
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    assert.equal((await checkPolicyDir(file))[0]?.message, 'is not a directory');
    mkdirSync(join(dir, 'sub.json'));
    assert.match(formatIssues(await checkPolicyDir(dir)), /sub\.json: \$: cannot read/);
  });
});

describe('explainCall / formatExplanation', () => {
  const policy = parsePolicy(
    {
      version: '1',
      tools: {
        start_vm: {
          action: 'require_approval',
          approval: { approvers: ['U0456EFGH', 'alice'], min_approvals: 2, timeout: '1h', channel: 'C123' },
          limits: [{ counter: 'starts', window: 'hour', max: 5 }],
        },
        'delete_*': { action: 'deny', reason: 'Deleting is done by people, not agents' },
        capture: { when: [{ agents: ['ci-bot'], action: 'deny', reason: 'CI never captures traffic' }] },
      },
      hide: ['secret'],
    },
    'policies/lab.json',
  );
  const source = { get: (server: string) => (server === 'lab' ? policy : undefined) };

  it('names the file and the matched key', () => {
    const e = explainCall(source, { server: 'lab', tool: 'delete_vm', args: {} });
    assert.equal(e.file, 'policies/lab.json');
    assert.equal(e.matchedKey, 'delete_*');
    assert.equal(e.matchedBy, 'glob');
    assert.equal(e.agent, 'anonymous');
    assert.equal(e.decision.action, 'deny');
    assert.equal(explainCall(source, { server: 'lab', tool: 'start_vm', args: {} }).matchedBy, 'exact');
    assert.equal(explainCall(source, { server: 'lab', tool: 'x', args: {} }).matchedBy, 'default');
    assert.equal(explainCall(source, { server: 'lab', tool: 'secret', args: {} }).matchedBy, 'hide');
    const none = explainCall(source, { server: 'virt', tool: 'x', args: {} });
    assert.equal(none.matchedBy, 'no policy');
    assert.equal(none.file, undefined);
  });

  it('prints rule, action, reason, limits and approval as readable lines', () => {
    const text = formatExplanation(
      explainCall(source, { server: 'lab', tool: 'start_vm', agent: 'ci-bot', args: { vm: 'dc01' } }),
    );
    assert.equal(
      text,
      [
        'server:        lab (policies/lab.json)',
        'tool:          start_vm',
        'agent:         ci-bot',
        'args:          {"vm":"dc01"}',
        'matched:       tools.start_vm (exact name)',
        'rule:          lab/start_vm',
        'decision:      require_approval',
        'limits:        starts: 5 per hour (grant: per agent and tool)',
        'task:          optional (a held call runs as an MCP task when the client supports tasks)',
        'approvers:     U0456EFGH, alice',
        'approvals:     2 needed; any one reject rejects',
        'channel:       C123',
        'timeout:       1h (then reject)',
        'wait:          50s per tools/call before answering "pending"',
        "self-approval: not allowed (the agent's owner cannot approve)",
      ].join('\n'),
    );
    const denied = formatExplanation(
      explainCall(source, { server: 'lab', tool: 'capture', agent: 'ci-bot', args: {} }),
    );
    assert.match(denied, /^rule: +lab\/capture#when\[0\]$/m);
    assert.match(denied, /^reason: +CI never captures traffic$/m);
    assert.doesNotMatch(denied, /limits:/);
    assert.match(
      formatExplanation(explainCall(source, { server: 'virt', tool: 'x', args: {} })),
      /virt \(no policy file\)/,
    );
  });
});
