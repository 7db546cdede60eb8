import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TestAirlock } from '../helpers/airlock-harness.js';
import { LAB_TOKENS, startLabGateway, type LabGateway } from '../helpers/lab-gateway.js';
import { runCli } from '../helpers/run-cli.js';
import { argumentHash } from '../../src/core/approval/canonical.js';
import { ERROR_CODES } from '../../src/core/errors.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';

const ALICE = LAB_TOKENS.alice;
const AGENT = LAB_TOKENS.agent;

let lab: LabGateway;
let gw: TestAirlock;

before(async () => {
  lab = await startLabGateway(
    {
      health_checks: {
        action: 'require_approval',
        approval: { approvers: ['alice'], wait: '30s', allow_edit: true },
      },
    },
    { reviewers: ['alice'] },
  );
  ({ gw } = lab);
});
after(async () => {
  await lab?.stop();
});

const cli = (...args: string[]) => runCli(['--url', gw.url, '--token', ALICE, ...args]);

test('approve --args runs the edited arguments; bad JSON and schema failures exit 1 and change nothing; show and history say it was edited', async () => {
  const agent = await gw.connect({ token: AGENT });
  const created = once(gw.airlock.approvals, 'created') as Promise<[StoredRecord]>;
  const call = agent.callTool({
    name: 'health_checks',
    arguments: { vm_name: 'web-01' },
  }) as Promise<CallToolResult>;
  const [record] = await created;

  const pendingShow = await cli('show', record.id);
  assert.match(pendingShow.stdout, /Approvers +alice \(1 needed; edits allowed: approve --args\)/);

  const badJson = await cli('approve', record.id, '--args', '{vm_name: web-01');
  assert.equal(badJson.code, ERROR_CODES.BAD_REQUEST.exit, badJson.stderr);
  assert.match(badJson.stderr, /--args is not valid JSON/);
  const notObject = await cli('approve', record.id, '--args', '["db-01"]');
  assert.equal(notObject.code, ERROR_CODES.BAD_REQUEST.exit);
  assert.match(notObject.stderr, /--args must be a JSON object/);
  const invalid = await cli('approve', record.id, '--args', '{"vm_name": "db-01", "checks": ["smell"]}');
  assert.equal(invalid.code, ERROR_CODES.EDIT_INVALID.exit, invalid.stderr);
  assert.match(invalid.stderr, /\$\.checks\[0\]: must be one of/);
  const still = (await gw.airlock.approvals.get(record.id))!;
  assert.equal(still.status, 'pending');
  assert.deepEqual(still.args, { vm_name: 'web-01' });

  const approved = await cli('approve', record.id, '--args', '{"vm_name": "db-01", "checks": ["ping"]}');
  assert.equal(approved.code, 0, approved.stderr);
  const editedHash = argumentHash('lab', 'health_checks', { vm_name: 'db-01', checks: ['ping'] });
  assert.match(
    approved.stdout,
    new RegExp(`With changed arguments: args sha256 ${editedHash} \\(the agent sent ${record.argsHash}\\)`),
  );
  const result = await call;
  const text = (result.content as { text: string }[])[0]!.text;
  assert.match(text, /db-01: OK — ping/);
  assert.doesNotMatch(text, /web-01/);

  const shown = await cli('show', record.id);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`Args hash +${editedHash} \\(edited\\)`));
  assert.match(shown.stdout, new RegExp(`Original hash +${record.argsHash}`));
  assert.match(shown.stdout, /Edited +by alice via cli/);
  assert.match(shown.stdout, /Original arguments[^\n]*\n[\s\S]*"vm_name": "web-01"/);
  assert.match(shown.stdout, /approved with changed arguments by alice via cli/);

  const history = await cli('history', '--tool', 'health_checks');
  assert.equal(history.code, 0, history.stderr);
  assert.match(history.stdout, /alice +edited; /);
});
