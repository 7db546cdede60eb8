import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { freshPrefix } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { untilChanged } from '../helpers/changes.js';

// A one-node Redis Cluster still refuses multi-key commands across slots (CROSSSLOT), so this proves
// that every multi-key script and BullMQ queue Airlock uses stays inside the prefix's hash tag.
let cluster: TestRedisCluster;
let gw: TestAirlock;
const prefix = `{${freshPrefix('cl')}}`;

before(async () => {
  cluster = await startRedisCluster();
  gw = await startTestAirlock({
    redisUrl: cluster.url,
    prefix,
    config: { redis: { url: cluster.url, cluster: true, prefix } },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          list_vms: { limits: [{ counter: 'lv', window: 'minute', max: 2, scope: 'grant' }] },
          start_vm: { action: 'require_approval', approval: { timeout: '1m', wait: '20s' } },
        },
      },
    },
  });
});
after(async () => {
  await gw?.stop();
  await cluster?.stop();
});

test('rate limits, approvals, release and history work on Redis Cluster with a hash-tagged prefix', async () => {
  const agent = await gw.connect();
  assert.notEqual(
    ((await agent.callTool({ name: 'list_vms', arguments: {} })) as CallToolResult).isError,
    true,
  );
  await agent.callTool({ name: 'list_vms', arguments: {} });
  const limited = (await agent.callTool({ name: 'list_vms', arguments: {} })) as CallToolResult;
  assert.equal(limited.isError, true);

  const call = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'kali-01' } });
  const pending = await untilChanged(
    { redisUrl: cluster.url, prefix },
    async () => ((await (await fetch(`${gw.url}/api/requests?status=pending`)).json()) as any).requests?.[0],
    'the held call',
  );
  assert.ok(pending, 'the held call is listed');
  const res = await fetch(`${gw.url}/api/requests/${pending.id}/approve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(res.status, 200);
  const result = (await call) as CallToolResult;
  assert.notEqual(result.isError, true);
  assert.match(JSON.stringify(result.content), /kali-01/);
  const history: any = await (await fetch(`${gw.url}/api/requests?tool=start_vm`)).json();
  assert.equal(history.requests[0].status, 'executed');
});
