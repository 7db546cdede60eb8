import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { runCli } from '../helpers/run-cli.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';

const ALICE = 'alice-token-0123456789abcdef';
const AGENT = 'agent-token-0123456789abcdef';

let redis: TestRedis;
let gw: TestAirlock;

before(async () => {
  redis = await startRedis();
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: { agents: [{ id: 'ci-bot', token: AGENT }], reviewers: [{ id: 'alice', token: ALICE }] },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          start_vm: {
            action: 'require_approval',
            approval: { approvers: ['alice'], wait: '30s', grants: { max: '1h', scopes: ['exact', 'tool'] } },
          },
        },
      },
    },
  });
});
after(async () => {
  await gw?.stop();
  await redis?.stop();
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
