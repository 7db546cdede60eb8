// An approved call's questions for the agent's held long poll: the approval worker (on any replica) parks
// the call when its tool asks the agent something and stores the questions with a reference to the parked
// call; the agent's waiting request (on any replica) answers them as `input_required`, with a state sealed
// to route the agent's retry to the parked call (src/agent/input-relay.ts).
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** The questions of an approved call and where it waits for the answers. */
export interface HeldQuestions {
  inputRequests: Record<string, unknown>;
  /** The parked call (pending-input.ts) and the replica holding it. */
  parked: { id: string; replica: string };
}

// A symbol, so the reference never crosses the wire by accident: JSON leaves it out.
const PARKED = Symbol('airlock.heldQuestions');

/** What the waiting request answers the gateway: the questions, the parked call riding along unseen. */
export function heldQuestionsResult(q: HeldQuestions): CallToolResult {
  return Object.assign(
    { content: [], resultType: 'input_required', inputRequests: q.inputRequests },
    { [PARKED]: q.parked },
  );
}

/** The questions of a {@link heldQuestionsResult}, or undefined for any other result. */
export function heldQuestionsOf(result: CallToolResult): HeldQuestions | undefined {
  const parked = (result as { [PARKED]?: HeldQuestions['parked'] })[PARKED];
  if (!parked || result['resultType'] !== 'input_required') return undefined;
  return { inputRequests: result['inputRequests'] as Record<string, unknown>, parked };
}
