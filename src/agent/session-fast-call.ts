// One `tools/call` of a 2025 session served without the SDK: the hot path of every 2025 agent. The SDK
// path builds a Server, a Streamable HTTP transport and web Request/Response adapters for each request;
// this answers the same request with the same messages, from the session record alone (see
// wire/session-fast-request.ts for which requests come here and why the rest do not).
//
// For the rest of Airlock the call is a session object with one call (RoutableSession): an upstream's
// sampling, elicitation or roots request during the call finds it, and goes on the call's own stream with
// an id at a random offset, as the SDK's would; the agent's answer and its `notifications/cancelled` may
// be posted to any replica and reach this one over the replica bus (`receive`).
import { randomInt } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { DEFAULT_REQUEST_TIMEOUT_MSEC } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolResultSchema,
  CancelledNotificationSchema,
  ErrorCode,
  isJSONRPCErrorResponse,
  isJSONRPCResultResponse,
  McpError,
  ResultSchema,
  type ClientCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import type { RpcMessage } from '../upstream/types.js';
import type { AgentMethods } from './agent-methods.js';
import type { RoutableSession } from './session-registry.js';
import type { SessionRecord } from './session-store.js';
import { sessionToolCall } from './session-tool-call.js';
import { isCreateTaskResult } from '../gateway/task-calls.js';
import { DeferredAnswer } from './wire/deferred-answer.js';
import { LOG_LEVELS, type LogLevel } from './wire/envelope.js';

type Rpc = Record<string, unknown>;

/** A fast call holds no resource subscriptions: those are made by resources/subscribe, on the SDK path. */
const NO_SUBSCRIPTIONS: ReadonlySet<string> = new Set();

/** The relayed requests methods that need a declared client capability, and which one. */
const NEEDS_CAPABILITY: Readonly<Record<string, keyof ClientCapabilities>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** One fast-path tools/call; see the file comment. */
export class FastSessionCall implements RoutableSession {
  readonly shared = true;
  readonly subscriptions = NO_SUBSCRIPTIONS;
  onclose?: () => void;
  onsubscribe?: (uri: string) => void;
  private readonly controller = new AbortController();
  private readonly answer: DeferredAnswer;
  /** The upstream the tool routes to; undefined for an unknown tool (nothing can reach back then). */
  private readonly server: string | undefined;
  private readonly logLevel: LogLevel;
  private running = true;
  private gone = false;
  private closed = false;
  /** Requests relayed to the agent and waiting for its answer, by id; made on the first one. */
  private relays: Map<number, (response: Rpc) => void> | undefined;
  private nextRelayId = 0;

  constructor(
    private readonly methods: AgentMethods,
    private readonly agent: string,
    private readonly record: SessionRecord,
    private readonly request: {
      readonly id: string | number;
      readonly jsonFirst: boolean;
      readonly params: Rpc;
    },
    private readonly res: ServerResponse,
  ) {
    this.answer = new DeferredAnswer(res, { 'Mcp-Session-Id': record.id });
    // A client that prefers the stream gets it at once, as from the SDK.
    if (!request.jsonFirst) this.answer.open();
    this.server = methods.serverOfTool(String(request.params['name']));
    // A 2025 server that was never told a level may send every message (AgentSession does the same).
    this.logLevel = record.logLevel ?? 'debug';
  }

  /** The session id. */
  get key(): string {
    return this.record.id;
  }

  /** Runs the call and answers it; resolves once the answer is written (or will never be). */
  async run(): Promise<void> {
    this.res.once('close', () => {
      // Closed before the answer was complete: the agent went away, which is not a cancellation.
      if (!this.res.writableFinished) this.disconnect();
      this.release();
    });
    if (this.res.destroyed) {
      // Gone while its session was looked up: nobody would hear the answer, so the call is not made.
      this.disconnect();
      this.release();
      return;
    }
    let message: Rpc;
    try {
      const result = await sessionToolCall(this.methods, this.agent, this.request.params, {
        signal: this.controller.signal,
        disconnected: () => this.gone,
        clientCapabilities: this.record.clientCapabilities as ClientCapabilities,
        logLevel: this.logLevel,
        tasks: sessionTasks(this.methods, this.record),
        sendNotification: (n) => this.sendRelated(n),
        // A held call waits long: its stream opens now, as the SDK's would, and carries keep-alives.
        onHeld: () => this.answer.open(),
      });
      if (isCreateTaskResult(result)) {
        // A task is no tool result: it goes out as it is (the extension forbids `content` on it).
        message = { result: { ...result }, jsonrpc: '2.0', id: this.request.id };
      } else {
        // The SDK Server validates (and normalises) every tools/call result before sending it.
        const valid = CallToolResultSchema.safeParse(result);
        if (!valid.success) {
          throw new McpError(ErrorCode.InvalidParams, `Invalid tools/call result: ${valid.error.message}`);
        }
        message = { result: valid.data, jsonrpc: '2.0', id: this.request.id };
      }
    } catch (err) {
      message = errorAnswer(this.request.id, err);
    } finally {
      this.running = false;
    }
    // A cancelled call is not answered, and its stream stays until the agent closes it (as on the SDK path).
    if (this.controller.signal.aborted) return;
    this.answer.finish(message);
  }

  /** A message the agent posted for this session, maybe to another replica: an answer or a cancellation. */
  receive(message: Rpc): void {
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      // The SDK matches answers by numeric id, whatever JSON type the agent gave it.
      this.relays?.get(Number(message['id']))?.(message);
      return;
    }
    const cancel = CancelledNotificationSchema.safeParse(message);
    if (!cancel.success || !cancel.data.params.requestId) return;
    if (cancel.data.params.requestId === this.request.id && this.running) {
      this.controller.abort(cancel.data.params.reason);
    }
  }

  /** Ends the call's stream as the session ends (DELETE) or Airlock stops; a held call stays pending. */
  end(): void {
    this.disconnect();
    this.answer.end();
  }

  /** See {@link end}. */
  async close(): Promise<void> {
    this.end();
  }

  /** True while the call runs on `server`. */
  hasCallOn(server: string): boolean {
    return this.running && this.server === server;
  }

  /** 1 while the call runs on `server`, else 0. */
  callsOn(server: string): number {
    return this.hasCallOn(server) ? 1 : 0;
  }

  /** Relays a modern upstream's log message on the call's stream, at or above the session's level. */
  relayCallLog(server: string, message: RpcMessage): boolean {
    if (!this.hasCallOn(server)) return false;
    const rank = (level: unknown) => LOG_LEVELS.indexOf(level as LogLevel);
    if (rank(message.params?.['level']) >= rank(this.logLevel)) this.sendRelated(message);
    return true;
  }

  /**
   * Nothing to do: a POST's session object has no stream for notifications unrelated to its request (the
   * SDK path drops them too); they reach the agent on its GET stream, wherever that is held.
   */
  notify(): void {}

  /**
   * Sends an upstream's request to the agent on this call's stream and waits for its answer, with the
   * SDK's rules: the agent must have declared the capability, the wait ends after the SDK's default
   * request timeout, and an abort (or the timeout) tells the agent with `notifications/cancelled`.
   */
  relayRequest(server: string, request: RpcMessage, signal: AbortSignal): Promise<Rpc> {
    const needed = NEEDS_CAPABILITY[request.method];
    if (needed !== undefined && !this.record.clientCapabilities[needed]) {
      return Promise.reject(
        new McpError(ErrorCode.MethodNotFound, `The agent does not support ${request.method}`),
      );
    }
    if (!this.hasCallOn(server) || this.closed) {
      // The SDK would send it to a GET stream this request does not have, and time out.
      return Promise.reject(
        new McpError(ErrorCode.InvalidRequest, `No open stream of the agent can carry ${request.method}`),
      );
    }
    if (this.controller.signal.aborted) {
      return Promise.reject(new McpError(ErrorCode.ConnectionClosed, 'Request was cancelled'));
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    this.relays ??= new Map();
    if (this.nextRelayId === 0) this.nextRelayId = randomInt(2 ** 40);
    const id = this.nextRelayId++;
    const relays = this.relays;
    return new Promise<Rpc>((resolve, reject) => {
      const settle = () => {
        relays.delete(id);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const cancel = (reason: unknown) => {
        settle();
        this.answer.send({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: String(reason) },
        });
        reject(reason instanceof McpError ? reason : new McpError(ErrorCode.RequestTimeout, String(reason)));
      };
      const onAbort = () => cancel(signal.reason);
      const timer = setTimeout(
        () =>
          cancel(
            McpError.fromError(ErrorCode.RequestTimeout, 'Request timed out', {
              timeout: DEFAULT_REQUEST_TIMEOUT_MSEC,
            }),
          ),
        DEFAULT_REQUEST_TIMEOUT_MSEC,
      );
      signal.addEventListener('abort', onAbort, { once: true });
      relays.set(id, (response) => {
        settle();
        if ('error' in response) {
          const e = response['error'] as { code: number; message: string; data?: unknown };
          return reject(McpError.fromError(e.code, e.message, e.data));
        }
        const parsed = ResultSchema.safeParse(response['result']);
        if (parsed.success) resolve(parsed.data);
        else reject(parsed.error);
      });
      this.answer.send({ ...request, jsonrpc: '2.0', id });
    });
  }

  /** A notification tied to the call: dropped once the call was cancelled or has ended. */
  private sendRelated(notification: RpcMessage): void {
    if (this.controller.signal.aborted || !this.running) return;
    this.answer.send({ ...notification, jsonrpc: '2.0' });
  }

  /** The agent went away (or its session ended): the call stops, a held call stays pending. */
  private disconnect(): void {
    if (this.gone) return;
    this.gone = true;
    this.answer.stop();
    if (this.running) this.controller.abort();
  }

  /** The request is over: waiting relays fail as the SDK's do on close, and the registry forgets it. */
  private release(): void {
    if (this.closed) return;
    this.closed = true;
    this.answer.stop();
    if (this.relays) {
      const waiting = [...this.relays.values()];
      this.relays.clear();
      const closed = {
        jsonrpc: '2.0',
        id: null,
        error: { code: ErrorCode.ConnectionClosed, message: 'Connection closed' },
      };
      for (const settle of waiting) settle(closed);
    }
    this.onclose?.();
  }
}

/** Answers a fast-path tools/list: nothing can come before its result. */
export function answerToolList(
  methods: AgentMethods,
  agent: string,
  record: SessionRecord,
  request: { readonly id: string | number; readonly jsonFirst: boolean },
  res: ServerResponse,
): void {
  let message: Rpc;
  try {
    // Only a session that negotiated tasks is told which tools run as tasks (see AgentSession).
    const taskSupport = sessionTasks(methods, record);
    message = {
      result: { tools: methods.listTools(agent, { taskSupport }) },
      jsonrpc: '2.0',
      id: request.id,
    };
  } catch (err) {
    message = errorAnswer(request.id, err);
  }
  const answer = new DeferredAnswer(res, { 'Mcp-Session-Id': record.id }, 0);
  if (!request.jsonFirst) answer.open();
  answer.finish(message);
}

/** True when this Airlock offers tasks and the session negotiated them at initialize. */
function sessionTasks(methods: AgentMethods, record: SessionRecord): boolean {
  return methods.tasks !== undefined && record.tasks === true;
}

/** The error response the SDK's Protocol sends when a request handler throws `err`. */
function errorAnswer(id: string | number, err: unknown): Rpc {
  const e = err as { code?: unknown; message?: string; data?: unknown };
  return {
    jsonrpc: '2.0',
    id,
    error: {
      code: Number.isSafeInteger(e.code) ? e.code : ErrorCode.InternalError,
      message: e.message ?? 'Internal error',
      ...(e.data !== undefined && { data: e.data }),
    },
  };
}
