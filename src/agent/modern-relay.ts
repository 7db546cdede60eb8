// The MRTR relay for the requests other than tools/call that the 2026-07-28 revision lets a server answer
// with `input_required`: prompts/get and resources/read. They pass no policy (they are not tool calls), so
// the relay is only the sealed round trip: the upstream's questions out with Airlock's `requestState`,
// the agent's answers back in with the upstream's own state, checked against the request first.
import type { Params, RelayOptions } from './agent-methods.js';
import { openRetry, relayInputRequired } from './modern-input.js';
import type { RequestStates, StateBinding } from './request-state.js';
import { isJsonObject } from './wire/envelope.js';

/** Sends the request upstream with the params and options the relay decided. */
export type RelaySend = (params: Params, options: RelayOptions) => Promise<Record<string, unknown>>;

/**
 * Runs a prompts/get or resources/read of a 2026-07-28 agent. Without `states` (no relay configured) the
 * upstream's questions go to the SDK's handlers as before, which refuse them for a stateless request.
 */
export async function relayRequest(
  states: RequestStates | undefined,
  binding: StateBinding,
  params: Params,
  capabilities: Record<string, unknown>,
  send: RelaySend,
): Promise<Record<string, unknown>> {
  if (!states) return send(params, {});
  const { inputResponses: _answers, requestState: _state, ...rest } = params;
  const retry = await openRetry(states, params, binding);
  const result = await send(
    { ...rest, ...retry?.resume },
    { allowInputRequired: true, clientCapabilities: capabilities },
  );
  if (result['resultType'] !== 'input_required') return result;
  return relayInputRequired(states, binding, result, capabilities);
}

/** The binding of a prompts/get: the prompt on its server and its arguments. */
export function promptBinding(agent: string, server: string, params: Params): StateBinding {
  const args = params['arguments'];
  return {
    agent,
    server,
    method: 'prompts/get',
    tool: String(params['name']),
    args: isJsonObject(args) ? args : {},
  };
}

/** The binding of a resources/read: the URI names the upstream, so it is the whole target. */
export function resourceBinding(agent: string, params: Params): StateBinding {
  return { agent, server: '', method: 'resources/read', tool: String(params['uri']), args: {} };
}
