import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TestRedis } from '../helpers/redis.js';
import type { TestAirlock } from '../helpers/airlock-harness.js';
import { LAB_TOKENS, startLabGateway, type LabGateway } from '../helpers/lab-gateway.js';
import { untilChanged } from '../helpers/changes.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';
import type { Grant } from '../../src/core/grants/grant.js';

const ALICE = LAB_TOKENS.alice;
const BOB = LAB_TOKENS.bob;
const AGENT = LAB_TOKENS.agent;

let redis: TestRedis;
let lab: LabGateway;
let gw: TestAirlock;
let agent: Client;

const grants = { max: '1h', scopes: ['exact', 'tool'] };
const approval = { approvers: ['alice'], timeout: '1m', wait: '30s', grants };

before(async () => {
  lab = await startLabGateway({
    start_vm: { action: 'require_approval', approval },
    stop_vm: {
      action: 'require_approval',
      approval,
      limits: [{ counter: 'stops', window: 'minute', max: 2 }],
    },
    capture_network_traffic: {
      when: [{ args: { interface: { eq: 'eth9' } }, action: 'deny', reason: 'eth9 is off limits' }],
      action: 'require_approval',
      approval,
    },
    health_checks: {
      action: 'require_approval',
      approval: { ...approval, grants: { max: '5s', scopes: ['exact', 'tool'] } },
    },
    list_vms: {
      action: 'require_approval',
      approval: { ...approval, grants: { max: '1h', scopes: ['exact'] } },
    },
    vm_management: { action: 'require_approval', approval: { approvers: ['alice'], wait: '30s' } },
    get_vm_console_ticket: {
      action: 'require_approval',
      approval: { ...approval, approvers: ['alice', 'bob'], min_approvals: 2 },
    },
  });
  ({ redis, gw } = lab);
  agent = await gw.connect({ token: AGENT });
});
after(async () => {
  await lab?.stop();
});

async function api(
  method: string,
  path: string,
  body: unknown = method === 'GET' ? undefined : {},
  token = ALICE,
) {
  const res = await fetch(`${gw.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
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

/** Holds a call and approves it with `grant`; the grant that approval made. */
async function approvedWithGrant(name: string, args: Record<string, unknown>, grant: unknown) {
  const { record, result } = await held(name, args);
  const approved = await api('POST', `/requests/${record.id}/approve`, { grant });
  assert.equal(approved.status, 200, JSON.stringify(approved.json));
  await result;
  const listed = await api('GET', `/grants?tool=${name}`);
  const made = listed.json.grants.find((g: Grant) => g.requestId === record.id) as Grant;
  assert.ok(made, `a grant for ${record.id}`);
  return made;
}

/** A call that must be held again: its request is rejected to let it end. */
async function assertHeld(name: string, args: Record<string, unknown>) {
  const { record, result } = await held(name, args);
  await api('POST', `/requests/${record.id}/reject`, { reason: 'test done' });
  assert.equal(decisionOf(await result)?.status, 'rejected');
}

/** A call that runs at once under a grant, and its history record once written. */
async function runsGranted(name: string, args: Record<string, unknown>, grantId: string) {
  const created: string[] = [];
  const onCreated = (r: StoredRecord) => void created.push(r.id);
  gw.airlock.approvals.on('created', onCreated);
  const result = (await agent.callTool({ name, arguments: args })) as CallToolResult;
  gw.airlock.approvals.off('created', onCreated);
  assert.deepEqual(created, [], 'no new request');
  assert.equal(decisionOf(result), undefined, JSON.stringify(result));
  return untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () => {
      const page = await api('GET', `/requests?status=allowed&tool=${name}`);
      return page.json.requests.find((r: { grant?: string }) => r.grant === grantId);
    },
    `a history record with grant ${grantId}`,
  );
}

test('an exact grant runs the identical call at once (history allowed, grant) and holds other arguments', async () => {
  const g = await approvedWithGrant('start_vm', { vm_name: 'web-01' }, { for: '30m', scope: 'exact' });
  assert.equal(g.scope, 'exact');
  assert.equal(g.agent, 'ci-bot');
  assert.deepEqual(g.grantedBy, ['alice']);
  assert.ok(g.argsHash);
  assert.ok(g.expiresAt - g.createdAt === 30 * 60_000);
  const record = await runsGranted('start_vm', { vm_name: 'web-01' }, g.id);
  assert.equal(record.status, 'allowed');
  assert.equal(record.kind, 'direct');
  const after = (await api('GET', `/grants?agent=ci-bot&server=lab&tool=start_vm`)).json.grants;
  assert.equal(after.find((x: Grant) => x.id === g.id).uses, 1);
  await assertHeld('start_vm', { vm_name: 'db-01' });
  assert.equal((await api('GET', '/grants?agent=someone-else')).json.grants.length, 0);
});

test('a tool grant runs the tool with any arguments; a deny rule still denies', async () => {
  const g = await approvedWithGrant(
    'capture_network_traffic',
    { vm_name: 'web-01', interface: 'eth0', duration: 5 },
    { for: '10m', scope: 'tool' },
  );
  assert.equal(g.argsHash, undefined);
  await runsGranted('capture_network_traffic', { vm_name: 'db-01', interface: 'eth1', duration: 9 }, g.id);
  const denied = (await agent.callTool({
    name: 'capture_network_traffic',
    arguments: { vm_name: 'web-01', interface: 'eth9', duration: 5 },
  })) as CallToolResult;
  assert.equal(decisionOf(denied)?.status, 'denied');
});

test('a revoked grant holds the next call; revoking again or an unknown id is 404', async () => {
  const g = await approvedWithGrant('start_vm', { vm_name: 'app-01' }, { for: '30m', scope: 'tool' });
  await runsGranted('start_vm', { vm_name: 'app-02' }, g.id);
  const revoked = await api('DELETE', `/grants/${g.id}`, undefined, BOB);
  assert.equal(revoked.status, 200);
  assert.equal(revoked.json.revoked.id, g.id);
  // Other arguments than the approved call's: an identical call would get that call's stored result.
  await assertHeld('start_vm', { vm_name: 'app-03' });
  assert.equal((await api('DELETE', `/grants/${g.id}`)).status, 404);
  assert.equal((await api('DELETE', '/grants/gr_nope')).status, 404);
});

test('granted calls still count toward rate limits', async () => {
  const g = await approvedWithGrant('stop_vm', { vm_name: 'web-01' }, { for: '30m', scope: 'tool' });
  await runsGranted('stop_vm', { vm_name: 'db-01' }, g.id);
  const limited = (await agent.callTool({
    name: 'stop_vm',
    arguments: { vm_name: 'app-01' },
  })) as CallToolResult;
  assert.equal(decisionOf(limited)?.status, 'rate_limited');
});

test('a grant expires: the sweep reports it once and the next call is held', async () => {
  const expired = once(gw.airlock.grants, 'expired') as Promise<[Grant]>;
  const { record, result } = await held('health_checks', { vm_name: 'web-01' });
  const approved = await api('POST', `/requests/${record.id}/approve`, {
    grant: { for: '1s', scope: 'tool' },
  });
  assert.equal(approved.json.grant.scope, 'tool');
  await result;
  const [gone] = await expired;
  assert.equal(gone.id, approved.json.grant.id);
  assert.equal(gone.requestId, record.id);
  await assertHeld('health_checks', { vm_name: 'db-01' });
  assert.equal((await api('GET', '/grants?tool=health_checks')).json.grants.length, 0);
});

test('a grant the rule does not allow is refused with 400 and the request stays pending', async () => {
  const { record, result } = await held('health_checks', { vm_name: 'app-01' });
  const tooLong = await api('POST', `/requests/${record.id}/approve`, { grant: { for: '1m' } });
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.json.error.code, 'GRANT_NOT_ALLOWED');
  assert.match(tooLong.json.error.message, /max 5s/);
  const shape = await api('POST', `/requests/${record.id}/approve`, { grant: { for: '1s', scope: 'all' } });
  assert.equal(shape.status, 400);
  assert.equal((await api('GET', `/requests/${record.id}`)).json.status, 'pending');
  await api('POST', `/requests/${record.id}/reject`, { reason: 'test done' });
  await result;

  const exactOnly = await held('list_vms', {});
  const scope = await api('POST', `/requests/${exactOnly.record.id}/approve`, {
    grant: { for: '1s', scope: 'tool' },
  });
  assert.equal(scope.status, 400);
  assert.match(scope.json.error.message, /not offered by lab\/list_vms; offered: exact/);
  assert.equal((await api('GET', `/requests/${exactOnly.record.id}`)).json.status, 'pending');
  await api('POST', `/requests/${exactOnly.record.id}/reject`, { reason: 'test done' });
  await exactOnly.result;

  const other = await held('vm_management', { vm_name: 'web-01', action: 'snapshot' });
  const none = await api('POST', `/requests/${other.record.id}/approve`, { grant: { for: '1m' } });
  assert.equal(none.status, 400);
  assert.match(none.json.error.message, /offers no grants/);
  const stored = (await api('GET', `/requests/${other.record.id}`)).json;
  assert.equal(stored.status, 'pending');
  assert.equal(stored.decisions.length, 0);
  await api('POST', `/requests/${other.record.id}/reject`, { reason: 'test done' });
  await other.result;
});

test('with a quorum of two, one vote without a grant makes no grant', async () => {
  const { record, result } = await held('get_vm_console_ticket', { vm_name: 'web-01' });
  const first = await api('POST', `/requests/${record.id}/approve`, { grant: { for: '10m' } });
  assert.equal(first.status, 200);
  assert.equal(first.json.status, 'pending');
  const second = await api('POST', `/requests/${record.id}/approve`, {}, BOB);
  assert.equal(second.json.status, 'approved');
  assert.equal(second.json.grant, undefined);
  await result;
  assert.equal((await api('GET', '/grants?tool=get_vm_console_ticket')).json.grants.length, 0);
});

test('with a quorum of two that both ask, the grant takes the shortest duration and narrowest scope', async () => {
  const { record, result } = await held('get_vm_console_ticket', { vm_name: 'db-01' });
  await api('POST', `/requests/${record.id}/approve`, { grant: { for: '20m', scope: 'tool' } });
  const second = await api('POST', `/requests/${record.id}/approve`, { grant: { for: '10m' } }, BOB);
  assert.equal(second.json.status, 'approved');
  await result;
  const [g] = (await api('GET', '/grants?tool=get_vm_console_ticket')).json.grants as Grant[];
  assert.ok(g);
  assert.equal(g.scope, 'exact');
  assert.equal(g.expiresAt - g.createdAt, 10 * 60_000);
  assert.deepEqual(g.grantedBy, ['alice', 'bob']);
});
