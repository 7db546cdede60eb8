// Section 3: release latency. A call held for approval is approved through the HTTP API; we time from
// just before POST /api/requests/:id/approve to the agent's callTool resolving, minus the upstream's
// own round trip (the echo called directly), which the release has to pay anyway.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { closeClients, connectClient, resultText } from './mcp-load.js';
import { startAirlockProcess, startEchoProcess } from './procs.js';
import { fmt, quantile, round, sleep, table, type Row } from './stats.js';

/** What section 3 reports. */
export interface ReleaseResult {
  requested: number;
  measured: number;
  /** True when the time budget stopped the run before `requested`. */
  truncated: boolean;
  upstreamP50Ms: number;
  /** Release latency (t1 − t0 − upstream p50). */
  p50Ms: number;
  p99Ms: number;
  /** t1 − t0 as measured, before subtracting the upstream time. */
  rawP50Ms: number;
  rawP99Ms: number;
  /** Round trip of the approve POST itself. */
  approveRttP50Ms: number;
  /** From the agent's call to the request showing in the pending list (not part of the release). */
  holdVisibleP50Ms: number;
  errors: number;
  targets: { p50AtMost15ms: boolean; p99AtMost50ms: boolean };
}

/** Options for {@link benchRelease}. */
export interface ReleaseOptions {
  redisUrl: string;
  /** Requests to approve. @defaultValue 1000 */
  n?: number;
  /** Stop early (but after at least `min`) when this much time has passed. @defaultValue 75000 */
  budgetMs?: number;
  /** @defaultValue 300 */
  min?: number;
}

async function pendingIdFor(base: string, message: string, deadline: number): Promise<string> {
  for (;;) {
    const res = await fetch(`${base}/api/requests?status=pending`);
    const body = (await res.json()) as { requests: { id: string; args: { message?: string } }[] };
    const hit = body.requests.find((r) => r.args?.message === message);
    if (hit) return hit.id;
    if (performance.now() > deadline) throw new Error(`release: request for ${message} never became pending`);
    await sleep(1);
  }
}

async function directP50(client: Client, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await client.callTool({ name: 'echo', arguments: { message: `d${i}` } });
    out.push(performance.now() - t0);
  }
  return out;
}

/** Runs section 3 and returns its figures and its printed table. */
export async function benchRelease(o: ReleaseOptions): Promise<{ result: ReleaseResult; text: string }> {
  const n = o.n ?? 1000;
  const budgetMs = o.budgetMs ?? 75_000;
  const min = o.min ?? 300;
  const echo = await startEchoProcess();
  const airlock = await startAirlockProcess({
    label: 'release',
    redisUrl: o.redisUrl,
    prefix: 'bench-release',
    servers: { echo: { url: echo.url } },
    policies: {
      echo: {
        version: '1',
        default: 'deny',
        tools: { echo: { action: 'require_approval', approval: { wait: '60s', timeout: '10m' } } },
      },
    },
  });
  const direct = await connectClient(echo.url);
  const agent = await connectClient(airlock.mcpUrl);
  const nonce = Math.random().toString(36).slice(2, 8);
  let errors = 0;
  const one = async (i: number) => {
    const message = `rel-${nonce}-${i}`;
    const tCall = performance.now();
    const call = agent.callTool({ name: 'echo', arguments: { message } }, undefined, { timeout: 120_000 });
    call.catch(() => {});
    const id = await pendingIdFor(airlock.url, message, performance.now() + 30_000);
    const visible = performance.now() - tCall;
    const t0 = performance.now();
    const approve = await fetch(`${airlock.url}/api/requests/${id}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const tApproved = performance.now();
    if (!approve.ok) throw new Error(`release: approve ${id} answered ${approve.status}: ${await approve.text()}`);
    await approve.arrayBuffer().catch(() => {});
    const result = await call;
    const t1 = performance.now();
    if (result.isError || resultText(result) !== message) errors++;
    return { raw: t1 - t0, approveRtt: tApproved - t0, visible };
  };
  try {
    const upstream = await directP50(direct, 250);
    for (let i = 0; i < 20; i++) await one(-1 - i); // warm-up, not counted
    const raw: number[] = [];
    const rtt: number[] = [];
    const visible: number[] = [];
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      if (i >= min && performance.now() - start > budgetMs) break;
      const r = await one(i);
      raw.push(r.raw);
      rtt.push(r.approveRtt);
      visible.push(r.visible);
    }
    upstream.push(...(await directP50(direct, 250)));
    const upstreamP50 = quantile(upstream.slice(50), 0.5);
    const released = raw.map((x) => x - upstreamP50);
    const result: ReleaseResult = {
      requested: n,
      measured: raw.length,
      truncated: raw.length < n,
      upstreamP50Ms: round(upstreamP50, 3),
      p50Ms: round(quantile(released, 0.5), 3),
      p99Ms: round(quantile(released, 0.99), 3),
      rawP50Ms: round(quantile(raw, 0.5), 3),
      rawP99Ms: round(quantile(raw, 0.99), 3),
      approveRttP50Ms: round(quantile(rtt, 0.5), 3),
      holdVisibleP50Ms: round(quantile(visible, 0.5), 3),
      errors,
      targets: { p50AtMost15ms: false, p99AtMost50ms: false },
    };
    result.targets = { p50AtMost15ms: result.p50Ms <= 15, p99AtMost50ms: result.p99Ms <= 50 };
    const rows: Row[] = [
      { label: 'requests approved', value: `${result.measured} of ${n}${result.truncated ? ' (time budget reached)' : ''}` },
      { label: 'upstream echo p50 (direct)', value: fmt(result.upstreamP50Ms, 3, 'ms') },
      { label: 'release p50', value: fmt(result.p50Ms, 2, 'ms'), target: '<= 15 ms', pass: result.targets.p50AtMost15ms },
      { label: 'release p99', value: fmt(result.p99Ms, 2, 'ms'), target: '<= 50 ms', pass: result.targets.p99AtMost50ms },
      { label: 'raw t1-t0 p50 / p99', value: `${fmt(result.rawP50Ms, 2)} / ${fmt(result.rawP99Ms, 2)} ms` },
      { label: 'approve POST round trip p50', value: fmt(result.approveRttP50Ms, 2, 'ms') },
      { label: 'call -> visible as pending p50', value: fmt(result.holdVisibleP50Ms, 2, 'ms') },
      { label: 'wrong or failed results', value: String(errors) },
    ];
    const notes = [
      'sequential: one held call at a time; release = t1 (callTool resolved) - t0 (just before POST approve) - upstream p50',
    ];
    if (result.truncated) notes.push(`stopped after ${result.measured} requests: the ${budgetMs / 1000}s time budget ran out`);
    return { result, text: table('3. Release latency (approve -> agent has the result)', rows, notes) };
  } finally {
    await closeClients([direct, agent]);
    await airlock.terminate();
    await echo.stop();
  }
}
