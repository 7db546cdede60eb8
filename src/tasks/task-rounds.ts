// How a task asks its client: the one round loop for every task whose upstream call needs input, an
// allowed task-policy call run on the replica that took it and a held call run by the approval worker
// alike. Each `input_required` answer of the call becomes the task's questions; `tasks/update` (on any
// replica) answers them in Redis; once all are answered the call runs its next round with the answers.
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { toAirlockError } from '../core/errors.js';
import { isTerminalTaskStatus, type TaskError } from '../core/tasks/index.js';
import type { TaskResume, TaskRun } from '../gateway/task-calls.js';
import { answerShapeError, INPUT_CAPABILITY } from '../upstream/input-rounds.js';
import type { TaskStore } from './task-store.js';

/** How many times one task's call may ask for input before it fails. @defaultValue 10 */
const MAX_INPUT_ROUNDS = 10;

/** How often a task waiting for answers looks for them. @defaultValue 200 ms */
const ANSWER_POLL_MS = 200;

/** JSON-RPC -32603: what a task whose call broke on Airlock's side fails with. */
export const INTERNAL_ERROR = -32603;

/** JSON-RPC -32602: an answer that does not have its question's shape. */
const INVALID_PARAMS = -32602;

/** JSON-RPC -32021: a question needing a capability the client did not declare. */
const MISSING_CAPABILITY = -32021;

/** Why a call waiting for answers stopped at shutdown. */
const CLOSING = 'Airlock shut down';

/** The status message of a task waiting for the client's answers. */
export const INPUT_MESSAGE = 'waiting for input from the client (answer with tasks/update)';

/** What the rounds need besides the call. */
export interface TaskRoundsOptions {
  tasks: TaskStore;
  now: () => number;
  /** The lease renewed while waiting for answers (an allowed call's; a held task has none to renew). */
  leaseMs: number;
  /**
   * What the client declared it can answer (`elicitation`, `sampling`, `roots`): a question needing
   * anything else ends the call with -32021 instead of being asked. @defaultValue unchecked
   */
  capabilities?: Readonly<Record<string, unknown>>;
  /** How long the client has to answer one round; past it the call stops. @defaultValue no bound */
  answerWithinMs?: number;
  /**
   * Fires when Airlock shuts down: a call waiting for answers stops, and one that asks later stops there;
   * a call that asks nothing runs on. @defaultValue never
   */
  closing?: AbortSignal;
}

/** How the rounds ended: the call's last result, its failure, or a stop before its end (no result). */
export type RoundsEnd =
  | { status: 'completed'; result: Record<string, unknown> }
  | { status: 'failed'; error: TaskError }
  | { status: 'stopped'; reason: string };

/**
 * Runs the call round by round: each `input_required` answer of the upstream becomes the task's
 * questions (keys prefixed with the round, so none is ever reused), and once `tasks/update` answered
 * them all, the call runs again with the answers and the upstream's state. Writes only the
 * `input_required` changes; the caller stores the end.
 */
export async function runTaskRounds(
  o: TaskRoundsOptions,
  id: string,
  run: TaskRun,
  signal: AbortSignal,
): Promise<RoundsEnd> {
  let resume: TaskResume | undefined;
  for (let round = 1; ; round++) {
    let result: Record<string, unknown>;
    try {
      result = await run(signal, resume);
    } catch (err) {
      if (signal.aborted) return stopped(signal);
      return { status: 'failed', error: taskErrorOf(err) };
    }
    if (result['resultType'] !== 'input_required') return { status: 'completed', result: { ...result } };
    if (round > MAX_INPUT_ROUNDS) {
      const message = `The tool asked for input more than ${MAX_INPUT_ROUNDS} times.`;
      return { status: 'failed', error: { code: INTERNAL_ERROR, message } };
    }
    const state = typeof result['requestState'] === 'string' ? { requestState: result['requestState'] } : {};
    const asked = isObject(result['inputRequests']) ? result['inputRequests'] : {};
    if (o.closing?.aborted) return { status: 'stopped', reason: CLOSING };
    const refused = undeclared(asked, o.capabilities);
    if (refused) return { status: 'failed', error: refused };
    const prefix = `r${round}.`;
    const inputRequests = Object.fromEntries(Object.entries(asked).map(([k, v]) => [prefix + k, v]));
    if (Object.keys(inputRequests).length === 0) {
      // Only state to carry: the upstream asks to be called again, nothing of the client.
      resume = state;
      continue;
    }
    const change = { status: 'input_required' as const, inputRequests, statusMessage: INPUT_MESSAGE };
    const asking = await o.tasks.transition(id, change, { from: ['working'] }).catch(() => undefined);
    if (asking?.outcome !== 'changed') return { status: 'stopped', reason: 'the task ended' };
    const wait = await answered(o, id, signal);
    if (wait !== 'answered') {
      return signal.aborted ? stopped(signal) : { status: 'stopped', reason: wait };
    }
    const answers = await o.tasks.answers(id).catch(() => ({}) as Record<string, unknown>);
    const inputResponses: Record<string, unknown> = {};
    for (const [key, question] of Object.entries(asked)) {
      if (!Object.hasOwn(answers, prefix + key)) continue;
      const answer = answers[prefix + key];
      const method = isObject(question) ? String(question['method']) : '';
      const wrong = answerShapeError(method, answer);
      if (wrong) {
        return { status: 'failed', error: { code: INVALID_PARAMS, message: `${wrong} for ${prefix + key}` } };
      }
      inputResponses[key] = answer;
    }
    resume = { inputResponses, ...state };
  }
}

/** -32021 for the first question that needs a capability the client did not declare. */
function undeclared(
  asked: Record<string, unknown>,
  capabilities: Readonly<Record<string, unknown>> | undefined,
): TaskError | undefined {
  if (!capabilities) return undefined;
  for (const question of Object.values(asked)) {
    const method = isObject(question) ? question['method'] : undefined;
    const needed = typeof method === 'string' ? INPUT_CAPABILITY[method] : undefined;
    if (needed && !isObject(capabilities[needed])) {
      return {
        code: MISSING_CAPABILITY,
        message: `The tool asked for ${needed}, which the client did not declare when it made the call`,
        data: { requiredCapabilities: { [needed]: {} } },
      };
    }
  }
  return undefined;
}

/** Waits until `tasks/update` answered every question, the task ended, or the client took too long. */
async function answered(o: TaskRoundsOptions, id: string, signal: AbortSignal): Promise<string> {
  const until = o.answerWithinMs === undefined ? Infinity : o.now() + o.answerWithinMs;
  while (!signal.aborted) {
    // Renewing the lease while waiting doubles as reading the status.
    const status = await o.tasks.heartbeat(id, o.now() + o.leaseMs).catch(() => null);
    if (status === 'working') return 'answered';
    if (status === undefined || (status !== null && isTerminalTaskStatus(status))) return 'the task ended';
    if (o.now() >= until) return 'the client did not answer the tool in time';
    if (o.closing?.aborted) return CLOSING;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ANSWER_POLL_MS);
      const wake = () => (clearTimeout(t), resolve());
      signal.addEventListener('abort', wake, { once: true });
      o.closing?.addEventListener('abort', wake, { once: true });
    });
  }
  return 'stopped';
}

function stopped(signal: AbortSignal): RoundsEnd {
  const reason: unknown = signal.reason;
  return { status: 'stopped', reason: reason instanceof Error ? reason.message : 'the call was stopped' };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A JSON-RPC error object for a call that broke: the upstream's own error, or -32603 for Airlock's. */
export function taskErrorOf(err: unknown): TaskError {
  const e = err as { code?: unknown; message?: unknown; data?: unknown } | undefined;
  if (typeof e?.code === 'number' && Number.isInteger(e.code)) {
    const message = String(e.message).replace(/^MCP error -?\d+: /, '');
    return { code: e.code, message, ...(e.data !== undefined && { data: e.data }) };
  }
  return { code: INTERNAL_ERROR, message: toAirlockError(err, 'UPSTREAM_ERROR').message };
}

/** The error a held call's worker throws for a round loop that failed: the task's error, as an McpError. */
export function roundsError(error: TaskError): McpError {
  return new McpError(error.code, error.message, error.data);
}
