// A 2026-07-28 agent's tools/call whose LEGACY upstream asks the client something during the call
// (elicitation/create, sampling/createMessage, roots/list). The agent is stateless and cannot be asked, so
// the call is parked on this replica: the upstream's requests wait, the agent gets them as an
// `input_required` answer, and its retry (on this replica or forwarded by input-relay.ts) answers them
// and waits for what the call does next. A parked call nobody comes back for is cancelled upstream.
import { randomUUID } from 'node:crypto';
import { AirlockError } from '../core/errors.js';
import type { RpcMessage } from '../upstream/types.js';

/** One question as the 2026-07-28 `inputRequests` map carries it. */
export interface InputRequest {
  method: string;
  params?: Record<string, unknown>;
}

/** What a round of a parked call ends with: the upstream's open questions, or the call's own end. */
export type ParkedRound<T> =
  | { kind: 'input'; inputRequests: Record<string, InputRequest> }
  | { kind: 'settled'; ok: true; value: T }
  | { kind: 'settled'; ok: false; error: unknown };

interface Question {
  request: InputRequest;
  resolve: (answer: Record<string, unknown>) => void;
  reject: (err: unknown) => void;
}

/** A call parked between the agent's rounds. `T` is what the call answers the agent when it ends. */
export class ParkedCall<T> {
  /** The id a sealed `requestState` names it by. */
  readonly id = `pi_${randomUUID()}`;
  private readonly controller = new AbortController();
  private readonly questions = new Map<string, Question>();
  private asked = 0;
  private end: ParkedRound<T> | undefined;
  private waiter: ((round: ParkedRound<T>) => void) | undefined;
  private idle: NodeJS.Timeout | undefined;
  private sink: (message: RpcMessage) => void = () => {};
  private forgotten = false;

  constructor(
    /** How long the call waits for the agent between rounds before it is cancelled. */
    private readonly idleMs: number,
    /** Called once, when the call is over and no retry can use it any more. */
    private readonly onGone: () => void,
  ) {}

  /** The call's signal: fires when the agent cancels it or never comes back. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True while the upstream's questions wait for the agent's answers. */
  get asking(): boolean {
    return this.questions.size > 0;
  }

  /** True while a request waits for the call's next round. */
  get busy(): boolean {
    return this.waiter !== undefined;
  }

  /** Starts the call; its end is the last round. */
  run(start: (signal: AbortSignal) => Promise<T>): void {
    start(this.signal).then(
      (value) => this.settle({ kind: 'settled', ok: true, value }),
      (error: unknown) => this.settle({ kind: 'settled', ok: false, error }),
    );
  }

  /** Notifications of the call (progress, log) go to the request of the current round, if any. */
  notify(message: RpcMessage): void {
    this.sink(message);
  }

  /** An upstream's request during the call: it is answered when the agent's retry brings the answer. */
  ask(request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>> {
    if (this.end || this.signal.aborted) return Promise.reject(new Error('the call has ended'));
    return new Promise((resolve, reject) => {
      const key = `input_${++this.asked}`;
      const entry: InputRequest = {
        method: request.method,
        ...(request.params && { params: request.params }),
      };
      this.questions.set(key, { request: entry, resolve, reject });
      // The upstream gave up on its question (its own timeout): it is not asked of the agent any more.
      signal.addEventListener(
        'abort',
        () => {
          if (this.questions.delete(key)) reject(signal.reason);
        },
        { once: true },
      );
      this.wake();
    });
  }

  /**
   * The agent's answers: each answers the question of its key; unknown keys are ignored (as the revision
   * says), questions left unanswered are asked again in the next round.
   */
  answer(responses: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(responses)) {
      const question = this.questions.get(key);
      if (!question) continue;
      this.questions.delete(key);
      question.resolve((value ?? {}) as Record<string, unknown>);
    }
  }

  /**
   * Waits for the round's end: the questions open by then, or the call's result. `signal` is the waiting
   * request's: when it fires the agent cancelled the call, which is cancelled upstream.
   */
  next(signal: AbortSignal, notify: (message: RpcMessage) => void): Promise<ParkedRound<T>> {
    if (this.waiter) return Promise.reject(new Error('another request is already waiting for this call'));
    clearTimeout(this.idle);
    this.sink = notify;
    return new Promise((resolve) => {
      const onAbort = () => this.cancel(signal.reason ?? new Error('the agent cancelled the call'));
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = (round) => {
        this.waiter = undefined;
        this.sink = () => {};
        signal.removeEventListener('abort', onAbort);
        // The end handed over, nobody needs the call any more; questions wait for the agent's next round.
        if (round.kind === 'settled') this.gone();
        else this.startIdle();
        resolve(round);
      };
      if (signal.aborted) onAbort();
      this.wake();
    });
  }

  /** Cancels the call upstream; its questions are refused. */
  cancel(reason: unknown): void {
    for (const q of this.questions.values()) q.reject(reason);
    this.questions.clear();
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  private wake(): void {
    if (!this.waiter) return;
    if (this.end) return this.waiter(this.end);
    if (this.questions.size === 0) return;
    // Requests an upstream sends together go to the agent in one round.
    setImmediate(() => {
      if (!this.waiter || this.end || this.questions.size === 0) return;
      const inputRequests = Object.fromEntries([...this.questions].map(([k, q]) => [k, q.request]));
      this.waiter({ kind: 'input', inputRequests });
    });
  }

  private settle(end: ParkedRound<T>): void {
    this.end = end;
    for (const q of this.questions.values()) q.reject(new Error('the call has ended'));
    this.questions.clear();
    this.wake();
  }

  /**
   * Between rounds the call waits `idleMs` for the agent, then it is cancelled and forgotten. A call that
   * ends between rounds is kept as long, for the retry that comes for its result.
   */
  private startIdle(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.cancel(new AirlockError('UPSTREAM_ERROR', 'The agent did not answer the upstream in time'));
      this.gone();
    }, this.idleMs);
    this.idle.unref();
  }

  private gone(): void {
    clearTimeout(this.idle);
    if (this.forgotten) return;
    this.forgotten = true;
    this.onGone();
  }
}

/** The parked calls of this replica, by id. */
export class ParkedCalls<T> {
  private readonly calls = new Map<string, { call: ParkedCall<T>; owner: string }>();

  constructor(
    /** @defaultValue REQUEST_STATE_TTL_MS, as long as the state the agent answers with stays valid */
    private readonly idleMs: number,
  ) {}

  /** A new parked call of agent `owner`, tracked until it is gone; `onGone` runs then too. */
  open(owner: string, onGone: () => void = () => {}): ParkedCall<T> {
    const call: ParkedCall<T> = new ParkedCall<T>(this.idleMs, () => {
      this.calls.delete(call.id);
      onGone();
    });
    this.calls.set(call.id, { call, owner });
    return call;
  }

  /** The parked call `id` of agent `owner`, if it is still here; another agent's is not found. */
  get(id: string, owner: string): ParkedCall<T> | undefined {
    const entry = this.calls.get(id);
    return entry?.owner === owner ? entry.call : undefined;
  }

  /** Number of parked calls on this replica. */
  get size(): number {
    return this.calls.size;
  }
}
