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
  /** Releases that took over a second (a lost wake-up: the held call only re-reads its record every 5 s). */
  stalledOver1s: number;
  stalledP50Ms: number;
  /** Release p50/p99 over the releases that took under a second. */
  fastP50Ms: number;
  fastP99Ms: number;
  workers: number;
  elapsedSeconds: number;
  errors: number;
  targets: { p50AtMost15ms: boolean; p99AtMost50ms: boolean };
}

/** Options for {@link benchRelease}. */
export interface ReleaseOptions {
  redisUrl: string;
  /** Requests to approve. @defaultValue 1000 */
  n?: number;
  /** Stop early (but after at least `min`) when this much time has passed. @defaultValue 90000 */
  budgetMs?: number;
  /** @defaultValue 300 */
  min?: number;
  /** Workers; only one runs a release at a time unless the others' calls are stalled. @defaultValue 16 */
  workers?: number;
}

/** A release slower than this is counted as stalled. */
const STALL_MS = 1000;

/** A worker whose call is still unanswered this long lets the next one start. */
const LOCK_HOLD_MS = 250;

/** One poller for the pending list, shared by all workers: resolves each awaited message to its request id. */
class PendingWatcher {
  private readonly wanted = new Map<string, (id: string) => void>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly base: string) {
    this.loop = this.run();
  }

  /** Resolves with the id of the pending request whose `args.message` is `message`. */
  idFor(message: string, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wanted.delete(message);
        reject(new Error(`release: request for ${message} never became pending`));
      }, timeoutMs);
      this.wanted.set(message, (id) => {
        clearTimeout(timer);
        resolve(id);
      });
    });
  }

  /** Stops polling. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.wanted.size === 0) {
        await sleep(1);
        continue;
      }
      try {
        const res = await fetch(`${this.base}/api/requests?status=pending`);
        const body = (await res.json()) as { requests: { id: string; args: { message?: string } }[] };
        for (const r of body.requests) {
          const fn = r.args?.message !== undefined ? this.wanted.get(r.args.message) : undefined;
          if (fn) {
            this.wanted.delete(r.args.message!);
            fn(r.id);
          }
        }
      } catch {
        // The gateway may be busy or restarting; try again.
      }
      await sleep(1);
    }
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
  const budgetMs = o.budgetMs ?? 90_000;
  const min = o.min ?? 300;
  const workers = o.workers ?? 16;
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
  const watcher = new PendingWatcher(airlock.url);
  let errors = 0;
  const one = async (i: number) => {
    const message = `rel-${nonce}-${i}`;
    const tCall = performance.now();
    const call = agent.callTool({ name: 'echo', arguments: { message } }, undefined, { timeout: 120_000 });
    call.catch(() => {});
    const id = await watcher.idFor(message);
    const visible = performance.now() - tCall;
    const t0 = performance.now();
    const approve = await fetch(`${airlock.url}/api/requests/${id}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const tApproved = performance.now();
    if (!approve.ok)
      throw new Error(`release: approve ${id} answered ${approve.status}: ${await approve.text()}`);
    await approve.arrayBuffer().catch(() => {});
    const result = await call;
    const t1 = performance.now();
    if (result.isError || resultText(result) !== message) errors++;
    return { raw: t1 - t0, approveRtt: tApproved - t0, visible };
  };
  try {
    const upstream = await directP50(direct, 250);
    // Warm-up, not counted: 12 held calls, 4 at a time.
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let k = 0; k < 3; k++) await one(-1 - w * 3 - k);
      }),
    );
    const raw: number[] = [];
    const rtt: number[] = [];
    const visible: number[] = [];
    const start = performance.now();
    let next = 0;
    // One release in progress at a time, so releases do not slow each other down; only a call still
    // unanswered after LOCK_HOLD_MS (stalled) lets the next worker start, so stalls overlap.
    let lock: Promise<void> = Promise.resolve();
    const worker = async () => {
      for (;;) {
        const previous = lock;
        let unlock!: () => void;
        lock = new Promise((r) => (unlock = r));
        await previous;
        if (next >= n || (next >= min && performance.now() - start > budgetMs)) {
          unlock();
          return;
        }
        const timer = setTimeout(unlock, LOCK_HOLD_MS);
        try {
          const r = await one(next++);
          raw.push(r.raw);
          rtt.push(r.approveRtt);
          visible.push(r.visible);
        } finally {
          clearTimeout(timer);
          unlock();
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
    const elapsedS = (performance.now() - start) / 1000;
    upstream.push(...(await directP50(direct, 250)));
    const upstreamP50 = quantile(upstream.slice(50), 0.5);
    const released = raw.map((x) => x - upstreamP50);
    const fast = released.filter((x) => x < STALL_MS);
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
      stalledOver1s: released.length - fast.length,
      stalledP50Ms: round(
        quantile(
          released.filter((x) => x >= STALL_MS),
          0.5,
        ),
        0,
      ),
      fastP50Ms: round(quantile(fast, 0.5), 3),
      fastP99Ms: round(quantile(fast, 0.99), 3),
      workers,
      elapsedSeconds: round(elapsedS, 1),
      errors,
      targets: { p50AtMost15ms: false, p99AtMost50ms: false },
    };
    result.targets = { p50AtMost15ms: result.p50Ms <= 15, p99AtMost50ms: result.p99Ms <= 50 };
    const rows: Row[] = [
      {
        label: 'requests approved',
        value: `${result.measured} of ${n}${result.truncated ? ' (time budget reached)' : ''}`,
      },
      { label: 'upstream echo p50 (direct)', value: fmt(result.upstreamP50Ms, 3, 'ms') },
      {
        label: 'release p50',
        value: fmt(result.p50Ms, 2, 'ms'),
        target: '<= 15 ms',
        pass: result.targets.p50AtMost15ms,
      },
      {
        label: 'release p99',
        value: fmt(result.p99Ms, 2, 'ms'),
        target: '<= 50 ms',
        pass: result.targets.p99AtMost50ms,
      },
      { label: 'raw t1-t0 p50 / p99', value: `${fmt(result.rawP50Ms, 2)} / ${fmt(result.rawP99Ms, 2)} ms` },
      { label: 'approve POST round trip p50', value: fmt(result.approveRttP50Ms, 2, 'ms') },
      { label: 'call -> visible as pending p50', value: fmt(result.holdVisibleP50Ms, 2, 'ms') },
      {
        label: 'releases taking > 1 s',
        value: `${result.stalledOver1s} of ${result.measured} (${fmt((100 * result.stalledOver1s) / Math.max(1, result.measured), 1)}%)${result.stalledOver1s ? `, median ${fmt(result.stalledP50Ms, 0)} ms` : ''}`,
      },
      {
        label: 'release p50 / p99 without those',
        value: `${fmt(result.fastP50Ms, 2)} / ${fmt(result.fastP99Ms, 2)} ms`,
      },
      { label: 'wrong or failed results', value: String(errors) },
    ];
    const notes = [
      'release = t1 (callTool resolved) - t0 (just before POST approve) - upstream p50 (echo called directly)',
      `one call held and released at a time; a call unanswered after ${LOCK_HOLD_MS} ms lets the next start (${workers} workers, ${fmt(elapsedS, 1)} s)`,
    ];
    if (result.truncated)
      notes.push(`stopped after ${result.measured} requests: the ${budgetMs / 1000}s time budget ran out`);
    return { result, text: table('3. Release latency (approve -> agent has the result)', rows, notes) };
  } finally {
    await watcher.stop();
    await closeClients([direct, agent]);
    await airlock.terminate();
    await echo.stop();
  }
}
