import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { startServe, writeDeployment, type ServeProcess } from '../helpers/serve-process.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import { untilChanged } from '../helpers/changes.js';

const REVIEWER = 'alice-token-0123456789abcdef';
let redis: TestRedis;
let a: ServeProcess;
let b: ServeProcess;
let deployment: ReturnType<typeof writeDeployment>;
const prefix = freshPrefix('{e2e}');

const approval = (timeout: string, wait: string) => ({
  action: 'require_approval',
  approval: { approvers: ['alice'], timeout, wait },
});

before(async () => {
  redis = await startRedis();
  deployment = writeDeployment({
    redisUrl: redis.url,
    prefix,
    config: { reviewers: [{ id: 'alice', token: REVIEWER }] },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          health_checks: { limits: [{ counter: 'hc', window: 'minute', max: 5, scope: 'global' }] },
          start_vm: approval('2m', '30s'),
          stop_vm: approval('2m', '200ms'),
          vm_management: approval('3s', '200ms'),
        },
      },
    },
  });
  [a, b] = await Promise.all([startServe(deployment.configFor), startServe(deployment.configFor)]);
});

after(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await redis?.stop();
});

async function api(gw: ServeProcess, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gw.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${REVIEWER}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

/** Waits on the change channel every replica publishes to, re-checking `fn` after each change. */
const until = <T>(fn: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> =>
  untilChanged({ redisUrl: redis.url, prefix }, fn, what, ms);

const pendingFor = (gw: ServeProcess, tool: string) =>
  until(
    async () => (await api(gw, '/requests?status=pending')).json.requests.find((r: any) => r.tool === tool),
    `pending ${tool}`,
  );

test('two replicas share one rate-limit counter', async () => {
  const ca = await a.connect();
  const cb = await b.connect();
  const outcomes: boolean[] = [];
  for (let i = 0; i < 8; i++) {
    const c = i % 2 ? cb : ca;
    const r = (await c.callTool({
      name: 'health_checks',
      arguments: { vm_name: 'web-01' },
    })) as CallToolResult;
    outcomes.push(!r.isError);
  }
  assert.deepEqual(outcomes, [true, true, true, true, true, false, false, false]);
});

test('held on A, approved through B: the agent on A gets the result', async () => {
  const ca = await a.connect();
  const call = ca.callTool({ name: 'start_vm', arguments: { vm_name: 'kali-01' } });
  const req = await pendingFor(b, 'start_vm');
  assert.equal((await api(b, `/requests/${req.id}/approve`, {})).status, 200);
  const r = (await call) as CallToolResult;
  assert.notEqual(r.isError, true);
  assert.match(JSON.stringify(r.content), /kali-01/);
});

test('A killed with kill -9 while holding: approval through B runs the call once; the retry through B gets it', async () => {
  const victim = await startServe(deployment.configFor);
  const cv = await victim.connect();
  const args = { vm_name: 'web-01' };
  const first = (await cv.callTool({ name: 'stop_vm', arguments: args })) as CallToolResult;
  assert.equal(decisionOf(first)?.status, 'pending');
  const id = decisionOf(first)!.requestId;
  await victim.kill();
  assert.equal((await api(b, `/requests/${id}/approve`, {})).status, 200);
  const done = await until(async () => {
    const r = (await api(b, `/requests/${id}`)).json;
    return r.status === 'executed' || r.status === 'failed' ? r : undefined;
  }, 'execution');
  assert.equal(done.status, 'executed');
  const cb = await b.connect();
  const retry = (await cb.callTool({ name: 'stop_vm', arguments: args })) as CallToolResult;
  assert.notEqual(retry.isError, true, JSON.stringify(retry));
  assert.match(JSON.stringify(retry.content), /web-01/);
});

test('A killed with kill -9 while holding: the deadline still fires through B', async () => {
  const victim = await startServe(deployment.configFor);
  const cv = await victim.connect();
  const first = (await cv.callTool({
    name: 'vm_management',
    arguments: { vm_name: 'db-01', action: 'snapshot' },
  })) as CallToolResult;
  assert.equal(decisionOf(first)?.status, 'pending');
  const id = decisionOf(first)!.requestId;
  await victim.kill();
  const expired = await until(
    async () => {
      const r = (await api(b, `/requests/${id}`)).json;
      return r.status === 'expired' ? r : undefined;
    },
    'expiry',
    20_000,
  );
  assert.equal(expired.status, 'expired');
});
