// A task-policy call with `task_after` runs in its request first (the policy's window): an upstream that
// asks for input before the task exists has its questions answered in the request (the MRTR rounds that
// SEP-2663 wants resolved before a CreateTaskResult), and an optional call that finishes in time answers
// as a plain call. Only a call still running when the window closes becomes a task, and it keeps running:
// the same upstream call, now stopped by the task's cancel instead of the request's.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TaskMode } from '../core/policy/types.js';
import type { CreateTaskResult } from '../core/tasks/index.js';

/** The first round of a call, started before it is known whether it becomes a task. */
export interface FirstRound {
  /** The upstream call; it rejects as the call would. */
  readonly result: Promise<CallToolResult>;
  /** Stops the upstream call: the request's abort within the window, the task's cancel after it. */
  readonly controller: AbortController;
}

/** What the window saw. */
export type WindowOutcome =
  | { readonly settled: true; readonly result: CallToolResult }
  | { readonly settled: true; readonly error: unknown }
  | { readonly settled: false; readonly first: FirstRound };

/**
 * Starts `run` and waits up to `windowMs` for it. Within the window the request's `signal` stops the call;
 * once the window closed with the call still running, only the returned controller does.
 */
export async function runWindow(
  run: (signal: AbortSignal) => Promise<CallToolResult>,
  windowMs: number,
  signal: AbortSignal,
): Promise<WindowOutcome> {
  const controller = new AbortController();
  const abort = () => controller.abort(signal.reason);
  if (signal.aborted) abort();
  else signal.addEventListener('abort', abort, { once: true });
  const result = run(controller.signal);
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<'closed'>((resolve) => {
    timer = setTimeout(() => resolve('closed'), windowMs);
  });
  try {
    const first = await Promise.race([
      result.then(
        (r) => ({ settled: true as const, result: r }),
        (error: unknown) => ({ settled: true as const, error }),
      ),
      closed,
    ]);
    return first === 'closed' ? { settled: false, first: { result, controller } } : first;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
}

/** What {@link answerOrTask} needs of the gateway's call. */
export interface WindowedCall {
  /** The upstream call's first round. */
  run: (signal: AbortSignal) => Promise<CallToolResult>;
  /** Reports a task's failed round (the request has been answered by then). */
  reported: (result: Promise<CallToolResult>) => Promise<CallToolResult>;
  /** Creates the task, its first round `first`. */
  start: (first: FirstRound) => Promise<CreateTaskResult>;
  mode: TaskMode;
  windowMs: number;
  /** The request's signal. */
  signal: AbortSignal;
}

/**
 * The answer of a task-policy call with a window: its questions, or (optional) its result or error,
 * when they came in time; else a task. A `required` call that finished in time is a completed task.
 */
export async function answerOrTask(c: WindowedCall): Promise<CallToolResult | CreateTaskResult> {
  const seen = await runWindow(c.run, c.windowMs, c.signal);
  if (!seen.settled) return c.start({ ...seen.first, result: c.reported(seen.first.result) });
  if ('error' in seen) {
    // A request the client cancelled in the window leaves no task behind.
    if (c.mode === 'optional' || c.signal.aborted) throw seen.error;
    return c.start({ result: c.reported(Promise.reject(seen.error)), controller: new AbortController() });
  }
  if (seen.result['resultType'] === 'input_required' || c.mode === 'optional') return seen.result;
  return c.start({ result: Promise.resolve(seen.result), controller: new AbortController() });
}
