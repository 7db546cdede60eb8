// Chaos: several 2026-07-28 agents make allowed and held calls without pause through a round-robin
// balancer over three `airlock serve` replicas on one Redis, while a chaos loop kills a random replica
// with SIGKILL and restarts it at random. A reviewer approves requests as they appear, through the API
// of a random live replica. Every call carries a unique id; the upstream (in this process, outliving every
// replica) counts executions by that id, so duplicates and lost calls are counted where they would happen.
// AIRLOCK_CHAOS_SECONDS sets how long the chaos lasts (default 60).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { decisionOf } from '../../src/gateway/tool-error.js';
import { keyspace } from '../../src/redis/keyspace.js';
import {
  startCountingUpstream,
  type CountingTool,
  type CountingUpstream,
} from '../helpers/counting-upstream.js';
import { ModernAgent, type ToolAnswer } from '../helpers/modern-agent.js';
import { freePort, freshPrefix, startRedis, type TestRedis } from '../helpers/redis.js';
import { startRoundRobin, type RoundRobin } from '../helpers/round-robin.js';
import { startServe, writeDeployment, type ServeProcess } from '../helpers/serve-process.js';

const SECONDS = Number(process.env.AIRLOCK_CHAOS_SECONDS ?? 60);
/** Concurrent agents making calls. */
const AGENTS = 4;
/**
 * After the storm, how long held calls get to resolve: a call whose replica died mid-run is reported
 * interrupted once the job's lock lapses and a surviving worker takes it back (about 20 s).
 */
const DRAIN_MS = 35_000;
const AGENT_TOKEN = 'ci-bot-token-0123456789abcdef';
const REVIEWER = 'alice-token-0123456789abcdef';
const prefix = freshPrefix('{chaos}');

let redis: TestRedis;
let upstream: CountingUpstream;
let lb: RoundRobin;
let configFor: (port: number) => string;
/** One slot per balancer backend: the live process on that port, or undefined while it is down. */
let ports: number[] = [];
const live = new Map<number, ServeProcess>();
const started: ServeProcess[] = [];
/** What each held call that ended in an error was told. */
const failures: string[] = [];
/** The longest time a held call took to resolve, in ms. */
let slowestHeldMs = 0;
/** Calls whose agent got a successful result: each must have run upstream exactly once. */
const okIds: [CountingTool, string][] = [];

const figures = {
  allowedOk: 0,
  allowedErrored: 0,
  heldExecuted: 0,
  heldFailedStored: 0,
  heldUnresolved: 0,
  retries: 0,
  pendingAnswers: 0,
  duplicates: 0,
  kills: 0,
  restarts: 0,
  approvals: 0,
  approvalErrors: 0,
};

before(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startCountingUpstream()]);
  const deployment = writeDeployment({
    redisUrl: redis.url,
    prefix,
    config: {
      servers: { ops: { url: upstream.url } },
      agents: [{ id: 'ci-bot', token: AGENT_TOKEN }],
      reviewers: [{ id: 'alice', token: REVIEWER }],
    },
    policies: {
      ops: {
        version: '1',
        default: 'deny',
        tools: {
          read_status: {},
          deploy: {
            action: 'require_approval',
            approval: { approvers: ['alice'], timeout: '10m', wait: '1s' },
          },
        },
      },
    },
  });
  configFor = deployment.configFor;
  ports = await Promise.all([0, 1, 2].map(() => freePort()));
  await Promise.all(ports.map((p) => restart(p)));
  lb = await startRoundRobin(ports.map((p) => `http://127.0.0.1:${p}`));
});

after(async () => {
  await lb?.stop();
  await Promise.allSettled([...live.values()].map((r) => r.stop()));
  await Promise.allSettled(started.map((r) => r.kill()));
  await upstream?.close();
  await redis?.stop();
});

async function restart(port: number): Promise<void> {
  const replica = await startServe(configFor, { port });
  started.push(replica);
  live.set(port, replica);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (lo: number, hi: number) => lo + Math.random() * (hi - lo);
const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(Math.random() * xs.length)];
const text = (r: CallToolResult | undefined) =>
  (r?.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

async function api(port: number, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${port}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${REVIEWER}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

/**
 * The chaos monkey: at random intervals, kills a random live replica with SIGKILL or starts a dead one
 * again on its port (in the background, so kills go on while it boots). At least one replica stays alive.
 */
async function chaos(until: number): Promise<void> {
  const starting = new Set<number>();
  const boots: Promise<void>[] = [];
  while (Date.now() < until) {
    await sleep(rand(1_000, 3_000));
    if (Date.now() >= until) break;
    const alive = [...live.keys()];
    const dead = ports.filter((p) => !live.has(p) && !starting.has(p));
    if (dead.length && (alive.length === 1 || Math.random() < 0.5)) {
      const port = pick(dead)!;
      starting.add(port);
      boots.push(
        restart(port).then(
          () => void (figures.restarts++, starting.delete(port)),
          () => void starting.delete(port),
        ),
      );
    } else if (alive.length > 1) {
      const port = pick(alive)!;
      const victim = live.get(port)!;
      live.delete(port);
      await victim.kill();
      figures.kills++;
    }
  }
  await Promise.all(boots);
}

/**
 * The reviewer: on every change Airlock publishes (and whenever an agent reports "pending"), lists the
 * pending requests on a random live replica and approves each, after a random pause, on another random
 * live replica. A failed list or approval (its replica just died) is simply tried again on the next round.
 */
function startReviewer(): { nudge: () => void; stop: () => Promise<void> } {
  const sub = new Redis(redis.url, { maxRetriesPerRequest: null });
  sub.on('error', () => {});
  let stopped = false;
  let running = false;
  let again = false;
  const inFlight = new Set<string>();
  const approve = async (id: string) => {
    await sleep(rand(0, 1_500));
    const port = pick([...live.keys()]);
    try {
      if (port === undefined) return;
      const r = await api(port, `/requests/${id}/approve`, {});
      if (r.status === 200) figures.approvals++;
    } catch {
      figures.approvalErrors++;
    } finally {
      inFlight.delete(id);
    }
  };
  const round = async () => {
    if (running) return void (again = true);
    running = true;
    try {
      do {
        again = false;
        const port = pick([...live.keys()]);
        if (port === undefined || stopped) break;
        const pending = await api(port, '/requests?status=pending&limit=200').catch(() => undefined);
        for (const r of pending?.json?.requests ?? []) {
          if (inFlight.has(r.id)) continue;
          inFlight.add(r.id);
          void approve(r.id);
        }
      } while (again && !stopped);
    } finally {
      running = false;
    }
  };
  void sub.subscribe(keyspace(prefix).approval.events).then(() => round());
  sub.on('message', () => void round());
  return {
    nudge: () => void round(),
    stop: async () => {
      stopped = true;
      sub.disconnect();
    },
  };
}

/** One identical tools/call; a network failure or a 5xx from the balancer is an error the client sees. */
async function attempt(agent: ModernAgent, tool: CountingTool, id: string): Promise<ToolAnswer | undefined> {
  try {
    const a = await agent.callTool(tool, { id });
    return a.status === 200 && a.result ? a : undefined;
  } catch {
    return undefined;
  }
}

/** An allowed call, made once: ok, or an error the client saw. */
async function allowedCall(agent: ModernAgent, id: string): Promise<void> {
  const a = await attempt(agent, 'read_status', id);
  if (a && !a.result?.isError) {
    assert.equal(text(a.result), `read_status ${id}: run 1`);
    okIds.push(['read_status', id]);
    figures.allowedOk++;
  } else figures.allowedErrored++;
}

/**
 * A held call, retried identically until it has an outcome: executed, or a clear error whose identical
 * retry answers the same stored result. Returns how it ended.
 */
async function heldCall(
  agent: ModernAgent,
  id: string,
  deadline: number,
  nudge: () => void,
): Promise<'executed' | 'failed-stored' | 'unresolved'> {
  let first = true;
  while (Date.now() < deadline) {
    if (!first) figures.retries++;
    first = false;
    const a = await attempt(agent, 'deploy', id);
    if (!a) {
      // The client's backoff after an error it saw (a reset from a killed replica, a 502).
      await sleep(100);
      continue;
    }
    const result = a.result!;
    const decision = decisionOf(result);
    if (decision?.status === 'pending') {
      figures.pendingAnswers++;
      nudge();
      continue;
    }
    if (!result.isError) {
      assert.equal(text(result), `deploy ${id}: run 1`);
      okIds.push(['deploy', id]);
      return 'executed';
    }
    // A clear error (an approved call interrupted by a kill): its identical retry gets the stored result.
    let again: ToolAnswer | undefined;
    while (!again && Date.now() < deadline) {
      figures.retries++;
      again = await attempt(agent, 'deploy', id);
    }
    if (!again) break;
    assert.equal(text(again.result), text(result), `the identical retry of ${id} answers the stored result`);
    failures.push(`${id} (ran upstream ${upstream.runs('deploy', id)}x): ${text(result)}`);
    return 'failed-stored';
  }
  return 'unresolved';
}

/** One agent: a stream of logical calls, each with a unique id, until `until`. */
async function agentLoop(n: number, until: number, deadline: number, nudge: () => void, held: string[]) {
  const agent = new ModernAgent(lb.url, AGENT_TOKEN, `chaos-agent-${n}`);
  let seq = 0;
  while (Date.now() < until) {
    const id = `a${n}-${++seq}`;
    if (Math.random() < 0.6) {
      await allowedCall(agent, id);
      continue;
    }
    held.push(id);
    const t0 = Date.now();
    const ended = await heldCall(agent, id, deadline, nudge);
    slowestHeldMs = Math.max(slowestHeldMs, Date.now() - t0);
    if (ended === 'executed') figures.heldExecuted++;
    else if (ended === 'failed-stored') figures.heldFailedStored++;
    else figures.heldUnresolved++;
  }
}

/** Every approval record of `deploy`, by the call's id. */
async function deployRecords(port: number): Promise<Map<string, any[]>> {
  const byId = new Map<string, any[]>();
  let cursor: string | undefined;
  do {
    const page = (
      await api(
        port,
        `/requests?tool=deploy&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
    ).json;
    for (const r of page.requests) byId.set(r.args.id, [...(byId.get(r.args.id) ?? []), r]);
    cursor = page.nextCursor;
  } while (cursor);
  return byId;
}

const TITLE = `chaos: ${SECONDS} s of calls while replicas are killed with SIGKILL and restarted`;
test(TITLE, { timeout: SECONDS * 1000 + DRAIN_MS + 25_000 }, async () => {
  const start = Date.now();
  const until = start + SECONDS * 1000;
  const deadline = until + DRAIN_MS;
  const reviewer = startReviewer();
  const held: string[] = [];
  const agents = Array.from({ length: AGENTS }, (_, n) =>
    agentLoop(n, until, deadline, reviewer.nudge, held),
  );
  await chaos(until);
  // The storm is over: bring every replica back so the remaining held calls can drain.
  await Promise.all(ports.filter((p) => !live.has(p)).map((p) => restart(p).then(() => figures.restarts++)));
  await Promise.all(agents);
  await reviewer.stop();

  for (const n of upstream.all().values()) if (n > 1) figures.duplicates += n - 1;
  const records = await deployRecords(pick([...live.keys()])!);
  const unapproved: string[] = [];
  for (const id of held) {
    const runs = upstream.runs('deploy', id);
    if (!runs) continue;
    const approvedRecords = (records.get(id) ?? []).filter((r) =>
      r.decisions.some((d: { decision: string }) => d.decision === 'approve'),
    );
    if (approvedRecords.length !== 1) unapproved.push(id);
  }
  console.log(
    `chaos figures (${SECONDS} s, ${AGENTS} agents, 3 replicas): ` +
      `allowed ok ${figures.allowedOk}, allowed errored (visible) ${figures.allowedErrored}, ` +
      `held ${held.length}: executed ${figures.heldExecuted}, failed with stored result ${figures.heldFailedStored}, ` +
      `unresolved ${figures.heldUnresolved}; retries ${figures.retries} (pending answers ${figures.pendingAnswers}), ` +
      `duplicates ${figures.duplicates}, kills ${figures.kills}, restarts ${figures.restarts}, ` +
      `approvals ${figures.approvals} (failed approve requests ${figures.approvalErrors}), ` +
      `balancer: refused connects ${lb.stats.refused}, 502 ${lb.stats.badGateway}, cut streams ${lb.stats.cut}, ` +
      `slowest held call ${(slowestHeldMs / 1000).toFixed(1)} s, elapsed ${Math.round((Date.now() - start) / 1000)} s`,
  );
  for (const f of failures) console.log(`held call ended in an error: ${f}`);
  assert.equal(figures.duplicates, 0, 'no call ran twice upstream');
  assert.equal(figures.heldUnresolved, 0, 'every held call ended executed, or with a stored result');
  assert.deepEqual(unapproved, [], 'every executed held call has exactly one approved record');
  const okNotRun = [...okIds].filter(([tool, id]) => upstream.runs(tool, id) !== 1);
  assert.deepEqual(okNotRun, [], 'every call answered with a result ran exactly once upstream');
  assert.ok(figures.kills > 0 && figures.heldExecuted > 0 && figures.allowedOk > 0, 'the chaos did happen');
});
