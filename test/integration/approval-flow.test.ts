import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import { untilChanged, untilFile } from '../helpers/changes.js';

const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdefgh';
const CAROL = 'carol-token-0123456789abcdef';
const AGENT = 'agent-token-0123456789abcdef';

let redis: TestRedis;
let gw: TestAirlock;

const approval = (extra: Record<string, unknown> = {}) => ({
  action: 'require_approval',
  approval: { approvers: ['alice', 'bob', 'carol'], timeout: '1m', wait: '20s', ...extra },
});

before(async () => {
  redis = await startRedis();
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: {
      agents: [{ id: 'ci-bot', token: AGENT, owner: 'carol' }],
      reviewers: [
        { id: 'alice', token: ALICE, slack: 'UALICE01' },
        { id: 'bob', token: BOB },
        { id: 'carol', token: CAROL },
      ],
    },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          start_vm: approval(),
          stop_vm: approval({ min_approvals: 2 }),
          vm_management: approval({ timeout: '1s', wait: '1s' }),
          capture_network_traffic: approval({ wait: '300ms' }),
          get_vm_console_ticket: {
            action: 'require_approval',
            approval: { approvers: ['alice'], wait: '20s' },
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

async function api(path: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gw.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

/** Waits until a pending request for the tool shows up (the agent's call is being held). */
function pendingFor(tool: string): Promise<any> {
  return untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () =>
      (await api('/requests?status=pending', ALICE)).json.requests.find((x: any) => x.tool === tool),
    `a pending request for ${tool}`,
  );
}

/** Waits until the request's status satisfies `done`, woken by Airlock's own change channel. */
function recordWhen(id: string, done: (status: string) => boolean): Promise<any> {
  return untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () => {
      const r = (await api(`/requests/${id}`, ALICE)).json;
      return done(r.status) ? r : undefined;
    },
    `request ${id}`,
  );
}

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

test('approve releases the held call with the upstream result of the stored arguments', async () => {
  const agent = await gw.connect({ token: AGENT });
  const progress: string[] = [];
  const call = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'kali-01' } }, undefined, {
    onprogress: (p) => progress.push(String(p.message)),
  });
  const req = await pendingFor('start_vm');
  assert.equal(req.agent, 'ci-bot');
  assert.deepEqual(req.args, { vm_name: 'kali-01' });
  assert.match(req.argsHash, /^[0-9a-f]{64}$/);
  const res = await api(`/requests/${req.id}/approve`, ALICE, { comment: 'go' });
  assert.equal(res.status, 200);
  const result = (await call) as CallToolResult;
  assert.notEqual(result.isError, true);
  assert.match(text(result), /kali-01/);
  assert.match(progress[0] ?? '', /waiting for approval .*request ar_.*expires in/);
  const after = await api(`/requests/${req.id}`, ALICE);
  assert.equal(after.json.status, 'executed');
  assert.equal(after.json.decisions[0].by, 'alice');
  assert.equal(after.json.decisions[0].via, 'api');
  assert.ok(after.json.execution.finishedAt >= after.json.execution.startedAt);
  const again = await api(`/requests/${req.id}/approve`, BOB, {});
  assert.equal(again.status, 409);
  assert.match(again.json.error.message, /Already decided by alice/);
});

test('reject gives the agent the reviewer and reason; the call never runs', async () => {
  const agent = await gw.connect({ token: AGENT });
  const call = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'dc-01' } });
  const req = await pendingFor('start_vm');
  const noReason = await api(`/requests/${req.id}/reject`, BOB, {});
  assert.equal(noReason.status, 400);
  await api(`/requests/${req.id}/reject`, BOB, { reason: 'Not during the change freeze' });
  const r = (await call) as CallToolResult;
  assert.equal(r.isError, true);
  assert.match(text(r), /Rejected by bob: Not during the change freeze\./);
  const d = decisionOf(r)!;
  assert.equal(d.status, 'rejected');
  assert.equal(d.reviewer, 'bob');
  assert.equal(d.reason, 'Not during the change freeze');
  assert.equal(d.requestId, req.id);
});

test('no decision before the timeout: the agent gets "expired"', async () => {
  const agent = await gw.connect({ token: AGENT });
  const r = (await agent.callTool({
    name: 'vm_management',
    arguments: { vm_name: 'web-01', action: 'snapshot' },
  })) as CallToolResult;
  assert.equal(r.isError, true);
  assert.equal(decisionOf(r)?.status, 'expired');
  assert.match(text(r), /expired: no reviewer decided within 1s/);
});

test('still pending after wait: "pending" answer; the identical retry re-attaches and gets the result once', async () => {
  const agent = await gw.connect({ token: AGENT });
  const args = { vm_name: 'web-01', interface: 'eth0', duration: 120 };
  const first = (await agent.callTool({
    name: 'capture_network_traffic',
    arguments: args,
  })) as CallToolResult;
  assert.equal(decisionOf(first)?.status, 'pending');
  assert.match(
    text(first),
    /^Approval pending \(request ar_.+\)\. Call again with the same arguments to get the result; it will run at most once\.$/,
  );
  const id = decisionOf(first)!.requestId;
  const retry = (await agent.callTool({
    name: 'capture_network_traffic',
    arguments: { ...args },
  })) as CallToolResult;
  assert.equal(decisionOf(retry)?.requestId, id, 'same request, no second one');
  const pending = await api('/requests?status=pending', ALICE);
  assert.equal(pending.json.requests.filter((r: any) => r.tool === 'capture_network_traffic').length, 1);
  await api(`/requests/${id}/approve`, ALICE, {});
  // The agent is gone (no call open); the approved call runs anyway and the retry reads its result.
  const done = await recordWhen(id, (s) => s === 'executed' || s === 'failed');
  assert.equal(done.status, 'executed');
  const got = (await agent.callTool({ name: 'capture_network_traffic', arguments: args })) as CallToolResult;
  assert.notEqual(got.isError, true, text(got));
  assert.match(text(got), /capture|packets/i);
  const gotAgain = (await agent.callTool({
    name: 'capture_network_traffic',
    arguments: args,
  })) as CallToolResult;
  assert.deepEqual(gotAgain, got, 'the stored result, not a second run');
});

test('quorum: two distinct approvers; the same person twice counts once; one reject rejects', async () => {
  const agent = await gw.connect({ token: AGENT });
  const call = agent.callTool({ name: 'stop_vm', arguments: { vm_name: 'web-01' } });
  const req = await pendingFor('stop_vm');
  assert.equal((await api(`/requests/${req.id}/approve`, ALICE, {})).status, 200);
  const dup = await api(`/requests/${req.id}/approve`, ALICE, {});
  assert.equal(dup.status, 409, 'alice again does not count twice');
  assert.equal((await api(`/requests/${req.id}`, ALICE)).json.status, 'pending');
  assert.equal((await api(`/requests/${req.id}/approve`, BOB, {})).status, 200);
  assert.match(text(await call), /web-01/);

  const call2 = agent.callTool({ name: 'stop_vm', arguments: { vm_name: 'db-01' } });
  const req2 = await pendingFor('stop_vm');
  await api(`/requests/${req2.id}/approve`, ALICE, {});
  await api(`/requests/${req2.id}/reject`, BOB, { reason: 'db is busy' });
  assert.equal(decisionOf((await call2) as CallToolResult)?.status, 'rejected');
});

test("self-approval by the agent's owner and non-approvers are refused; nothing is decided", async () => {
  const agent = await gw.connect({ token: AGENT });
  const call = agent.callTool({ name: 'get_vm_console_ticket', arguments: { vm_name: 'web-01' } });
  const req = await pendingFor('get_vm_console_ticket');
  const notApprover = await api(`/requests/${req.id}/approve`, BOB, {});
  assert.equal(notApprover.status, 403);
  assert.equal(notApprover.json.error.code, 'NOT_AN_APPROVER');
  assert.equal((await api(`/requests/${req.id}`, ALICE)).json.status, 'pending');
  await api(`/requests/${req.id}/approve`, ALICE, {});
  await call;

  const call2 = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'web-01' } });
  const req2 = await pendingFor('start_vm');
  const self = await api(`/requests/${req2.id}/approve`, CAROL, {});
  assert.equal(self.status, 403);
  assert.equal(self.json.error.code, 'SELF_APPROVAL');
  await api(`/requests/${req2.id}/reject`, CAROL, { reason: 'owner may still reject' });
  assert.equal(decisionOf((await call2) as CallToolResult)?.status, 'rejected');
});

test('50 concurrent approve/reject clicks on one request: exactly one decision, the call runs once', async () => {
  const agent = await gw.connect({ token: AGENT });
  const call = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'db-01', concurrent: true } });
  const req = await pendingFor('start_vm');
  const tokens = [ALICE, BOB];
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      i % 2
        ? api(`/requests/${req.id}/approve`, tokens[i % 2]!, {})
        : api(`/requests/${req.id}/reject`, tokens[i % 2]!, { reason: `click ${i}` }),
    ),
  );
  const ok = results.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, `exactly one decision, got ${results.map((r) => r.status).join(',')}`);
  assert.ok(results.filter((r) => r.status !== 200).every((r) => r.status === 409));
  const final = (await api(`/requests/${req.id}`, ALICE)).json;
  assert.equal(final.decisions.length, 1);
  const r = (await call) as CallToolResult;
  assert.equal(r.isError === true, final.status === 'rejected');
});

test('cancellation by the agent before a decision cancels the request', async () => {
  const agent = await gw.connect({ token: AGENT });
  const controller = new AbortController();
  const call = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'web-01', cancel: 1 } }, undefined, {
    signal: controller.signal,
  });
  const req = await pendingFor('start_vm');
  controller.abort('no longer needed');
  await assert.rejects(call);
  const { status } = await recordWhen(req.id, (s) => s !== 'pending');
  assert.equal(status, 'cancelled');
  const late = await api(`/requests/${req.id}/approve`, ALICE, {});
  assert.equal(late.status, 409);
});

test('reviewer API needs a reviewer token', async () => {
  const none = await fetch(`${gw.url}/api/requests`);
  assert.equal(none.status, 401);
  const agentToken = await api('/requests', AGENT);
  assert.equal(agentToken.status, 401, 'agent tokens are not reviewer tokens');
  const missing = await api('/requests/ar_doesnotexist000000000', ALICE);
  assert.equal(missing.status, 404);
});

test('every decision is in the hash-chained audit log, and /metrics counts outcomes', async () => {
  const { verifyAuditFile } = await import('../../src/audit/index.js');
  const { readFileSync } = await import('node:fs');
  const file = gw.airlock.config.audit.file!;
  const expected = [
    'airlock.started',
    'request.created',
    'decision',
    'decision.refused',
    'request.expired',
    'request.cancelled',
    'execution.started',
    'execution.finished',
  ];
  // Audit lines are appended after the events that cause them; wait on the file until all are there.
  const events = await untilFile(
    file,
    () => {
      const names = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).event as string);
      return expected.every((e) => names.includes(e)) ? names : undefined;
    },
    `audit lines ${expected.join(', ')}`,
  );
  for (const e of expected) assert.ok(events.includes(e), `audit has ${e}`);
  const verdict = await verifyAuditFile(file);
  assert.equal(verdict.ok, true, JSON.stringify(verdict));
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /airlock_tool_calls_total\{outcome="held",server="lab"\} \d+/);
  // Rejected, expired and pending answers are approval outcomes, not failed calls.
  assert.doesNotMatch(metrics, /airlock_tool_calls_total\{outcome="error",server="lab"\}/);
  assert.match(metrics, /airlock_approval_outcomes_total\{status="rejected"\} \d+/);
  assert.match(metrics, /airlock_pending_requests \d+/);
  assert.match(metrics, /airlock_time_to_decision_seconds_bucket/);
});
