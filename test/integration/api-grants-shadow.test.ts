import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TestRedis } from '../helpers/redis.js';
import type { TestAirlock } from '../helpers/airlock-harness.js';
import { LAB_TOKENS, startLabGateway, type LabGateway } from '../helpers/lab-gateway.js';
import { untilChanged } from '../helpers/changes.js';
import { csvRecords } from '../helpers/csv.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';

const ALICE = LAB_TOKENS.alice;
const AGENT = LAB_TOKENS.agent;

let redis: TestRedis;
let lab: LabGateway;
let gw: TestAirlock;
let agent: Client;

before(async () => {
  lab = await startLabGateway(
    {
      list_vms: {},
      start_vm: {
        action: 'require_approval',
        approval: { timeout: '1m', wait: '30s', grants: { max: '2h', scopes: ['exact', 'tool'] } },
      },
      stop_vm: { action: 'require_approval', approval: { timeout: '1m', wait: '30s' } },
      delete_vm: { action: 'deny', reason: 'not by agents', mode: 'shadow' },
    },
    { reviewers: ['alice'] },
  );
  ({ redis, gw } = lab);
  agent = await gw.connect({ token: AGENT });
});

after(async () => {
  await lab?.stop();
});

async function api(method: string, path: string, init: { body?: string; type?: string } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${ALICE}` };
  if (init.type) headers['content-type'] = init.type;
  const res = await fetch(`${gw.url}/api${path}`, {
    method,
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { status: res.status, json: (await res.json()) as any };
}

/** Holds a call; its pending request and the call's eventual result. */
async function held(name: string, args: Record<string, unknown>) {
  const created = once(gw.airlock.approvals, 'created') as Promise<[StoredRecord]>;
  const result = agent.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const [record] = await created;
  return { record, result };
}

test('a request shows the grants its rule offers; a rule without grants shows none', async () => {
  const offered = await held('start_vm', { vm_name: 'web-01' });
  const detail = await api('GET', `/requests/${offered.record.id}`);
  assert.deepEqual(detail.json.approval.grants, {
    max: '2h',
    maxMs: 2 * 3600_000,
    scopes: ['exact', 'tool'],
  });
  const none = await held('stop_vm', { vm_name: 'web-01' });
  assert.equal((await api('GET', `/requests/${none.record.id}`)).json.approval.grants, undefined);
  for (const { record, result } of [offered, none]) {
    const body = JSON.stringify({ reason: 'test done' });
    await api('POST', `/requests/${record.id}/reject`, { body, type: 'application/json' });
    await result;
  }
});

test('DELETE /grants/:id needs no body, with or without a JSON content type', async () => {
  for (const type of [undefined, 'application/json']) {
    const { record, result } = await held('start_vm', { vm_name: `db-${type ? 'json' : 'none'}` });
    const body = JSON.stringify({ grant: { for: '1h', scope: 'tool' } });
    const approved = await api('POST', `/requests/${record.id}/approve`, { body, type: 'application/json' });
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    await result;
    const revoked = await api('DELETE', `/grants/${approved.json.grant.id}`, type ? { type } : {});
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    assert.equal(revoked.json.revoked.id, approved.json.grant.id);
  }
  const bad = await api('DELETE', '/grants/gr_nope', { body: '{"x":', type: 'application/json' });
  assert.equal(bad.status, 400, 'a malformed body is still refused');
  const plain = await api('DELETE', '/grants/gr_nope', { body: 'x', type: 'text/plain' });
  assert.equal(plain.status, 415, 'a body that is not JSON is still refused');
});

test('history filters shadow records with shadow=true|false and refuses other values', async () => {
  await agent.callTool({ name: 'delete_vm', arguments: { vm_name: 'old-01' } });
  await agent.callTool({ name: 'list_vms', arguments: {} });
  const shadowed = await untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () => {
      const page = await api('GET', '/requests?shadow=true');
      const all = await api('GET', '/requests?tool=list_vms');
      return page.json.requests.length && all.json.requests.length ? page.json.requests : undefined;
    },
    'the shadowed call in history',
  );
  assert.ok(shadowed.length >= 1);
  for (const r of shadowed) assert.equal(r.shadow.would, 'denied');
  assert.equal(shadowed[0].tool, 'delete_vm');
  assert.equal(shadowed[0].status, 'allowed');
  assert.equal(shadowed[0].shadow.rule, 'lab/delete_vm');
  const unshadowed = (await api('GET', '/requests?shadow=false&limit=500')).json.requests;
  assert.ok(unshadowed.some((r: { tool: string }) => r.tool === 'list_vms'));
  assert.ok(unshadowed.every((r: { shadow?: unknown }) => r.shadow === undefined));
  const exported = await api('GET', '/requests/export?shadow=true&format=json');
  assert.deepEqual(
    exported.json.map((r: { id: string }) => r.id),
    shadowed.map((r: { id: string }) => r.id),
  );
  const bad = await api('GET', '/requests?shadow=yes');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, 'shadow');
  assert.match(bad.json.error.message, /shadow must be true or false/);
});

test('the CSV export names the grant a call ran under or an approval created, and what shadow mode would have done', async () => {
  const { record, result } = await held('start_vm', { vm_name: 'csv-01' });
  const body = JSON.stringify({ grant: { for: '1h', scope: 'tool' } });
  const approved = await api('POST', `/requests/${record.id}/approve`, { body, type: 'application/json' });
  assert.equal(approved.status, 200, JSON.stringify(approved.json));
  await result;
  const grant = approved.json.grant as { id: string; expiresAt: number };
  const covered = (await agent.callTool({
    name: 'start_vm',
    arguments: { vm_name: 'csv-02' },
  })) as CallToolResult;
  assert.doesNotMatch(JSON.stringify(covered), /approval|held|pending/i, 'ran at once under the grant');
  await agent.callTool({ name: 'delete_vm', arguments: { vm_name: 'csv-03' } });
  const csv = async () => {
    const res = await fetch(`${gw.url}/api/requests/export?format=csv`, {
      headers: { authorization: `Bearer ${ALICE}` },
    });
    return csvRecords(await res.text());
  };
  const rows = await untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () => {
      const all = await csv();
      const direct = all.find((r) => r['kind'] === 'direct' && r['grant'] === grant.id);
      const shadow = all.find((r) => r['args']?.includes('csv-03'));
      return direct && shadow ? { all, direct, shadow } : undefined;
    },
    'the granted and the shadowed call in history',
  );
  const made = rows.all.find((r) => r['id'] === record.id)!;
  assert.equal(made['grant'], grant.id, 'the approval that created the grant');
  assert.equal(made['grantScope'], 'tool');
  assert.equal(made['grantExpiresAt'], new Date(grant.expiresAt).toISOString());
  assert.equal(rows.direct['tool'], 'start_vm');
  assert.equal(rows.direct['status'], 'allowed');
  assert.equal(rows.direct['grantScope'], '', 'a direct record names the grant only');
  assert.equal(rows.direct['shadowWould'], '');
  assert.equal(rows.shadow['status'], 'allowed');
  assert.equal(rows.shadow['shadowWould'], 'denied');
  assert.equal(rows.shadow['shadowRule'], 'lab/delete_vm');
  assert.equal(rows.shadow['shadowReason'], 'not by agents');
  assert.equal(rows.shadow['grant'], '');
  await api('DELETE', `/grants/${grant.id}`);
});
