import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { decisionOf } from '../../src/gateway/tool-error.js';

const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdefgh';
const AGENT = 'agent-token-0123456789abcdef';
const OTHER_AGENT = 'other-agent-token-0123456789';
const SECRETS = [ALICE, BOB, AGENT, OTHER_AGENT];

let redis: TestRedis;
let gw: TestAirlock;
let client: Redis;
/** Every response body this file received, to prove no token ever appears in one. */
const bodies: string[] = [];

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  gw = await startTestAirlock({
    redisUrl: redis.url,
    config: {
      agents: [
        { id: 'ci-bot', token: AGENT },
        { id: 'claude', token: OTHER_AGENT },
      ],
      reviewers: [
        { id: 'alice', token: ALICE },
        { id: 'bob', token: BOB },
      ],
    },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          list_vms: {},
          health_checks: { limits: [{ counter: 'hc', window: 'minute', max: 1, scope: 'global' }] },
          delete_vm: { action: 'deny', reason: 'Deleting is done by people, not agents' },
          start_vm: {
            action: 'require_approval',
            approval: { approvers: ['alice'], timeout: '1m', wait: '20s' },
          },
        },
      },
    },
  });
});
after(async () => {
  await gw?.stop();
  client?.disconnect();
  await redis?.stop();
});

async function api(
  path: string,
  init: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
) {
  const token = init.token === undefined ? ALICE : init.token;
  const res = await fetch(`${gw.url}/api${path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      'content-type': 'application/json',
      ...init.headers,
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  bodies.push(text, JSON.stringify([...res.headers]));
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

interface SseEvent {
  event: string;
  data: any;
}

/** A Server-Sent Events client: resolves once the server says the subscription is live. */
async function openEvents(token = ALICE) {
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/api/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  let connected!: () => void;
  const ready = new Promise<void>((r) => (connected = r));
  void (async () => {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let at: number;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) {
            comments.push(line.slice(1).trim());
            if (line.includes('connected')) connected();
          } else if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) {
          bodies.push(data);
          events.push({ event, data: JSON.parse(data) });
          for (const w of waiters) w();
        }
      }
    }
  })().catch(() => {});
  await ready;
  return {
    events,
    comments,
    /** Resolves with the first event (seen or future) that satisfies `pred`. */
    waitFor(pred: (e: SseEvent) => boolean, what = 'event'): Promise<SseEvent> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const e = events.find(pred);
          if (!e) return;
          waiters.delete(check);
          clearTimeout(guard);
          resolve(e);
        };
        // A guard against a hang, not a wait: the event normally arrives within milliseconds.
        const guard = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${what} within 15 s; got ${JSON.stringify(events)}`));
        }, 15_000);
        waiters.add(check);
        check();
      });
    },
    close: () => ac.abort(),
  };
}

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

let directIds: Record<string, string> = {};

test('direct decisions are recorded and queryable by status, tool, agent, server and time', async () => {
  const sse = await openEvents();
  const started = Date.now();
  const ci = await gw.connect({ token: AGENT });
  const claude = await gw.connect({ token: OTHER_AGENT });
  const listed = (await ci.callTool({
    name: 'list_vms',
    arguments: { token: 'argument-secret-123' },
  })) as CallToolResult;
  assert.notEqual(listed.isError, true, text(listed));
  const denied = (await ci.callTool({
    name: 'delete_vm',
    arguments: { vm_name: 'web-01' },
  })) as CallToolResult;
  await claude.callTool({ name: 'health_checks', arguments: { vm_name: 'web-01' } });
  const limited = (await claude.callTool({
    name: 'health_checks',
    arguments: { vm_name: 'web-01' },
  })) as CallToolResult;
  const unknown = (await ci.callTool({ name: 'no_such_tool', arguments: {} })) as CallToolResult;
  assert.equal(decisionOf(limited)?.status, 'rate_limited');
  directIds = {
    denied: decisionOf(denied)!.requestId,
    rate_limited: decisionOf(limited)!.requestId,
    unknown: decisionOf(unknown)!.requestId,
  };
  for (const id of Object.values(directIds)) await sse.waitFor((e) => e.data.id === id, `event for ${id}`);
  await sse.waitFor(
    (e) => e.data.status === 'allowed' && sse.events.filter((x) => x.data.status === 'allowed').length >= 2,
    'two allowed',
  );
  sse.close();

  const allowed = await api('/requests?status=allowed');
  assert.equal(allowed.status, 200);
  assert.deepEqual(allowed.json.requests.map((r: any) => r.tool).sort(), ['health_checks', 'list_vms']);
  const list = allowed.json.requests.find((r: any) => r.tool === 'list_vms');
  assert.equal(list.kind, 'direct');
  assert.equal(list.agent, 'ci-bot');
  assert.equal(list.server, 'lab');
  assert.equal(list.rule, 'lab/list_vms');
  assert.deepEqual(list.args, { token: '[REDACTED]' });
  assert.match(list.argsHash, /^[0-9a-f]{64}$/);
  assert.deepEqual(list.decisions, []);
  assert.ok(list.responseMs >= 0);
  assert.equal(list.execution.isError, false);
  assert.ok(
    list.execution.finishedAt >= list.execution.startedAt && list.execution.startedAt >= list.createdAt,
  );
  assert.equal('version' in list, false);

  const refusals = await api('/requests?status=denied,rate_limited');
  assert.deepEqual(refusals.json.requests.map((r: any) => r.id).sort(), Object.values(directIds).sort());
  const d = (await api(`/requests/${directIds.denied}`)).json;
  assert.deepEqual(
    [d.status, d.code, d.reason, d.tool],
    ['denied', 'POLICY_DENIED', 'Deleting is done by people, not agents', 'delete_vm'],
  );
  const u = (await api(`/requests/${directIds.unknown}`)).json;
  assert.deepEqual([u.status, u.code, u.server, u.tool], ['denied', 'UNKNOWN_TOOL', '', 'no_such_tool']);
  const rl = (await api(`/requests/${directIds.rate_limited}`)).json;
  assert.deepEqual([rl.counter, typeof rl.retryAfter], ['hc', 'number']);

  assert.deepEqual(
    (await api('/requests?tool=delete_vm')).json.requests.map((r: any) => r.id),
    [directIds.denied],
  );
  assert.equal((await api('/requests?agent=claude')).json.requests.length, 2);
  assert.equal(
    (await api('/requests?agent=claude&status=allowed&tool=health_checks')).json.requests.length,
    1,
  );
  assert.equal((await api('/requests?server=lab')).json.requests.length, 4);
  assert.equal((await api('/requests?server=lab&agent=ci-bot')).json.requests.length, 2);
  const iso = new Date(started - 1000).toISOString();
  assert.equal((await api(`/requests?since=${iso}`)).json.requests.length, 5);
  assert.equal((await api(`/requests?until=${started - 1000}`)).json.requests.length, 0);
  assert.equal(
    (await api(`/requests?since=${started - 1000}&until=${Date.now() + 1000}&status=allowed`)).json.requests
      .length,
    2,
  );

  // Newest first, and the cursor walks the rest without repeats.
  const first = await api('/requests?limit=2');
  assert.equal(first.json.requests.length, 2);
  assert.ok(first.json.nextCursor);
  assert.ok(first.json.requests[0].createdAt >= first.json.requests[1].createdAt);
  const rest = await api(`/requests?limit=10&cursor=${encodeURIComponent(first.json.nextCursor)}`);
  assert.equal(rest.json.requests.length, 3);
  assert.equal(rest.json.nextCursor, undefined);
  const ids = [...first.json.requests, ...rest.json.requests].map((r: any) => r.id);
  assert.equal(new Set(ids).size, 5);

  const approve = await api(`/requests/${directIds.denied}/approve`, { body: {} });
  assert.equal(approve.status, 409);
  assert.equal(approve.json.error.code, 'ALREADY_DECIDED');
  assert.match(approve.json.error.message, /decided by policy \(denied\)/);
});

test('SSE: each change of an approval request is pushed as `event: request` with {id, status}', async () => {
  const sse = await openEvents(BOB);
  const agent = await gw.connect({ token: AGENT });
  const call = agent.callTool({ name: 'start_vm', arguments: { vm_name: 'kali-01' } });
  const created = await sse.waitFor((e) => e.event === 'request' && e.data.status === 'pending', 'pending');
  const id = created.data.id as string;
  assert.deepEqual(Object.keys(created.data).sort(), ['id', 'status']);
  const pending = await api('/requests?status=pending&tool=start_vm');
  assert.deepEqual(
    pending.json.requests.map((r: any) => r.id),
    [id],
  );
  assert.equal(pending.json.requests[0].kind, 'approval');
  assert.equal((await api(`/requests/${id}/approve`, { body: { comment: 'ok' } })).status, 200);
  await sse.waitFor((e) => e.data.id === id && e.data.status === 'approved', 'approved');
  await sse.waitFor((e) => e.data.id === id && e.data.status === 'executed', 'executed');
  assert.match(text(await call), /kali-01/);
  sse.close();
  const done = (await api(`/requests/${id}`)).json;
  assert.equal(done.status, 'executed');
  assert.equal(done.responseMs, done.decidedAt - done.createdAt);
  assert.deepEqual(
    (await api('/requests?status=executed&tool=start_vm')).json.requests.map((r: any) => r.id),
    [id],
  );
  assert.equal((await api('/requests?status=pending')).json.requests.length, 0);
});

test('invalid filters are 400 with code BAD_REQUEST, the parameter and a clear message', async () => {
  const cases: [string, string, RegExp][] = [
    ['status=bogus', 'status', /unknown status "bogus"; use one or more of pending, approved/],
    ['status=pending,nope', 'status', /unknown status "nope"/],
    ['limit=0', 'limit', /limit must be a whole number from 1 to 500/],
    ['limit=501', 'limit', /from 1 to 500/],
    ['limit=ten', 'limit', /whole number/],
    ['limit=1&limit=2', 'limit', /given once/],
    ['since=yesterday', 'since', /epoch milliseconds or an ISO-8601/],
    ['until=2025-13-45T99:00:00Z', 'until', /ISO-8601/],
    ['since=2025-01-01T10:00:00', 'since', /with a zone/],
    ['since=2025-02-01&until=2025-01-01', 'since', /since is after until/],
    ['cursor=not-a-cursor', 'cursor', /cursor is not valid/],
    [`cursor=${Buffer.from('{"a":1}').toString('base64url')}`, 'cursor', /cursor is not valid/],
    ['tool=a&tool=b', 'tool', /given once/],
    ['stauts=pending', 'stauts', /unknown query parameter "stauts"/],
    [`agent=${'a'.repeat(10_000)}`, 'agent', /longer than 256/],
  ];
  for (const [query, field, message] of cases) {
    const r = await api(`/requests?${query}`);
    assert.equal(r.status, 400, query);
    assert.equal(r.json.error.code, 'BAD_REQUEST', query);
    assert.equal(r.json.error.field, field, query);
    assert.match(r.json.error.message, message, query);
    assert.ok(r.text.length < 1000, 'a long value is not echoed back');
  }
  const exp = await api('/requests/export?format=xml');
  assert.equal(exp.status, 400);
  assert.equal(exp.json.error.field, 'format');
});

test('hostile filter values are compared literally: no error, no match, no key created', async () => {
  const hostile = [
    '*',
    '?',
    "'; DROP TABLE requests; --",
    `{${gw.prefix}}`,
    `${gw.prefix}:h:all`,
    '{prefix}',
    'line1\nline2\r\n',
    '\u0000',
    '../../etc/passwd',
    '%2A',
    'lab/*',
    'x'.repeat(256),
    '\ud800',
  ];
  const before = await client.dbsize();
  for (const value of hostile) {
    for (const name of ['tool', 'agent', 'server']) {
      const q = new URLSearchParams({ [name]: value });
      const r = await api(`/requests?${q}`);
      assert.equal(r.status, 200, `${name}=${JSON.stringify(value)}: ${r.text}`);
      assert.deepEqual(r.json.requests, [], `${name}=${JSON.stringify(value)}`);
      const withStatus = await api(`/requests?${q}&status=allowed,denied`);
      assert.deepEqual(withStatus.json.requests, []);
      const exp = await api(`/requests/export?format=csv&${q}`);
      assert.equal(exp.status, 200);
      assert.equal(exp.text.split('\r\n').length, 2, 'header only');
    }
    const byId = await api(`/requests/${encodeURIComponent(value.replace(/\p{Surrogate}/gu, '?'))}`);
    assert.equal(byId.status, 404);
  }
  assert.equal(await client.dbsize(), before, 'queries wrote nothing');
  // The gateway still answers normally afterwards.
  assert.equal((await api('/requests?tool=list_vms')).json.requests.length, 1);
});

test('every route needs a reviewer token (agent tokens are not reviewer tokens); no token ever appears in a response', async () => {
  const routes: [string, unknown?][] = [
    ['/requests'],
    ['/requests?status=pending'],
    ['/requests/export?format=csv'],
    [`/requests/${directIds.denied}`],
    [`/requests/${directIds.denied}/approve`, {}],
    [`/requests/${directIds.denied}/reject`, { reason: 'x' }],
    ['/policies'],
    ['/policies/explain', { server: 'lab', tool: 'start_vm' }],
    ['/events'],
    ['/openapi.json'],
    ['/no-such-route'],
  ];
  for (const [path, body] of routes) {
    for (const token of [null, AGENT, 'not-a-real-token-0123456789']) {
      const r = await api(path, { token, ...(body === undefined ? {} : { body }) });
      assert.equal(r.status, 401, `${path} with ${token ? 'a wrong' : 'no'} token`);
      assert.equal(r.json.error.code, 'UNAUTHORIZED');
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="airlock"');
    }
  }
  const missing = await api('/no-such-route');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'NOT_FOUND');
  for (const body of bodies)
    for (const secret of SECRETS) assert.equal(body.includes(secret), false, 'token leaked');
  assert.ok(bodies.length > 50);
});

test('GET /api/policies lists the loaded files; POST /api/policies/explain names the deciding rule', async () => {
  const list = await api('/policies');
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.json.policies.map((p: any) => p.server),
    ['lab'],
  );
  assert.match(list.json.policies[0].sha256, /^[0-9a-f]{64}$/);
  assert.equal(list.json.policies[0].policy.tools.delete_vm.action, 'deny');
  const explain = await api('/policies/explain', {
    body: { server: 'lab', tool: 'start_vm', args: { vm_name: 'x' }, agent: 'ci-bot' },
  });
  assert.equal(explain.status, 200);
  assert.equal(explain.json.decision.action, 'require_approval');
  assert.equal(explain.json.decision.rule, 'lab/start_vm');
  assert.equal(explain.json.matchedBy, 'exact');
  const dflt = await api('/policies/explain', { body: { server: 'lab', tool: 'stop_vm' } });
  assert.equal(dflt.json.decision.action, 'deny');
  assert.equal(dflt.json.agent, 'anonymous');
  const bad = await api('/policies/explain', { body: { server: 'lab' } });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /tool/);
  const extra = await api('/policies/explain', { body: { server: 'lab', tool: 't', shell: 'rm -rf /' } });
  assert.equal(extra.status, 400);
});
