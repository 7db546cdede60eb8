// A 2026-07-28 (stateless) agent against three real `airlock serve` processes on one Redis, behind a
// per-request round-robin balancer with no affinity: consecutive requests land on different replicas.
// The upstream is an HTTP MCP server in this process that counts every execution, so "ran exactly once"
// is counted where it happens, not inferred from Airlock's own records.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { APPROVAL_QUEUE } from '../../src/approval/approval-jobs.js';
import { ApprovalStore } from '../../src/approval/approval-store.js';
import { RecordTransitions } from '../../src/approval/record-transitions.js';
import { applyDecision } from '../../src/core/approval/state-machine.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import { untilChanged } from '../helpers/changes.js';
import { startCountingUpstream, type CountingUpstream } from '../helpers/counting-upstream.js';
import { startFakeSlack, type FakeSlack, type SlackCall } from '../helpers/fake-slack.js';
import { ModernAgent, MODERN_VERSION } from '../helpers/modern-agent.js';
import { startRedis, freshPrefix, type TestRedis } from '../helpers/redis.js';
import { startRoundRobin, type RoundRobin } from '../helpers/round-robin.js';
import { startServe, writeDeployment, type ServeProcess } from '../helpers/serve-process.js';
import { blockActionPayload, postInteraction } from '../helpers/slack-signing.js';

const AGENT = 'ci-bot-token-0123456789abcdef';
const REVIEWER = 'alice-token-0123456789abcdef';
const SECRET = 'slack-signing-secret-for-tests';
const prefix = freshPrefix('{e2e-modern}');

let redis: TestRedis;
let upstream: CountingUpstream;
let fake: FakeSlack;
let replicas: ServeProcess[] = [];
let lb: RoundRobin;
let agent: ModernAgent;
let configFor: (port: number) => string;
const sdkClients: Client[] = [];

before(async () => {
  [redis, upstream, fake] = await Promise.all([startRedis(), startCountingUpstream(), startFakeSlack()]);
  fake.users.set('U0ALICE', 'Alice Liddell');
  const deployment = writeDeployment({
    redisUrl: redis.url,
    prefix,
    config: {
      servers: { ops: { url: upstream.url } },
      agents: [{ id: 'ci-bot', token: AGENT }],
      reviewers: [{ id: 'alice', token: REVIEWER, slack: 'U0ALICE' }],
      slack: { botToken: 'xoxb-unset', signingSecret: SECRET, channel: 'C0APPROVALS', apiUrl: fake.apiUrl },
    },
    policies: {
      ops: {
        version: '1',
        default: 'deny',
        tools: {
          read_status: {},
          wipe: { action: 'deny', reason: 'Disks are erased by people, not agents' },
          // A short wait: the long poll answers "pending" quickly and the identical retry re-attaches.
          deploy: {
            action: 'require_approval',
            approval: { approvers: ['alice'], timeout: '2m', wait: '1s' },
          },
        },
      },
    },
  });
  // Each replica posts to Slack with its own bot token, so the fake tells which replica posted a message.
  configFor = (port: number) => {
    const file = deployment.configFor(port);
    const config = JSON.parse(readFileSync(file, 'utf8'));
    config.slack.botToken = botTokenOf(port);
    writeFileSync(file, JSON.stringify(config));
    return file;
  };
  replicas = await Promise.all([0, 1, 2].map(() => startServe(configFor)));
  lb = await startRoundRobin(replicas.map((r) => r.url));
  agent = new ModernAgent(lb.url, AGENT);
});

after(async () => {
  await Promise.allSettled(sdkClients.map((c) => c.close()));
  await lb?.stop();
  await Promise.allSettled(replicas.map((r) => r.stop()));
  await Promise.allSettled([upstream?.close(), fake?.stop()]);
  await redis?.stop();
});

const botTokenOf = (port: number) => `xoxb-replica-${port}`;
const replicaOf = (url: string | undefined) => replicas.find((r) => r.url === url);

async function api(gw: ServeProcess, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gw.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${REVIEWER}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

/** Waits on the change channel every replica publishes to until the request is executed or failed. */
function finished(gw: ServeProcess, id: string, timeoutMs?: number): Promise<any> {
  return untilChanged(
    { redisUrl: redis.url, prefix },
    async () => {
      const r = (await api(gw, `/requests/${id}`)).json;
      return r.status === 'executed' || r.status === 'failed' ? r : undefined;
    },
    `request ${id} to finish`,
    timeoutMs,
  );
}

const text = (r: CallToolResult | undefined) =>
  (r?.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** A replica other than the ones named. */
const otherThan = (...urls: (string | undefined)[]) => replicas.find((r) => !urls.includes(r.url))!;

test('server/discover and tools/list through the balancer, each request on the next replica', async () => {
  const discover = await agent.request('server/discover');
  const list = await agent.request('tools/list');
  const again = await agent.request('tools/list');
  assert.equal(new Set([discover.backend, list.backend, again.backend]).size, 3, 'three replicas served');
  assert.equal(discover.status, 200);
  const d = discover.body.result;
  assert.ok(d.supportedVersions.includes(MODERN_VERSION));
  assert.equal(d._meta['io.modelcontextprotocol/serverInfo'].name, 'airlock');
  assert.equal(d.resultType, 'complete');
  const names = (r: any) => r.body.result.tools.map((t: { name: string }) => t.name).sort();
  assert.deepEqual(names(list), ['deploy', 'read_status'], 'wipe is denied outright, so not listed');
  assert.deepEqual(names(again), names(list), 'every replica shows the same policy view');
  assert.equal(list.body.result.resultType, 'complete');
});

test('the SDK v2 client pinned to 2026-07-28 works through the balancer', async () => {
  const client = new Client(
    { name: 'sdk-agent', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: MODERN_VERSION } } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${AGENT}` } },
    }),
  );
  sdkClients.push(client);
  assert.equal(client.getNegotiatedProtocolVersion(), MODERN_VERSION);
  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  assert.deepEqual(tools, ['deploy', 'read_status']);
  for (const id of ['sdk-1', 'sdk-2', 'sdk-3']) {
    const r = (await client.callTool({ name: 'read_status', arguments: { id } })) as CallToolResult;
    assert.equal(text(r), `read_status ${id}: run 1`);
  }
});

test('allowed and denied calls: the upstream result unchanged, a refusal with its decision', async () => {
  const ok = await agent.callTool('read_status', { id: 'allowed-1' });
  assert.equal(ok.status, 200);
  assert.equal(ok.result?.isError, undefined);
  assert.equal(text(ok.result), 'read_status allowed-1: run 1');
  assert.equal(ok.result?.resultType, 'complete');
  assert.equal(decisionOf(ok.result!), undefined, 'allowed results carry no Airlock meta');

  const denied = await agent.callTool('wipe', { id: 'denied-1' });
  assert.equal(denied.result?.isError, true);
  assert.equal(text(denied.result), 'Denied by policy (ops/wipe): Disks are erased by people, not agents.');
  const d = decisionOf(denied.result!)!;
  assert.equal(d.status, 'denied');
  assert.equal(d.rule, 'ops/wipe');
  assert.match(d.requestId, /^ar_/);
  assert.equal(upstream.runs('wipe', 'denied-1'), 0, 'a denied call never reaches the upstream');
});

test('held: pending after the wait, approved on another replica, the identical retry elsewhere gets the one result', async () => {
  const args = { id: 'held-api-1' };
  // A progressToken makes the answer an SSE stream, relayed by the balancer event by event.
  const first = await agent.callTool('deploy', args, { progressToken: 'p-1' });
  const pending = decisionOf(first.result!);
  assert.equal(pending?.status, 'pending', JSON.stringify(first.body));
  assert.match(
    text(first.result),
    /^Approval pending \(request ar_.+\)\. Call again with the same arguments/,
  );
  assert.match(
    String(first.notifications[0]?.params?.message),
    /waiting for approval .*request ar_.*expires in/,
    'progress streamed through the balancer',
  );
  const id = pending!.requestId;
  assert.equal(upstream.runs('deploy', args.id), 0, 'not run before an approval');

  const reviewerReplica = otherThan(first.backend);
  const approved = await api(reviewerReplica, `/requests/${id}/approve`, { comment: 'ship it' });
  assert.equal(approved.status, 200, JSON.stringify(approved.json));
  const done = await finished(reviewerReplica, id);
  assert.equal(done.status, 'executed');
  assert.equal(upstream.runs('deploy', args.id), 1);

  const retry = await agent.callTool('deploy', { ...args });
  assert.notEqual(retry.backend, first.backend, 'the retry landed on another replica');
  assert.notEqual(retry.result?.isError, true, text(retry.result));
  assert.equal(text(retry.result), 'deploy held-api-1: run 1');
  const third = await agent.callTool('deploy', { ...args });
  assert.ok(![first.backend, retry.backend].includes(third.backend), 'and the third on the third replica');
  assert.equal(text(third.result), 'deploy held-api-1: run 1', 'every replica answers the stored result');
  assert.equal(upstream.runs('deploy', args.id), 1, 'executed exactly once');

  const record = (await api(replicas[0]!, `/requests/${id}`)).json;
  assert.equal(record.decisions.length, 1);
  assert.equal(record.decisions[0].decision, 'approve');
  assert.equal(record.decisions[0].by, 'alice');
});

test('held: posted to Slack by one replica, approved by a signed click on another', async () => {
  const args = { id: 'held-slack-1' };
  const first = await agent.callTool('deploy', args);
  const id = decisionOf(first.result!)!.requestId;
  assert.equal(decisionOf(first.result!)?.status, 'pending');
  const post: SlackCall = await fake.waitFor(
    'chat.postMessage',
    (c) => c.params.thread_ts === undefined && JSON.stringify(c.params.blocks).includes(id),
  );
  const poster = replicas.find((r) => botTokenOf(Number(new URL(r.url).port)) === post.token);
  assert.ok(poster, `the message was posted by a replica (token ${post.token})`);

  const clicked = otherThan(poster.url);
  const click = await postInteraction(
    clicked.url,
    SECRET,
    blockActionPayload({
      user: { id: 'U0ALICE' },
      actionId: 'airlock_approve',
      value: id,
      channel: String(post.response?.channel),
      messageTs: String(post.response?.ts),
    }),
  );
  assert.equal(click.status, 200);
  const done = await finished(clicked, id);
  assert.equal(done.status, 'executed');
  assert.equal(done.decisions[0].via, 'slack');
  assert.equal(done.decisions[0].by, 'alice');

  const retry = await agent.callTool('deploy', { ...args });
  assert.notEqual(retry.backend, first.backend);
  assert.equal(text(retry.result), 'deploy held-slack-1: run 1');
  assert.equal(upstream.runs('deploy', args.id), 1, 'executed exactly once');
  // Whichever replica's worker updates it, the message ends showing the run.
  await fake.until(() => {
    const m = fake.message(String(post.response?.channel), String(post.response?.ts));
    return m && JSON.stringify(m.blocks).includes('Ran in') ? m : undefined;
  });
  assert.ok(replicaOf(retry.backend), 'the retry was served by one of the replicas');
});

// A replica can die between the two writes of an approval (the record, then the release of its job) or of a
// new request (the record, then its deadline job). The state it leaves is written here with Airlock's own
// store, exactly as the first write would have left it; the agent's identical retry, on any replica,
// finishes the second write.
test('an approval whose replica died before releasing the call: the identical retry releases it', async () => {
  const args = { id: 'half-approved-1' };
  const first = await agent.callTool('deploy', args);
  const id = decisionOf(first.result!)!.requestId;
  const conn = new Redis(redis.url);
  try {
    const transitions = new RecordTransitions(new ApprovalStore(conn, prefix));
    const vote = { by: 'alice', via: 'api' as const, at: Date.now(), decision: 'approve' as const };
    const reviewers = [{ id: 'alice', slack: 'U0ALICE' }];
    const written = await transitions.apply(id, (r) =>
      applyDecision(r, vote, { reviewers, groupMembers: {}, openAccess: false, now: Date.now() }),
    );
    assert.equal(written.kind, 'written');
    assert.equal(upstream.runs('deploy', args.id), 0, 'approved, but its release never happened');
    // The deadline is two minutes away; the retry's one-second wait ends with the result, not "pending".
    const retry = await agent.callTool('deploy', { ...args });
    assert.notEqual(decisionOf(retry.result!)?.status, 'pending', text(retry.result));
    assert.equal(text(retry.result), 'deploy half-approved-1: run 1');
    assert.equal(upstream.runs('deploy', args.id), 1, 'executed exactly once');
  } finally {
    conn.disconnect();
  }
});

test('a request whose replica died before adding its deadline: the identical retry adds it', async () => {
  const args = { id: 'no-deadline-1' };
  const first = await agent.callTool('deploy', args);
  const id = decisionOf(first.result!)!.requestId;
  const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(APPROVAL_QUEUE, { connection: conn, prefix });
  try {
    await (await queue.getJob(id))!.remove();
    assert.equal(await queue.getJob(id), undefined, 'the request has no deadline job');
    const retry = await agent.callTool('deploy', { ...args });
    assert.equal(decisionOf(retry.result!)?.status, 'pending');
    assert.equal(decisionOf(retry.result!)?.requestId, id, 'the retry attached to the same request');
    const job = await queue.getJob(id);
    assert.ok(job, 'the deadline job is back');
    assert.equal(await job.getState(), 'delayed');
    const record = (await api(replicas[0]!, `/requests/${id}`)).json;
    assert.ok(Math.abs(job.timestamp + job.delay - record.expiresAt) < 1_000, 'due at the request deadline');
  } finally {
    await queue.close();
    conn.disconnect();
  }
});

test('every replica killed with SIGKILL while an approved call runs: reported interrupted, never run again', async () => {
  const args = { id: 'interrupted-1' };
  const gate = upstream.gate('deploy', args.id);
  const first = await agent.callTool('deploy', args);
  const id = decisionOf(first.result!)!.requestId;
  assert.equal((await api(replicas[1]!, `/requests/${id}/approve`, {})).status, 200);
  await gate.reached;
  // Whichever replica's worker is running it, none survives.
  await Promise.all(replicas.map((r) => r.kill()));
  replicas = await Promise.all(
    replicas.map((r) => startServe(configFor, { port: Number(new URL(r.url).port) })),
  );
  const done = await finished(replicas[0]!, id, 60_000);
  assert.equal(done.status, 'failed');
  assert.match(done.execution.summary, /^Interrupted/);
  const retry = await agent.callTool('deploy', { ...args });
  assert.equal(retry.result?.isError, true);
  assert.equal(
    text(retry.result),
    `Approved call ${id} was interrupted before it finished; it was not retried.`,
  );
  gate.open();
  assert.equal(upstream.runs('deploy', args.id), 1, 'started once upstream, and not run again');
});
