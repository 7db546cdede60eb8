// A grant across two real `airlock serve` processes on one Redis: made through replica A, used at once
// by replica B, and revoked through A, after which B's very next matching call is held again. Grants are
// read from Redis on every call (no replica caches one), so a revocation holds everywhere at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import { untilChanged } from '../helpers/changes.js';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { startServe, writeDeployment, type ServeProcess } from '../helpers/serve-process.js';

const REVIEWER = 'alice-token-0123456789abcdef';
let redis: TestRedis;
let a: ServeProcess;
let b: ServeProcess;
const prefix = freshPrefix('{e2e-grants}');

before(async () => {
  redis = await startRedis();
  const deployment = writeDeployment({
    redisUrl: redis.url,
    prefix,
    config: { reviewers: [{ id: 'alice', token: REVIEWER }] },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          // A short wait: a held call answers "pending" at once instead of blocking the test.
          health_checks: {
            action: 'require_approval',
            approval: {
              approvers: ['alice'],
              timeout: '2m',
              wait: '200ms',
              grants: { max: '1h', scopes: ['exact', 'tool'] },
            },
          },
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

async function api(gw: ServeProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(`${gw.url}/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${REVIEWER}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as any };
}

test('a grant made on A lets B run the call at once; revoked on A, B holds the next call', async () => {
  const ca = await a.connect();
  const cb = await b.connect();

  const first = (await ca.callTool({
    name: 'health_checks',
    arguments: { vm_name: 'web-01' },
  })) as CallToolResult;
  assert.equal(decisionOf(first)?.status, 'pending');
  const id = decisionOf(first)!.requestId;
  const approved = await api(a, 'POST', `/requests/${id}/approve`, { grant: { for: '1h', scope: 'tool' } });
  assert.equal(approved.status, 200, JSON.stringify(approved.json));
  const grantId = approved.json.grant.id as string;
  assert.match(grantId, /^gr_/);
  const listedOnB = (await api(b, 'GET', '/grants?tool=health_checks')).json.grants;
  assert.deepEqual(
    listedOnB.map((g: { id: string }) => g.id),
    [grantId],
  );

  const granted = (await cb.callTool({
    name: 'health_checks',
    arguments: { vm_name: 'db-01' },
  })) as CallToolResult;
  assert.equal(decisionOf(granted), undefined, JSON.stringify(granted));
  assert.notEqual(granted.isError, true, JSON.stringify(granted));
  assert.match(JSON.stringify(granted.content), /db-01/);
  const used = await untilChanged(
    { redisUrl: redis.url, prefix },
    async () => {
      const page = (await api(a, 'GET', '/requests?status=allowed&tool=health_checks')).json;
      return page.requests.find((r: { grant?: string }) => r.grant === grantId);
    },
    `B's granted call in history with grant ${grantId}`,
  );
  assert.equal(used.status, 'allowed');

  const revoked = await api(a, 'DELETE', `/grants/${grantId}`, {});
  assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
  assert.deepEqual((await api(b, 'GET', '/grants')).json.grants, []);

  // No waiting at all: the first call B gets after the revocation answered is held.
  const after = (await cb.callTool({
    name: 'health_checks',
    arguments: { vm_name: 'kali-01' },
  })) as CallToolResult;
  assert.equal(decisionOf(after)?.status, 'pending', JSON.stringify(after));
  const heldId = decisionOf(after)!.requestId;
  assert.equal((await api(a, 'GET', `/requests/${heldId}`)).json.status, 'pending');
  assert.equal((await api(b, 'DELETE', `/grants/${grantId}`, {})).status, 404);
});
