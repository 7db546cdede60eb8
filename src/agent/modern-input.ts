// The synchronous MRTR relay between a 2026-07-28 agent and a 2026-07-28 upstream: the upstream's
// `input_required` answer goes out with Airlock's sealed `requestState` (request-state.ts), and the agent's
// retry comes back in with its `inputResponses`, checked against that state before the upstream sees it.
import type { TaskResume } from '../gateway/task-calls.js';
import type { PendingRef, RequestStates, StateBinding } from './request-state.js';
import type { Params } from './agent-methods.js';
import { isJsonObject } from './wire/envelope.js';
import { invalidParams, missingRequiredClientCapability } from './wire/errors.js';
import { INPUT_CAPABILITY } from '../upstream/input-rounds.js';

/** The client capability each server→client request needs (one table, kept with the answer shapes). */
export { INPUT_CAPABILITY };

/** The call a `requestState` is bound to: the agent, the exposed tool and its arguments. */
export function bindingOf(agent: string, server: string, params: Params): StateBinding {
  const args = params['arguments'];
  return { agent, server, tool: params['name'] as string, args: isJsonObject(args) ? args : {} };
}

/** An agent's retry as its sealed state tells it: the upstream's part, or the parked call it answers. */
export interface OpenedRetry {
  /** The answers and the upstream's own state, for a 2026-07-28 upstream. */
  resume: TaskResume;
  /** The legacy upstream's call parked on some replica that the answers are for (pending-input.ts). */
  pending?: PendingRef;
}

/**
 * The upstream part of an agent's retry, or undefined for a first call. A `requestState` that Airlock did
 * not seal for this very call (altered, expired, another agent, tool or arguments) is -32602.
 */
export async function retryOf(
  states: RequestStates,
  params: Params,
  binding: StateBinding | undefined,
): Promise<TaskResume | undefined> {
  return (await openRetry(states, params, binding))?.resume;
}

/** The retry as a whole (see retryOf), including the parked call it answers, if any. */
export async function openRetry(
  states: RequestStates,
  params: Params,
  binding: StateBinding | undefined,
): Promise<OpenedRetry | undefined> {
  const method = binding?.method ?? 'tools/call';
  const state = params['requestState'];
  const responses = params['inputResponses'];
  if (state === undefined && responses === undefined) return undefined;
  if (responses !== undefined && !isJsonObject(responses)) {
    throw invalidParams(`${method} inputResponses must be an object`);
  }
  if (typeof state !== 'string')
    throw invalidParams(`${method} inputResponses need the requestState they answer`);
  // An unknown tool has nothing to resume; the call itself answers that.
  if (!binding) return undefined;
  const opened = await states.open(state, binding);
  if (!opened.ok) throw invalidParams(opened.reason);
  const resume = {
    ...(responses !== undefined && { inputResponses: responses }),
    ...(opened.upstreamState !== undefined && { requestState: opened.upstreamState }),
  };
  return { resume, ...(opened.pending && { pending: opened.pending }) };
}

/**
 * The agent's `input_required` answer for the upstream's: the same questions, Airlock's sealed state.
 * A question needing a capability the request did not declare is the client's -32021 to fix.
 */
export async function relayInputRequired(
  states: RequestStates,
  binding: StateBinding,
  result: Record<string, unknown>,
  capabilities: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const inputRequests = isJsonObject(result['inputRequests']) ? result['inputRequests'] : {};
  for (const request of Object.values(inputRequests)) {
    const method = isJsonObject(request) ? request['method'] : undefined;
    const needed = typeof method === 'string' ? INPUT_CAPABILITY[method] : undefined;
    if (needed && !isJsonObject(capabilities[needed])) {
      throw missingRequiredClientCapability({ [needed]: {} });
    }
  }
  const up = typeof result['requestState'] === 'string' ? result['requestState'] : undefined;
  return {
    resultType: 'input_required',
    inputRequests,
    requestState: await states.seal(binding, up),
  };
}
