import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TestAirlock } from '../helpers/airlock-harness.js';
import { LAB_TOKENS, startLabGateway, type LabGateway } from '../helpers/lab-gateway.js';
import { untilFile } from '../helpers/changes.js';
import { csvRecords } from '../helpers/csv.js';
import { DECISION_META_KEY, decisionOf } from '../../src/gateway/tool-error.js';
import { argumentHash } from '../../src/core/approval/canonical.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';

const ALICE = LAB_TOKENS.alice;
const BOB = LAB_TOKENS.bob;
const AGENT = LAB_TOKENS.agent;

let lab: LabGateway;
let gw: TestAirlock;
let agent: Client;

const approval = { approvers: ['alice'], timeout: '1m', wait: '30s', allow_edit: true };

before(async () => {
  lab = await startLabGateway({
    list_vms: { action: 'allow' },
    start_vm: {
      action: 'require_approval',
      approval: { ...approval, grants: { max: '1h', scopes: ['exact'] } },
    },
    capture_network_traffic: {
      when: [
        { args: { interface: { eq: 'eth9' } }, action: 'deny', reason: 'eth9 is off limits' },
        {
          args: { vm_name: { eq: 'dc-01' } },
          action: 'require_approval',
          approval: { approvers: ['bob'], wait: '30s' },
        },
      ],
      action: 'require_approval',
      approval,
    },
    stop_vm: { action: 'require_approval', approval: { approvers: ['alice'], wait: '30s' } },
  });
  ({ gw } = lab);
  agent = await gw.connect({ token: AGENT });
});
after(async () => {
  await lab?.stop();
});

async function api(method: string, path: string, body: unknown = {}, token = ALICE) {
  const res = await fetch(`${gw.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(method === 'GET' ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as any };
}

/** Starts a call and resolves once it is held: its pending request, and the call's eventual result. */
async function held(name: string, args: Record<string, unknown>) {
  const created = once(gw.airlock.approvals, 'created') as Promise<[StoredRecord]>;
  const result = agent.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const [record] = await created;
  assert.equal(record.tool, name);
  return { record, result };
}

/** Counts how often each request starts upstream while `fn` runs. */
async function countingRuns<T>(fn: () => Promise<T>): Promise<{ value: T; runs: string[] }> {
  const runs: string[] = [];
  const onRun = (r: StoredRecord) => void runs.push(r.id);
  gw.airlock.approvals.on('executing', onRun);
  try {
    return { value: await fn(), runs };
  } finally {
    gw.airlock.approvals.off('executing', onRun);
  }
}

function vmPower(text: string, vm: string): string | undefined {
  return new RegExp(`^${vm}\\s+(\\w+)`, 'm').exec(text)?.[1];
}

async function listVms(): Promise<string> {
  const r = (await agent.callTool({ name: 'list_vms', arguments: {} })) as CallToolResult;
  return (r.content as { type: string; text: string }[])[0]!.text;
}

test('approve with edited arguments runs exactly them once, tells the agent, and a retry of the original gets the stored result', async () => {
  const before = await listVms();
  assert.equal(vmPower(before, 'kali-01'), 'stopped', before);
  const { record, result } = await held('start_vm', { vm_name: 'db-01' });
  const { value, runs } = await countingRuns(async () => {
    const approved = await api('POST', `/requests/${record.id}/approve`, {
      args: { vm_name: 'kali-01' },
      comment: 'start the workstation instead',
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    return { approved: approved.json, answer: await result };
  });
  const { approved, answer } = value;
  const editedHash = argumentHash('lab', 'start_vm', { vm_name: 'kali-01' });
  assert.equal(approved.argsHash, editedHash);
  assert.deepEqual(approved.args, { vm_name: 'kali-01' });
  assert.equal(approved.edited.originalHash, record.argsHash);
  assert.deepEqual(approved.edited.originalArgs, { vm_name: 'db-01' });
  assert.equal(approved.edited.by, 'alice');
  assert.equal(approved.decisions[0].editedHash, editedHash);

  assert.equal(answer.isError, undefined, JSON.stringify(answer));
  const text = (answer.content as { text: string }[])[0]!.text;
  assert.match(text, /kali-01/);
  assert.deepEqual(answer._meta?.[DECISION_META_KEY], {
    status: 'approved',
    requestId: record.id,
    rule: 'lab/start_vm',
    edited: { by: 'alice', originalHash: record.argsHash, argsHash: editedHash },
  });
  const after = await listVms();
  assert.equal(vmPower(after, 'kali-01'), 'running', 'the edited VM started');
  assert.equal(vmPower(after, 'db-01'), vmPower(before, 'db-01'), 'the original VM untouched');

  // The agent retries its original call: it re-attaches to the request and gets the stored result.
  const retry = await countingRuns(async () => {
    const created: string[] = [];
    const onCreated = (r: StoredRecord) => void created.push(r.id);
    gw.airlock.approvals.on('created', onCreated);
    const r = (await agent.callTool({ name: 'start_vm', arguments: { vm_name: 'db-01' } })) as CallToolResult;
    gw.airlock.approvals.off('created', onCreated);
    return { r, created };
  });
  assert.deepEqual(retry.value.created, [], 'no new request');
  assert.deepEqual(retry.value.r, answer, 'the stored (edited) result');
  assert.deepEqual([...runs, ...retry.runs], [record.id], 'ran upstream exactly once');

  const detail = await api('GET', `/requests/${record.id}`);
  assert.equal(detail.json.status, 'executed');
  assert.deepEqual(detail.json.args, { vm_name: 'kali-01' });
  assert.deepEqual(detail.json.edited.originalArgs, { vm_name: 'db-01' });
  assert.equal(detail.json.edited.originalHash, record.argsHash);
  const exported = await fetch(`${gw.url}/api/requests/export?format=csv&tool=start_vm`, {
    headers: { authorization: `Bearer ${ALICE}` },
  });
  const row = csvRecords(await exported.text()).find((r) => r['id'] === record.id)!;
  assert.equal(row['argsHash'], editedHash, 'the CSV row has what ran');
  assert.deepEqual(JSON.parse(row['args']!), { vm_name: 'kali-01' });
  assert.equal(row['editedBy'], 'alice');
  assert.equal(row['originalArgsHash'], record.argsHash);
  assert.equal(row['editedAt'], new Date(detail.json.edited.at).toISOString());

  const file = gw.airlock.config.audit.file!;
  const line = await untilFile(
    file,
    () =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .find((e) => e.event === 'decision' && e.requestId === record.id),
    'the audit line of the edited approval',
  );
  assert.equal(line.argsHash, editedHash);
  assert.equal(line.originalHash, record.argsHash);
});

test('history keeps both versions as redacted display copies; a hidden secret left as [REDACTED] keeps its value', async () => {
  const { record, result } = await held('capture_network_traffic', {
    vm_name: 'web-01',
    duration: 2,
    filter: 'tcp port 443',
    api_key: 'sk-live-very-secret',
  });
  const shown = await api('GET', `/requests/${record.id}`);
  assert.equal(shown.json.args.api_key, '[REDACTED]');
  const edit = { ...shown.json.args, duration: 1, filter: 'tcp port 80' };
  const approved = await api('POST', `/requests/${record.id}/approve`, { args: edit });
  assert.equal(approved.status, 200, JSON.stringify(approved.json));
  await result;
  const stored = (await gw.airlock.approvals.get(record.id))!;
  assert.equal(stored.args.api_key, 'sk-live-very-secret', 'the secret the reviewer never saw is kept');
  assert.equal(stored.args.filter, 'tcp port 80');
  const detail = await api('GET', `/requests/${record.id}`);
  assert.equal(detail.json.args.api_key, '[REDACTED]');
  assert.equal(detail.json.edited.originalArgs.api_key, '[REDACTED]');
  assert.equal(detail.json.edited.originalArgs.filter, 'tcp port 443');
  assert.equal(detail.json.args.filter, 'tcp port 80');
});

test('edits the policy refuses (409), that fail the schema (400 naming the path), or on a rule without allow_edit (400) change nothing and run nothing', async () => {
  const { record, result } = await held('capture_network_traffic', { vm_name: 'web-01', duration: 5 });
  const refusals = await countingRuns(async () => {
    const denied = await api('POST', `/requests/${record.id}/approve`, {
      args: { vm_name: 'web-01', duration: 5, interface: 'eth9' },
    });
    assert.equal(denied.status, 409, JSON.stringify(denied.json));
    assert.equal(denied.json.error.code, 'EDIT_REFUSED');
    assert.match(denied.json.error.message, /eth9 is off limits/);

    const otherRule = await api('POST', `/requests/${record.id}/approve`, {
      args: { vm_name: 'dc-01', duration: 5 },
    });
    assert.equal(otherRule.status, 409, JSON.stringify(otherRule.json));
    assert.equal(otherRule.json.error.code, 'EDIT_REFUSED');
    assert.match(
      otherRule.json.error.message,
      /capture_network_traffic#when\[1\], which alice may not approve/,
    );

    const invalid = await api('POST', `/requests/${record.id}/approve`, {
      args: { vm_name: 'web-01', duration: 'ten' },
    });
    assert.equal(invalid.status, 400, JSON.stringify(invalid.json));
    assert.equal(invalid.json.error.code, 'EDIT_INVALID');
    assert.match(invalid.json.error.message, /\$\.duration: must be integer/);
    assert.equal(invalid.json.error.field, '$.duration');

    const missing = await api('POST', `/requests/${record.id}/approve`, { args: { duration: 3 } });
    assert.equal(missing.status, 400);
    assert.match(missing.json.error.message, /\$\.vm_name: is required/);

    const notObject = await api('POST', `/requests/${record.id}/approve`, { args: [1, 2] });
    assert.equal(notObject.status, 400);

    const withReject = await api('POST', `/requests/${record.id}/reject`, {
      reason: 'no',
      args: { vm_name: 'web-01', duration: 1 },
    });
    assert.equal(withReject.status, 400, 'a reject carries no arguments');
  });
  assert.deepEqual(refusals.runs, []);
  const still = (await gw.airlock.approvals.get(record.id))!;
  assert.equal(still.status, 'pending');
  assert.deepEqual(still.args, record.args);
  assert.equal(still.argsHash, record.argsHash);
  assert.deepEqual(still.decisions, []);
  assert.equal(still.edited, undefined);
  const file = gw.airlock.config.audit.file!;
  const refusedCodes = await untilFile(
    file,
    () => {
      const codes = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((e) => e.event === 'decision.refused' && e.requestId === record.id)
        .map((e) => e.code as string);
      return codes.includes('EDIT_REFUSED') && codes.includes('EDIT_INVALID') ? codes : undefined;
    },
    'the audit lines of the refused edits',
  );
  assert.ok(
    refusedCodes.every((c) => c.startsWith('EDIT_')),
    refusedCodes.join(', '),
  );
  await api('POST', `/requests/${record.id}/reject`, { reason: 'test done' });
  assert.equal(decisionOf(await result)?.status, 'rejected');

  const plain = await held('stop_vm', { vm_name: 'web-01' });
  const notAllowed = await api('POST', `/requests/${plain.record.id}/approve`, {
    args: { vm_name: 'db-01' },
  });
  assert.equal(notAllowed.status, 400);
  assert.equal(notAllowed.json.error.code, 'EDIT_NOT_ALLOWED');
  assert.match(notAllowed.json.error.message, /allow_edit/);
  const unchanged = (await gw.airlock.approvals.get(plain.record.id))!;
  assert.equal(unchanged.status, 'pending');
  assert.deepEqual(unchanged.args, { vm_name: 'web-01' });
  await api('POST', `/requests/${plain.record.id}/reject`, { reason: 'test done' });
  await plain.result;

  const notApprover = await held('start_vm', { vm_name: 'dc-01' });
  const bob = await api(
    'POST',
    `/requests/${notApprover.record.id}/approve`,
    { args: { vm_name: 'web-01' } },
    BOB,
  );
  assert.equal(bob.status, 403, 'only listed approvers may edit');
  assert.equal((await gw.airlock.approvals.get(notApprover.record.id))!.status, 'pending');
  await api('POST', `/requests/${notApprover.record.id}/reject`, { reason: 'test done' });
  await notApprover.result;
});

test('an exact grant made with an edit covers the edited arguments, not the original ones', async () => {
  const { record, result } = await held('start_vm', { vm_name: 'dc-01' });
  const approved = await api('POST', `/requests/${record.id}/approve`, {
    args: { vm_name: 'web-01' },
    grant: { for: '10m', scope: 'exact' },
  });
  assert.equal(approved.status, 200, JSON.stringify(approved.json));
  await result;
  const grants = await api('GET', '/grants?tool=start_vm');
  const g = grants.json.grants.find((x: { requestId: string }) => x.requestId === record.id);
  assert.equal(g.argsHash, argumentHash('lab', 'start_vm', { vm_name: 'web-01' }));
  const granted = (await agent.callTool({
    name: 'start_vm',
    arguments: { vm_name: 'web-01' },
  })) as CallToolResult;
  assert.equal(decisionOf(granted), undefined, 'the edited call runs under the grant');
});
