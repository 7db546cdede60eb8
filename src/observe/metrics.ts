import type { EventEmitter } from 'node:events';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CallOutcome } from '../gateway/gateway.js';
import type { ApprovalService } from '../approval/approval-service.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';

/** What the metrics read from. */
export interface MetricSources {
  outcomes: EventEmitter<{ outcome: [CallOutcome] }>;
  approvals: ApprovalService;
  upstreams: UpstreamPool;
  /** Number of pending requests across all replicas (read at scrape time). */
  pendingCount: () => Promise<number>;
  /** Audit write failures so far. */
  auditFailures?: () => number;
}

/** Prometheus metrics for one replica; `registry.metrics()` renders them for /metrics. */
export function createMetrics(s: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'airlock_' });

  const calls = new Counter({
    name: 'airlock_tool_calls_total',
    help: 'tools/call requests by outcome (allowed, denied, rate_limited, held, invalid, error)',
    labelNames: ['outcome', 'server'],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'airlock_rate_limit_hits_total',
    help: 'Calls refused by a rate limit, by counter',
    labelNames: ['counter'],
    registers: [registry],
  });
  const shadowed = new Counter({
    name: 'airlock_shadow_decisions_total',
    help: 'Calls shadow mode let run, by what enforcement would have done (denied, rate_limited, held)',
    labelNames: ['would'],
    registers: [registry],
  });
  const upstreamLatency = new Histogram({
    name: 'airlock_upstream_latency_seconds',
    help: 'Time of upstream tools/call (allowed calls and released approvals)',
    labelNames: ['server'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'airlock_approval_outcomes_total',
    help: 'Approval requests by final status (approved, rejected, expired, cancelled, executed, failed)',
    labelNames: ['status'],
    registers: [registry],
  });
  const timeToDecision = new Histogram({
    name: 'airlock_time_to_decision_seconds',
    help: 'From request to the final human decision',
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
    registers: [registry],
  });
  new Gauge({
    name: 'airlock_pending_requests',
    help: 'Approval requests waiting for a decision (all replicas)',
    registers: [registry],
    async collect() {
      this.set(await s.pendingCount().catch(() => NaN));
    },
  });
  new Gauge({
    name: 'airlock_upstream_up',
    help: '1 when the upstream server is connected',
    labelNames: ['server'],
    registers: [registry],
    collect() {
      for (const u of s.upstreams.list()) this.set({ server: u.name }, u.state === 'ready' ? 1 : 0);
    },
  });
  if (s.auditFailures) {
    const failures = s.auditFailures;
    new Gauge({
      name: 'airlock_audit_write_failures',
      help: 'Audit log write failures since start (each retried)',
      registers: [registry],
      collect() {
        this.set(failures());
      },
    });
  }

  s.outcomes.on('outcome', (o) => {
    // A held call is counted once, as `held`; how its approval ended is counted by the approval metrics.
    if (o.held) return;
    calls.inc({ outcome: o.outcome, server: o.server || 'unknown' });
    if (o.outcome === 'rate_limited' && o.counter) rateLimited.inc({ counter: o.counter });
    if (o.shadow) shadowed.inc({ would: o.shadow.would });
    // The upstream's own time: policy, limits and argument checks are Airlock's, not the upstream's.
    if (o.outcome === 'allowed' && o.upstreamMs !== undefined) {
      upstreamLatency.observe({ server: o.server }, o.upstreamMs / 1000);
    }
  });
  s.approvals.on('decided', (r) => {
    if (r.status === 'pending') return;
    decisions.inc({ status: r.status });
    timeToDecision.observe(((r.decidedAt ?? Date.now()) - r.createdAt) / 1000);
  });
  s.approvals.on('expired', () => decisions.inc({ status: 'expired' }));
  s.approvals.on('cancelled', () => decisions.inc({ status: 'cancelled' }));
  s.approvals.on('executed', (r) => {
    decisions.inc({ status: r.status });
    const e = r.execution;
    if (e?.finishedAt) upstreamLatency.observe({ server: r.server }, (e.finishedAt - e.startedAt) / 1000);
  });
  return registry;
}
