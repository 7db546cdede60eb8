// Chaos: agents of both eras — 2026-07-28 (stateless) ones and 2025 session clients (the SDK 1.x `Client`
// over Streamable HTTP) — make allowed and held calls without pause through a round-robin balancer over
// three `airlock serve` replicas on one Redis, while a chaos loop kills a random replica with SIGKILL and
// restarts it at random. A reviewer approves requests as they appear, through the API
// of a random live replica. Every call carries a unique id; the upstream (in this process, outliving every
// replica) counts executions by that id, so duplicates and lost calls are counted where they would happen.
// The figures are printed per era. AIRLOCK_CHAOS_SECONDS sets how long the chaos lasts (default 60).
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
import { ModernAgent, MODERN_VERSION } from '../helpers/modern-agent.js';
import { SessionAgent, SESSION_VERSION } from '../helpers/session-agent.js';
import { freePort, freshPrefix, startRedis, type TestRedis } from '../helpers/redis.js';
import { startRoundRobin, type RoundRobin } from '../helpers/round-robin.js';
import { startServe, writeDeployment, type ServeProcess } from '../helpers/serve-process.js';

const SECONDS = Number(process.env.AIRLOCK_CHAOS_SECONDS ?? 60);
/** Concurrent agents making calls, per era (as many in all as when every agent was a 2026-07-28 one). */
const AGENTS = { [MODERN_VERSION]: 2, [SESSION_VERSION]: 2 } as const;
type Era = keyof typeof AGENTS;
const ERAS = Object.keys(AGENTS) as Era[];
/** How often each replica runs the approval repair sweep: short, so what it repairs resolves in the drain. */
const SWEEP_INTERVAL_MS = 2_000;
/**
 * After the storm, how long held calls get to resolve: a call whose replica died mid-run is reported
 * interrupted once the job's lock lapses and a surviving worker takes it back (about 20 s), or by the
 * repair sweep when BullMQ gave the job up (its grace, 10 s, plus one interval).
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

/** What the agents of one era saw. */
const eraFigures = () => ({
  agents: 0,
  allowedOk: 0,
  allowedErrored: 0,
  held: 0,
  heldExecuted: 0,
  heldFailedStored: 0,
  heldUnresolved: 0,
  retries: 0,
  pendingAnswers: 0,
  /** Held requests withdrawn because the client gave up on a call (it then asked anew). */
  cancelledAnswers: 0,
  duplicates: 0,
});
const perEra: Record<Era, ReturnType<typeof eraFigures>> = {
  [MODERN_VERSION]: eraFigures(),
  [SESSION_VERSION]: eraFigures(),
};

const figures = {
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
      approvals: { sweepIntervalMs: SWEEP_INTERVAL_MS },
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

/** One agent of either era, making one identical tools/call at a time. */
interface ChaosAgent {
  era: Era;
  /** The result, or undefined for an error the client saw (a reset, a 502, a cut stream, a timeout). */
  call(tool: CountingTool, id: string): Promise<CallToolResult | undefined>;
  close(): Promise<void>;
}

function modernAgent(n: number): ChaosAgent {
  const agent = new ModernAgent(lb.url, AGENT_TOKEN, `chaos-modern-${n}`);
  return {
    era: MODERN_VERSION,
    call: async (tool, id) => {
      try {
        const a = await agent.callTool(tool, { id });
        return a.status === 200 && a.result ? a.result : undefined;
      } catch {
        return undefined;
      }
    },
    close: async () => {},
  };
}

function sessionAgent(n: number): ChaosAgent {
  const agent = new SessionAgent(lb.url, AGENT_TOKEN, `chaos-session-${n}`);
  return {
    era: SESSION_VERSION,
    call: (tool, id) => agent.callTool(tool, { id }).catch(() => undefined),
    close: () => agent.close(),
  };
}

/** An allowed call, made once: ok, or an error the client saw. */
async function allowedCall(agent: ChaosAgent, id: string): Promise<void> {
  const f = perEra[agent.era];
  const result = await agent.call('read_status', id);
  if (result && !result.isError) {
    assert.equal(text(result), `read_status ${id}: run 1`);
    okIds.push(['read_status', id]);
    f.allowedOk++;
  } else f.allowedErrored++;
}

/**
 * A held call, retried identically until it has an outcome: executed, or a clear error whose identical
 * retry answers the same stored result. Returns how it ended.
 */
async function heldCall(
  agent: ChaosAgent,
  id: string,
  deadline: number,
  nudge: () => void,
): Promise<'executed' | 'failed-stored' | 'unresolved'> {
  const f = perEra[agent.era];
  let first = true;
  while (Date.now() < deadline) {
    if (!first) f.retries++;
    first = false;
    const result = await agent.call('deploy', id);
    if (!result) {
      // The client's backoff after an error it saw (a reset from a killed replica, a 502).
      await sleep(100);
      continue;
    }
    const decision = decisionOf(result);
    if (decision?.status === 'pending') {
      f.pendingAnswers++;
      nudge();
      continue;
    }
    if (decision?.status === 'cancelled') {
      // A call the client gave up on (its timeout sends notifications/cancelled) withdrew its request; the
      // withdrawal ran nothing, and the identical call asks anew.
      f.cancelledAnswers++;
      continue;
    }
    if (!result.isError) {
      assert.equal(text(result), `deploy ${id}: run 1`);
      okIds.push(['deploy', id]);
      return 'executed';
    }
    // A clear error (an approved call interrupted by a kill): its identical retry gets the stored result.
    let again: CallToolResult | undefined;
    while (!again && Date.now() < deadline) {
      f.retries++;
      again = await agent.call('deploy', id);
    }
    if (!again) break;
    assert.equal(text(again), text(result), `the identical retry of ${id} answers the stored result`);
    failures.push(`${agent.era} ${id} (ran upstream ${upstream.runs('deploy', id)}x): ${text(result)}`);
    return 'failed-stored';
  }
  return 'unresolved';
}

/** One agent: a stream of logical calls, each with a unique id, until `until`. */
async function agentLoop(
  agent: ChaosAgent,
  tag: string,
  until: number,
  deadline: number,
  nudge: () => void,
  held: string[],
) {
  const f = perEra[agent.era];
  f.agents++;
  let seq = 0;
  while (Date.now() < until) {
    const id = `${tag}-${++seq}`;
    if (Math.random() < 0.6) {
      await allowedCall(agent, id);
      continue;
    }
    held.push(id);
    f.held++;
    const t0 = Date.now();
    const ended = await heldCall(agent, id, deadline, nudge);
    slowestHeldMs = Math.max(slowestHeldMs, Date.now() - t0);
    if (ended === 'executed') f.heldExecuted++;
    else if (ended === 'failed-stored') f.heldFailedStored++;
    else f.heldUnresolved++;
  }
  await agent.close();
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

/** What the repair sweeps of every replica process (killed ones included) logged that they did. */
function sweepRepairs(): { expired: number; released: number; interrupted: number } {
  const sum = { expired: 0, released: 0, interrupted: 0 };
  for (const replica of started) {
    for (const line of `${replica.stdout()}\n${replica.stderr()}`.split('\n')) {
      if (!line.includes('"approval repair sweep"')) continue;
      try {
        const entry = JSON.parse(line) as Partial<typeof sum>;
        sum.expired += entry.expired ?? 0;
        sum.released += entry.released ?? 0;
        sum.interrupted += entry.interrupted ?? 0;
      } catch {
        // A line cut by SIGKILL.
      }
    }
  }
  return sum;
}

const TITLE = `chaos: ${SECONDS} s of calls while replicas are killed with SIGKILL and restarted`;
test(TITLE, { timeout: SECONDS * 1000 + DRAIN_MS + 25_000 }, async () => {
  const start = Date.now();
  const until = start + SECONDS * 1000;
  const deadline = until + DRAIN_MS;
  const reviewer = startReviewer();
  const held: string[] = [];
  const agents = [
    ...Array.from({ length: AGENTS[MODERN_VERSION] }, (_, n) =>
      agentLoop(modernAgent(n), `m${n}`, until, deadline, reviewer.nudge, held),
    ),
    ...Array.from({ length: AGENTS[SESSION_VERSION] }, (_, n) =>
      agentLoop(sessionAgent(n), `s${n}`, until, deadline, reviewer.nudge, held),
    ),
  ];
  await chaos(until);
  // The storm is over: bring every replica back so the remaining held calls can drain.
  await Promise.all(ports.filter((p) => !live.has(p)).map((p) => restart(p).then(() => figures.restarts++)));
  await Promise.all(agents);
  await reviewer.stop();

  for (const [key, n] of upstream.all()) {
    if (n <= 1) continue;
    figures.duplicates += n - 1;
    // Keys end with the call's id, whose first letter names the era of the agent that made it.
    perEra[/(^|\W)s\d+-\d+$/.test(key) ? SESSION_VERSION : MODERN_VERSION].duplicates += n - 1;
  }
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
  const agentCount = ERAS.reduce((n, era) => n + AGENTS[era], 0);
  const swept = sweepRepairs();
  console.log(
    `chaos figures (${SECONDS} s, ${agentCount} agents, 3 replicas): ` +
      `duplicates ${figures.duplicates}, kills ${figures.kills}, restarts ${figures.restarts}, ` +
      `approvals ${figures.approvals} (failed approve requests ${figures.approvalErrors}), ` +
      `balancer: refused connects ${lb.stats.refused}, 502 ${lb.stats.badGateway}, cut streams ${lb.stats.cut}, ` +
      `repair sweep: expired ${swept.expired}, released ${swept.released}, interrupted ${swept.interrupted}, ` +
      `slowest held call ${(slowestHeldMs / 1000).toFixed(1)} s, elapsed ${Math.round((Date.now() - start) / 1000)} s`,
  );
  for (const era of ERAS) {
    const f = perEra[era];
    console.log(
      `  ${era} (${f.agents} agents): allowed ok ${f.allowedOk}, allowed errored (visible) ${f.allowedErrored}, ` +
        `held ${f.held}: executed ${f.heldExecuted}, failed with stored result ${f.heldFailedStored}, ` +
        `unresolved ${f.heldUnresolved}; retries ${f.retries} (pending answers ${f.pendingAnswers}, ` +
        `withdrawn by a client timeout ${f.cancelledAnswers}), duplicates ${f.duplicates}`,
    );
  }
  for (const f of failures) console.log(`held call ended in an error: ${f}`);
  assert.equal(figures.duplicates, 0, 'no call ran twice upstream');
  for (const era of ERAS) {
    const f = perEra[era];
    assert.equal(f.heldUnresolved, 0, `${era}: every held call ended executed, or with a stored result`);
    assert.ok(f.heldExecuted > 0 && f.allowedOk > 0, `${era}: its agents got calls through`);
  }
  assert.deepEqual(unapproved, [], 'every executed held call has exactly one approved record');
  const okNotRun = [...okIds].filter(([tool, id]) => upstream.runs(tool, id) !== 1);
  assert.deepEqual(okNotRun, [], 'every call answered with a result ran exactly once upstream');
  assert.ok(figures.kills > 0, 'the chaos did happen');
});
