import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';
import { decisionOf } from '../../src/gateway/tool-error.js';

const AGENT = 'agent-token-0123456789abcdef';
const ALICE = 'alice-token-0123456789abcdef';

let redis: TestRedis;
let fake: FakeSlack;
let gw: TestAirlock;
let agent: Client;

before(async () => {
  redis = await startRedis();
  fake = await startFakeSlack();
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: {
      agents: [{ id: 'ci-bot', token: AGENT }],
      reviewers: [{ id: 'alice', token: ALICE, slack: 'U0ALICE' }],
      slack: { botToken: 'xoxb-t', signingSecret: 'shh-secret', channel: 'C0APPROVALS', apiUrl: fake.apiUrl },
    },
    policies: {
      lab: {
        version: '1',
        mode: 'shadow',
        default: 'deny',
        tools: {
          delete_vm: { action: 'deny', reason: 'Deleting is done by people, not agents' },
          health_checks: { limits: [{ counter: 'hc', window: 'minute', max: 1 }] },
          start_vm: { action: 'require_approval', approval: { timeout: '1m', wait: '200ms' } },
          stop_vm: { action: 'deny', reason: 'enforced', mode: 'enforce' },
          vm_management: {
            action: 'require_approval',
            mode: 'enforce',
            approval: { timeout: '1m', wait: '200ms' },
          },
        },
      },
    },
  });
  agent = await gw.connect({ token: AGENT });
});

after(async () => {
  await gw?.stop();
  await fake?.stop();
  await redis?.stop();
});

async function api(path: string): Promise<any> {
  const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${ALICE}` } });
  assert.equal(res.status, 200, path);
  return path === '/metrics' ? res.text() : res.json();
}

/** Resolves once `count` request events with `status` have arrived on GET /api/events. */
async function eventsOf(status: string, count: number): Promise<() => Promise<void>> {
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/api/events`, {
    headers: { authorization: `Bearer ${ALICE}` },
    signal: ac.signal,
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const read = async (until: () => boolean) => {
    while (!until()) {
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      buf += value;
    }
  };
  await read(() => buf.includes(': connected'));
  const seen = () => buf.split(`"status":"${status}"`).length - 1 >= count;
  return async () => {
    await read(seen);
    ac.abort();
  };
}

const call = (name: string, args: Record<string, unknown> = { vm_name: 'web-01' }) =>
  agent.callTool({ name, arguments: args }) as Promise<CallToolResult>;

function shadowCount(metrics: string, would: string): number {
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith(`airlock_shadow_decisions_total{would="${would}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('shadowed deny, rate limit and approval run the call, record what would have happened, post nothing', async () => {
  const fourAllowed = await eventsOf('allowed', 4);
  const results = [
    await call('delete_vm'),
    await call('health_checks'),
    await call('health_checks'),
    await call('start_vm'),
  ];
  for (const r of results) assert.equal(decisionOf(r), undefined, 'the agent sees the plain upstream result');
  // The lab itself refuses to delete a running VM: proof the call reached upstream.
  assert.match(JSON.stringify(results[0]), /web-01.*is running; stop it with stop_vm/);
  for (const r of results.slice(1)) assert.notEqual(r.isError, true, JSON.stringify(r));

  const metrics: string = await api('/metrics');
  assert.equal(shadowCount(metrics, 'denied'), 1);
  assert.equal(shadowCount(metrics, 'rate_limited'), 1, 'the second call is over the limit of 1');
  assert.equal(shadowCount(metrics, 'held'), 1);

  await fourAllowed();
  const { requests } = await api('/api/requests?status=allowed');
  const byTool = (tool: string) => requests.filter((r: any) => r.tool === tool).map((r: any) => r.shadow);
  assert.deepEqual(byTool('delete_vm'), [
    { would: 'denied', rule: 'lab/delete_vm', reason: 'Deleting is done by people, not agents' },
  ]);
  // One within the limit (no shadow), one over it; both ran.
  assert.deepEqual(
    byTool('health_checks')
      .map((x: unknown) => JSON.stringify(x ?? null))
      .sort(),
    [
      'null',
      JSON.stringify({
        would: 'rate_limited',
        rule: 'lab/health_checks',
        reason: 'limit "hc" allows 1 per minute (grant)',
      }),
    ],
  );
  assert.deepEqual(byTool('start_vm'), [{ would: 'held', rule: 'lab/start_vm' }]);

  const pending = await api('/api/requests?status=pending');
  assert.deepEqual(pending.requests, [], 'no approval request for a shadowed call');
  assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 0);
});

test('shadow counters never use up what enforced calls are allowed', async () => {
  const keys = await gw.airlock.redis.keys(`${gw.prefix}*rate*`);
  assert.ok(keys.length > 0);
  assert.ok(
    keys.every((k) => k.includes('shadow')),
    `only shadow counters were written: ${keys.join(', ')}`,
  );
});

test('enforce-mode tools in the same file still enforce', async () => {
  const denied = await call('stop_vm');
  assert.equal(denied.isError, true);
  assert.equal(decisionOf(denied)?.status, 'denied');

  const held = await call('vm_management', { vm_name: 'web-01', action: 'snapshot' });
  assert.equal(decisionOf(held)?.status, 'pending');
  await fake.waitFor('chat.postMessage', (c) => JSON.stringify(c.params.blocks).includes('vm_management'));
  const pending = await api('/api/requests?status=pending');
  assert.deepEqual(
    pending.requests.map((r: any) => r.tool),
    ['vm_management'],
  );
  const metrics: string = await api('/metrics');
  assert.equal(shadowCount(metrics, 'denied'), 1, 'enforced refusals are not shadow decisions');
});
