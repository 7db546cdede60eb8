import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { finishExecution, startExecution } from '../core/approval/state-machine.js';
import type { StoredRecord } from './approval-store.js';
import type { TransitionPlan } from './record-transitions.js';
import { errorResult } from './outcome.js';
import { withEditedMeta } from '../gateway/tool-error.js';

/**
 * Ends a call whose run was cut off: the record says `executing`, but the gateway that claimed it died
 * (or lost its job), so whether the upstream ran is unknown. It is never run again; the error is kept as
 * the call's result, so the agent's identical retry hears the same sentence. Undefined for any other status.
 */
export function interruptedPlan(r: StoredRecord, now: number): TransitionPlan {
  if (r.status !== 'executing') return undefined;
  const result = withEditedMeta(
    errorResult(`Approved call ${r.id} was interrupted before it finished; it was not retried.`),
    r,
  );
  const summary = 'Interrupted: the gateway running this call stopped before it finished; not retried.';
  const t = finishExecution(r, now, { isError: true, summary });
  return t.ok ? { ...t, result } : t;
}

/**
 * Ends an approved call that was never started because every job that could start it was lost (the
 * gateways that took it died before the claim, and so did the one re-enqueued release). The call did not
 * run and will not: the record goes to `failed` in one write, with the error kept for the identical retry.
 */
export function notStartedPlan(r: StoredRecord, now: number): TransitionPlan {
  if (r.status !== 'approved') return undefined;
  const started = startExecution(r, now);
  if (!started.ok) return started;
  const result: CallToolResult = withEditedMeta(
    errorResult(
      `Approved call ${r.id} could not be started: the gateways that took it stopped first; it was not run.`,
    ),
    r,
  );
  const summary = 'Interrupted: every gateway that took this call stopped before starting it; not run.';
  const t = finishExecution(started.record, now, { isError: true, summary });
  return t.ok ? { ...t, result } : t;
}
