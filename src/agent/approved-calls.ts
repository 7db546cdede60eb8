// An approved call as the approval worker runs it, on whichever replica took its job. No agent request
// waits behind it there, so the call registers itself among this replica's open modern calls: a legacy
// upstream's request during it (elicitation, sampling, roots) is then attributed to it by the registry's
// strict rule (its own upstream request is the only one in flight) instead of being refused as
// unattributable, or sent to some unrelated agent's session. When the call's task can ask the agent,
// such a request waits in a parked call (pending-input.ts) and comes out as an `input_required` round,
// just as a 2026-07-28 upstream's own answer does; the task's rounds (src/tasks/task-rounds.ts) then ask
// the agent through tasks/get and carry its tasks/update answers back.
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../core/errors.js';
import type { StoredRecord } from '../core/approval/types.js';
import type { TaskResume, TaskRun } from '../gateway/task-calls.js';
import { INPUT_CAPABILITY } from '../upstream/input-rounds.js';
import type { RpcMessage, Upstream } from '../upstream/types.js';
import type { ModernCall, ModernCalls } from './modern-calls.js';
import { ParkedCall } from './pending-input.js';
import type { InputRelay } from './input-relay.js';
import type { ApprovalStore } from '../approval/approval-store.js';
import { REQUEST_STATE_TTL_MS } from './request-state.js';

/** What {@link approvedCalls} needs. */
export interface ApprovedCallsOptions {
  upstreams: { get(server: string): Pick<Upstream, 'callTool'> | undefined };
  /** This replica's open modern calls, where the upstreams' requests look for their call. */
  calls: ModernCalls;
  /**
   * For a held long poll (no task) of an agent whose request takes `input_required` answers: this
   * replica's parked calls, where the agent's retry finds the call, and where its questions are stored for
   * the waiting request. @defaultValue none: such calls' questions are refused
   */
  longPoll?: {
    relay: () => InputRelay | undefined;
    store: Pick<ApprovalStore, 'putQuestions' | 'dropQuestions'>;
    /** Fires at shutdown: a call still waiting for the agent stops, so the approval worker can close. */
    shutdown: AbortSignal;
  };
  /**
   * How long a legacy upstream's question waits for the next round. The task's rounds bound the wait
   * themselves and stop the call when they end, so this is only a backstop. @defaultValue 1 hour
   */
  idleMs?: number;
}

/**
 * The approval worker's upstream run of an approved call, as rounds. `asking` says whether the call's
 * task can ask the agent; without it an upstream's question is refused as before, and a 2026-07-28
 * upstream's `input_required` answer goes to the SDK's handlers, which refuse it the same way.
 */
export function approvedCalls(o: ApprovedCallsOptions): (record: StoredRecord, asking: boolean) => TaskRun {
  const idleMs = o.idleMs ?? 60 * 60_000;
  return (record, asking) => {
    const capabilities = record.clientCapabilities ?? {};
    let parked: ParkedCall<Record<string, unknown>> | undefined;
    const call: ModernCall = {
      server: record.server,
      notify: () => {},
      onInput: (request, signal) => askAgent(request, signal),
    };
    const askAgent = (request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>> => {
      if (!parked) {
        const why = `${request.method} cannot be relayed to this approved call's agent`;
        return Promise.reject(new McpError(ErrorCode.InvalidRequest, why));
      }
      if (o.longPoll?.shutdown.aborted && !asking) {
        return Promise.reject(new McpError(ErrorCode.InvalidRequest, 'Airlock is shutting down'));
      }
      const needed = INPUT_CAPABILITY[request.method];
      const declared = needed !== undefined && isObject(capabilities[needed]);
      if (!declared) {
        const why = `The agent did not declare ${needed ?? request.method} when it made the call`;
        return Promise.reject(new McpError(ErrorCode.InvalidRequest, why));
      }
      return parked.ask(request, signal);
    };
    const upstreamCall = (signal: AbortSignal, resume: TaskResume | undefined): Promise<CallToolResult> => {
      const upstream = o.upstreams.get(record.server);
      if (!upstream) {
        const why = `Upstream server "${record.server}" is not configured`;
        return Promise.reject(new AirlockError('UPSTREAM_UNAVAILABLE', why));
      }
      const close = o.calls.open(call);
      call.upstreamRunning = true;
      return upstream
        .callTool(
          { name: record.tool, arguments: record.args, ...resume },
          { signal, allowInputRequired: asking, clientCapabilities: capabilities },
        )
        .finally(() => {
          call.upstreamRunning = false;
          close();
        });
    };
    const relay = record.inputRequired ? o.longPoll?.relay() : undefined;
    if (!asking && relay && o.longPoll) {
      const store = o.longPoll.store;
      return () => {
        // The agent's retry (any replica) reaches the call through the relay; its agent alone can.
        const waiting = relay.parked.open(record.agent);
        parked = waiting;
        const shutdown = o.longPoll!.shutdown;
        // At shutdown a call waiting for its agent stops; one that asks nothing runs to its end.
        const stop = () => {
          if (waiting.asking) waiting.cancel(shutdown.reason);
        };
        if (shutdown.aborted) stop();
        shutdown.addEventListener('abort', stop, { once: true });
        let result!: Promise<CallToolResult>;
        waiting.run((s) => (result = upstreamCall(s, undefined)));
        const firstRound = async () => {
          const round = await waiting.next(new AbortController().signal, () => {});
          if (round.kind !== 'input') return;
          const questions = {
            inputRequests: round.inputRequests,
            parked: { id: waiting.id, replica: relay.replica },
          };
          await store.putQuestions(record.id, questions, REQUEST_STATE_TTL_MS);
        };
        // Questions that cannot be handed over stay parked until the idle bound ends the call.
        void firstRound().catch(() => {});
        return result.finally(() => {
          shutdown.removeEventListener('abort', stop);
          void store.dropQuestions(record.id).catch(() => {});
        });
      };
    }
    if (!asking) return (signal) => upstreamCall(signal, undefined);
    let watching: AbortSignal | undefined;
    return async (signal, resume) => {
      // The rounds' signal fires when they stop (answered no more, shut down): a parked call stops too.
      if (watching !== signal) {
        watching = signal;
        signal.addEventListener('abort', () => parked?.cancel(signal.reason), { once: true });
      }
      if (parked && resume?.inputResponses) parked.answer(resume.inputResponses);
      else {
        // A first round, or a 2026-07-28 upstream called again with the answers and its own state.
        const next = new ParkedCall<Record<string, unknown>>(idleMs, () => {});
        parked = next;
        next.run((s) => upstreamCall(s, resume));
      }
      const round = await parked.next(signal, () => {});
      if (round.kind === 'input') {
        return { content: [], resultType: 'input_required', inputRequests: round.inputRequests };
      }
      parked = undefined;
      if (!round.ok) throw round.error;
      return round.value as CallToolResult;
    };
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
