import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { CallOutcome } from '../../src/gateway/gateway.js';
import type { ApprovalService } from '../../src/approval/approval-service.js';
import type { UpstreamPool } from '../../src/upstream/upstream-pool.js';
import { createMetrics } from '../../src/observe/metrics.js';

// The metrics only listen: an emitter stands in for the approval service, an empty list for the pool.
function metricsRig() {
  const outcomes = new EventEmitter<{ outcome: [CallOutcome] }>();
  const registry = createMetrics({
    outcomes,
    approvals: new EventEmitter() as unknown as ApprovalService,
    upstreams: { list: () => [] } as unknown as UpstreamPool,
    pendingCount: async () => 0,
  });
  return { outcomes, registry };
}

function allowed(extra: Partial<CallOutcome>): CallOutcome {
  return {
    requestId: 'req_1',
    agent: 'ci-bot',
    server: 'lab',
    tool: 'list_vms',
    rule: 'lab/list_vms',
    outcome: 'allowed',
    durationMs: 0,
    ...extra,
  };
}

test('the upstream latency histogram records the upstream call, not the whole tools/call', async () => {
  const { outcomes, registry } = metricsRig();
  // Most of this call's 4 s went to policy and limits; the upstream answered in 250 ms.
  outcomes.emit('outcome', allowed({ durationMs: 4000, upstreamMs: 250 }));
  const lines = (await registry.metrics()).split('\n');
  const series = (name: string) => lines.filter((l) => l.startsWith(name));
  assert.deepEqual(series('airlock_upstream_latency_seconds_sum'), [
    'airlock_upstream_latency_seconds_sum{server="lab"} 0.25',
  ]);
  assert.deepEqual(series('airlock_upstream_latency_seconds_bucket{le="0.25"'), [
    'airlock_upstream_latency_seconds_bucket{le="0.25",server="lab"} 1',
  ]);
  assert.deepEqual(series('airlock_tool_calls_total{'), [
    'airlock_tool_calls_total{outcome="allowed",server="lab"} 1',
  ]);
});
