import type { CompiledPolicy, Outcome } from './compiled-policy.js';
import { findEntry, possibleOutcomes } from './evaluate.js';
import type { TaskMode } from './types.js';

/**
 * The `execution.taskSupport` a tool shows in this agent's tools/list: `required` when every call
 * that can run must be a task; `optional` when some call may be one (a `task` key, or anything that
 * can be held for approval); undefined when none can. Arguments are unknown at list time, so every
 * outcome the agent could get counts; guards only deny, which changes nothing here.
 */
export function taskSupportOf(
  policy: CompiledPolicy | undefined,
  tool: string,
  agent: string,
): TaskMode | undefined {
  if (policy === undefined || policy.hidden(tool)) return undefined;
  const entry = findEntry(policy, tool);
  const outcomes: Outcome[] = entry === undefined ? [policy.defaultOutcome] : possibleOutcomes(entry, agent);
  const runnable = outcomes.filter((o) => o.action !== 'deny');
  if (runnable.length === 0) return undefined;
  if (runnable.every((o) => o.task === 'required')) return 'required';
  return runnable.some((o) => o.task !== undefined || o.action === 'require_approval')
    ? 'optional'
    : undefined;
}
