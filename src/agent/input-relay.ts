// Where a round of a parked call (pending-input.ts) runs: the agent's retry may land on any replica, but
// the upstream call waits on the replica that started it. The sealed `requestState` names that replica;
// a retry elsewhere is forwarded over the replica bus, and the round's answer comes back the same way.
// The owner acknowledges at once and then says it is alive while the round runs, so a retry whose owner
// died learns it within seconds instead of waiting for ever.
import { randomUUID } from 'node:crypto';
import type { ReplicaBus } from '../redis/bus.js';
import type { RpcMessage } from '../upstream/types.js';
import { ParkedCalls, type InputRequest, type ParkedCall, type ParkedRound } from './pending-input.js';
import { REQUEST_STATE_TTL_MS, type PendingRef } from './request-state.js';
import { invalidRequest, type WireError } from './wire/errors.js';

/** What a round of a parked call answers the agent, in a form that crosses the bus. */
export type RoundAnswer =
  | { input: Record<string, InputRequest> }
  | { result: Record<string, unknown> }
  | { error: WireError }
  /** The call is not waiting any more: it timed out, ended and was collected, or its replica is gone. */
  | { lost: true };

/** How often the owner of a parked call says it is still running a forwarded round. @defaultValue 2 s */
export const RELAY_HEARTBEAT_MS = 2_000;
/** Silence after which a forwarded round's owner counts as gone. @defaultValue 5 s */
export const RELAY_SILENCE_MS = 5_000;

type Body = Record<string, unknown>;

/**
 * The parked calls of this replica and the way to their rounds from any replica: a legacy upstream's
 * questions during a 2026-07-28 call wait here, and the answers may come through any replica.
 */
export class InputRelay {
  /** This replica's name in sealed states; unique per process start, so a restarted replica is another. */
  readonly replica = `r_${randomUUID()}`;
  readonly parked: ParkedCalls<Record<string, unknown>>;
  private readonly forwarded = new Map<string, AbortController>();

  constructor(
    /** Turns a call's failure into the JSON-RPC error the agent gets. */
    private readonly toWire: (err: unknown) => WireError,
    private readonly bus?: ReplicaBus,
    /** How long a parked call waits for the agent's next round. @defaultValue REQUEST_STATE_TTL_MS */
    idleMs = REQUEST_STATE_TTL_MS,
  ) {
    this.parked = new ParkedCalls(idleMs);
  }

  /** Serves rounds forwarded from other replicas until the returned function is called. */
  start(): () => void {
    if (!this.bus) return () => {};
    return this.bus.listen(`parked:${this.replica}`, (body) => void this.serveForwarded(body));
  }

  /** A parked call's first round, on the request that started it. */
  async first(
    call: ParkedCall<Record<string, unknown>>,
    signal: AbortSignal,
    notify: (message: RpcMessage) => void,
  ): Promise<RoundAnswer> {
    return this.toAnswer(await call.next(signal, notify));
  }

  /** A later round: the agent's answers go to the parked call `ref` wherever it waits. */
  round(
    ref: PendingRef,
    agent: string,
    responses: Record<string, unknown>,
    signal: AbortSignal,
    notify: (message: RpcMessage) => void,
  ): Promise<RoundAnswer> {
    if (ref.replica === this.replica) return this.local(ref.id, agent, responses, signal, notify);
    if (!this.bus) return Promise.resolve({ lost: true });
    return this.remote(ref, agent, responses, signal, notify);
  }

  private async local(
    id: string,
    agent: string,
    responses: Record<string, unknown>,
    signal: AbortSignal,
    notify: (message: RpcMessage) => void,
  ): Promise<RoundAnswer> {
    // The state was verified for `agent` (on whichever replica); the call must be that agent's too.
    const call = this.parked.get(id, agent);
    if (!call) return { lost: true };
    // One request at a time waits for a call's next round; answers of a second one are not taken.
    if (call.busy) return { error: invalidRequest('Another retry of this call is waiting for its answer') };
    call.answer(responses);
    return this.toAnswer(await call.next(signal, notify));
  }

  private remote(
    ref: PendingRef,
    agent: string,
    responses: Record<string, unknown>,
    signal: AbortSignal,
    notify: (message: RpcMessage) => void,
  ): Promise<RoundAnswer> {
    const bus = this.bus!;
    const reply = `reply:${randomUUID()}`;
    return new Promise<RoundAnswer>((resolve) => {
      let silence: NodeJS.Timeout | undefined;
      const done = (answer: RoundAnswer) => {
        clearTimeout(silence);
        stop();
        signal.removeEventListener('abort', onAbort);
        resolve(answer);
      };
      const alive = () => {
        clearTimeout(silence);
        silence = setTimeout(() => done({ lost: true }), RELAY_SILENCE_MS);
        silence.unref();
      };
      const stop = bus.listen(reply, (body) => {
        if (body['type'] === 'round') return done(body['answer'] as RoundAnswer);
        if (body['type'] === 'notify') notify(body['message'] as RpcMessage);
        alive();
      });
      // Closing the retry's stream cancels the call, as it would on the owner's replica.
      const onAbort = () => {
        void bus.send({ to: `parked:${ref.replica}`, body: { type: 'cancel', reply } }).catch(() => {});
        done({ lost: true });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      alive();
      bus
        .send({ to: `parked:${ref.replica}`, body: { type: 'answer', id: ref.id, agent, responses, reply } })
        .catch(() => done({ lost: true }));
    });
  }

  private async serveForwarded(body: Body): Promise<void> {
    const reply = typeof body['reply'] === 'string' ? body['reply'] : undefined;
    if (!reply || !this.bus) return;
    if (body['type'] === 'cancel') return this.forwarded.get(reply)?.abort();
    if (body['type'] !== 'answer') return;
    const send = (b: Body) => void this.bus!.send({ to: reply, body: b }).catch(() => {});
    send({ type: 'ack' });
    const controller = new AbortController();
    this.forwarded.set(reply, controller);
    const beat = setInterval(() => send({ type: 'alive' }), RELAY_HEARTBEAT_MS);
    beat.unref();
    try {
      const responses = (body['responses'] ?? {}) as Record<string, unknown>;
      const agent = String(body['agent']);
      const answer = await this.local(String(body['id']), agent, responses, controller.signal, (message) =>
        send({ type: 'notify', message }),
      );
      send({ type: 'round', answer });
    } finally {
      clearInterval(beat);
      this.forwarded.delete(reply);
    }
  }

  private toAnswer(round: ParkedRound<Record<string, unknown>>): RoundAnswer {
    if (round.kind === 'input') return { input: round.inputRequests };
    return round.ok ? { result: round.value } : { error: this.toWire(round.error) };
  }
}
