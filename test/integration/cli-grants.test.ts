import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { TestAirlock } from '../helpers/airlock-harness.js';
import { LAB_TOKENS, startLabGateway, type LabGateway } from '../helpers/lab-gateway.js';
import { runCli } from '../helpers/run-cli.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';

const ALICE = LAB_TOKENS.alice;
const AGENT = LAB_TOKENS.agent;

let lab: LabGateway;
let gw: TestAirlock;

before(async () => {
  lab = await startLabGateway(
    {
      start_vm: {
        action: 'require_approval',
        approval: { approvers: ['alice'], wait: '30s', grants: { max: '1h', scopes: ['exact', 'tool'] } },
      },
      delete_vm: { mode: 'shadow', action: 'deny', reason: 'Deleting is done by people' },
    },
    { reviewers: ['alice'] },
  );
  ({ gw } = lab);
});
after(async () => {
  await lab?.stop();
});

const cli = (...args: string[]) => runCli(['--url', gw.url, '--token', ALICE, ...args]);

test('approve --for makes a grant; grants lists it; revoke ends it; revoking again is exit 4', async () => {
  const agent = await gw.connect({ token: AGENT });
  const created = once(gw.airlock.approvals, 'created') as Promise<[StoredRecord]>;
  const call = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'web-01' } });
  const [record] = await created;

  const tooLong = await cli('approve', record.id, '--for', '2h');
  assert.equal(tooLong.code, 1, tooLong.stderr);
  assert.match(tooLong.stderr, /max 1h/);

  const approved = await cli('approve', record.id, '--for', '30m', '--scope', 'tool');
  assert.equal(approved.code, 0, approved.stderr);
  const id = /Grant (gr_[\w-]+) \(tool\)/.exec(approved.stdout)?.[1];
  assert.ok(id, approved.stdout);
  await call;

  const listed = await cli('grants', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  const grants = JSON.parse(listed.stdout) as { id: string; scope: string; requestId: string }[];
  assert.deepEqual(
    grants.map((g) => [g.id, g.scope, g.requestId]),
    [[id, 'tool', record.id]],
  );
  assert.match((await cli('grants')).stdout, new RegExp(id));

  const revoked = await cli('revoke', id);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /Revoked gr_/);
  assert.equal((await cli('grants')).stdout, 'No active grants.\n');
  assert.equal((await cli('revoke', id)).code, 4);
});

test('history and show print the grant a call ran under, and the grant an approval made', async () => {
  const agent = await gw.connect({ token: AGENT });
  const created = once(gw.airlock.approvals, 'created') as Promise<[StoredRecord]>;
  const call = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'dc-01' } });
  const [record] = await created;
  const approved = await cli('approve', record.id, '--for', '20m', '--scope', 'tool');
  assert.equal(approved.code, 0, approved.stderr);
  const grantId = /Grant (gr_[\w-]+)/.exec(approved.stdout)![1]!;
  await call;
  await agent.callTool({ name: 'start_vm', arguments: { vm_name: 'db-01' } });

  const json = JSON.parse((await cli('history', '--json', '--tool', 'start_vm')).stdout) as {
    id: string;
    grant?: unknown;
  }[];
  const ran = json.find((r) => r.grant === grantId);
  assert.ok(ran, 'the granted call is in history');

  const table = await cli('history', '--tool', 'start_vm');
  assert.equal(table.code, 0, table.stderr);
  const row = table.stdout.split('\n').find((l) => l.startsWith(ran.id));
  assert.match(row ?? '', /allowed \(grant\)/, table.stdout);

  const shown = await cli('show', ran.id);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /allowed \(ran under grant gr_[\w-]+, no new review\)/);
  assert.match(shown.stdout, new RegExp(`Grant +${grantId} \\(an earlier approval\\)`));
  assert.match(shown.stdout, new RegExp(`allowed under grant ${grantId}`));

  const approval = await cli('show', record.id);
  assert.match(approval.stdout, new RegExp(`Grant +${grantId}: tool scope for 20m, until `));
  assert.match(approval.stdout, /approve +alice via cli with a 20m grant \(tool scope\)/);
  assert.match(approval.stdout, new RegExp(`grant ${grantId} created \\(tool scope, 20m\\)`));
  await cli('revoke', grantId);
});

test('history and show print what a shadow-mode policy would have done', async () => {
  const agent = await gw.connect({ token: AGENT });
  await agent.callTool({ name: 'delete_vm', arguments: { vm_name: 'kali-01' } });
  const json = JSON.parse((await cli('history', '--json', '--tool', 'delete_vm')).stdout) as {
    id: string;
    shadow?: { would: string; rule: string };
  }[];
  const ran = json.find((r) => r.shadow);
  assert.deepEqual(ran?.shadow && { would: ran.shadow.would, rule: ran.shadow.rule }, {
    would: 'denied',
    rule: 'lab/delete_vm',
  });

  const table = await cli('history', '--tool', 'delete_vm');
  const row = table.stdout.split('\n').find((l) => l.startsWith(ran!.id));
  assert.match(row ?? '', /allowed \(shadow\) .* would/, table.stdout);

  const shown = await cli('show', ran!.id);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /allowed \(shadow mode: policy recorded, not enforced\)/);
  assert.match(
    shown.stdout,
    /Shadow +would have been denied by rule lab\/delete_vm: Deleting is done by people/,
  );
  assert.match(shown.stdout, /allowed by policy \(shadow mode: denied by rule lab\/delete_vm/);
});
