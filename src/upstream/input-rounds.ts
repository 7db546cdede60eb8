// A 2026-07-28 upstream's `input_required` answer on the direct HTTP leg, for a caller that does not
// take it itself (a 2025-era agent's call): its questions go to the agent as the SDK client's auto-
// fulfilment sends them (through the connection's request hook), and the call is made again with the
// answers and the upstream's state, round after round, until it completes. Written from the revision's
// multi-round-trip rules; the limits and the progress each round reports are the SDK client's, so that
// callers cannot tell the two paths apart.
import { setTimeout as delay } from 'node:timers/promises';
import {
  isSpecType,
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
} from '@modelcontextprotocol/client';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { isPlainObject } from './modern-result.js';
import type { RpcMessage } from './types.js';

/** What the rounds need of the call they finish. */
export interface InputRoundsCall {
  method: string;
  params: Record<string, unknown> | undefined;
  /** The caller's signal: aborting it stops the rounds and the questions in flight. */
  signal: AbortSignal | undefined;
  onprogress: ((progress: Progress) => void) | undefined;
  /** Asks the agent one question (sampling, elicitation, roots), as the SDK's handlers would. */
  ask(request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>>;
  /** Makes the call again with these params. */
  retry(params: Record<string, unknown>): Promise<Record<string, unknown>>;
}

// The SDK client's defaults: at most this many rounds, and a pause before a round that only carries state.
const MAX_ROUNDS = 10;
const STATE_ONLY_PAUSE_MS = 250;

/** The client capability each server→client request needs. */
export const INPUT_CAPABILITY: Readonly<Record<string, 'sampling' | 'elicitation' | 'roots'>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/**
 * Why `answer` cannot answer a question of `method` (the revision's result shapes), or undefined when it
 * can. A method outside the three is never answerable.
 */
export function answerShapeError(method: string, answer: unknown): string | undefined {
  const shape = ANSWER_SHAPES[method];
  if (!shape) return `${method} is not a question a client answers`;
  return shape.valid(answer) ? undefined : `Invalid ${shape.name} result`;
}

// The questions a 2026-07-28 upstream may ask, and whether an answer has the shape the revision gives it.
const ANSWER_SHAPES: Record<string, { name: string; valid: (answer: unknown) => boolean }> = {
  'elicitation/create': { name: 'elicitation', valid: (a) => isSpecType.ElicitResult(a) },
  'sampling/createMessage': {
    name: 'sampling',
    valid: (a) => isSpecType.CreateMessageResult(a) || isSpecType.CreateMessageResultWithTools(a),
  },
  'roots/list': { name: 'roots', valid: (a) => isSpecType.ListRootsResult(a) },
};

/** Runs the rounds after the first `input_required` answer; resolves with the complete result. */
export async function runInputRounds(
  call: InputRoundsCall,
  first: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  let answer = first;
  for (let round = 1; ; round++) {
    if (round > MAX_ROUNDS) {
      throw new SdkError(
        SdkErrorCode.InputRequiredRoundsExceeded,
        `Multi-round-trip request '${call.method}' still required input after ${MAX_ROUNDS} rounds`,
        { rounds: MAX_ROUNDS },
      );
    }
    call.onprogress?.({
      progress: round,
      message: `Fulfilling input required by '${call.method}' (round ${round})`,
    });
    const questions = Object.entries(answer['inputRequests'] as Record<string, unknown>);
    let responses: Record<string, unknown> | undefined;
    if (questions.length > 0) responses = await askAll(call, questions);
    else await delay(STATE_ONLY_PAUSE_MS, undefined, call.signal ? { signal: call.signal } : {});
    const state = answer['requestState'];
    answer = await call.retry({
      ...call.params,
      ...(responses && { inputResponses: responses }),
      ...(typeof state === 'string' && { requestState: state }),
    });
    if (answer['resultType'] !== 'input_required') return answer;
  }
}

/** Asks every question of one round at once; the first failure stops the others. */
async function askAll(
  call: InputRoundsCall,
  questions: [string, unknown][],
): Promise<Record<string, unknown>> {
  const round = new AbortController();
  const onAbort = () => round.abort(call.signal?.reason);
  call.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const answers = await Promise.all(
      questions.map(async ([key, question]) => {
        try {
          return [key, await askOne(call, key, question, round.signal)] as const;
        } catch (err) {
          round.abort(err);
          throw err;
        }
      }),
    );
    return Object.fromEntries(answers);
  } finally {
    call.signal?.removeEventListener('abort', onAbort);
  }
}

async function askOne(
  call: InputRoundsCall,
  key: string,
  question: unknown,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  const method = isPlainObject(question) ? question['method'] : undefined;
  const shape = typeof method === 'string' ? ANSWER_SHAPES[method] : undefined;
  if (!shape || typeof method !== 'string') {
    throw new SdkError(
      SdkErrorCode.InvalidResult,
      `Invalid input request '${key}': expected elicitation/create, sampling/createMessage or roots/list`,
      { key },
    );
  }
  const params = isPlainObject((question as Record<string, unknown>)['params'])
    ? ((question as Record<string, unknown>)['params'] as Record<string, unknown>)
    : undefined;
  const answer = await call.ask({ method, ...(params && { params }) }, signal);
  if (!shape.valid(answer)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid ${shape.name} result`);
  }
  return answer;
}
