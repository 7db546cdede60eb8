import type { Client, RequestOptions } from '@modelcontextprotocol/client';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AirlockError } from '../core/errors.js';
import {
  describeError,
  formatSeconds,
  isHttpConnectionFailure,
  isLocalTimeout,
  isUpstreamRpcError,
  toMcpError,
} from './upstream-errors.js';
import { runInputRounds } from './input-rounds.js';
import type { UpstreamSession } from './upstream-session.js';
import type { RpcMessage, ToolCallParams, UpstreamRequestOptions } from './types.js';

/** What forwarding needs of the connection that owns the sessions. */
export interface ForwardingTarget {
  readonly name: string;
  /** The server's configured timeout, used unless a call sets its own. */
  readonly timeoutMs: number;
  /** The ready session; throws the unavailable error while there is none. */
  session(): UpstreamSession;
  /** The error callers get while no session is usable. */
  unavailable(cause: unknown): AirlockError;
  /** Gives up on a session whose connection failed, so that the connection reconnects. */
  lost(session: UpstreamSession, reason: string): void;
  /** Asks the agent whose call is in flight a question of the upstream's (sampling, elicitation, roots). */
  ask(request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>>;
}

type Send<T> = (client: Client, options: RequestOptions) => Promise<T>;

// A proxy passes results through as they are: no per-method schema, no output-schema checks (the agent's
// own client does those). The SDK still decodes the era's envelope and runs input_required rounds first.
const ANY_RESULT = z.looseObject({});

// The `_meta` keys of a modern request's client capabilities and log level; caller-supplied `_meta` wins
// over the SDK's envelope.
const CLIENT_CAPABILITIES_META = 'io.modelcontextprotocol/clientCapabilities';
const LOG_LEVEL_META = 'io.modelcontextprotocol/logLevel';

// What Airlock relays of the agent's capabilities; never anything Airlock itself implements (tasks).
const RELAYED_CAPABILITIES = ['elicitation', 'sampling', 'roots'] as const;

/** Sends calls, requests and notifications to the ready session, and says what went wrong in terms callers can act on. */
export class UpstreamForwarder {
  constructor(private readonly target: ForwardingTarget) {}

  /** Calls a tool; see Upstream.callTool. */
  async callTool(params: ToolCallParams, options: UpstreamRequestOptions): Promise<CallToolResult> {
    // Always ask for progress: the token lets the upstream report it, and each report keeps the timeout alive.
    const onprogress = (progress: Progress) => options.onprogress?.(progress);
    const result = await this.forward({ method: 'tools/call', params }, options, onprogress);
    return toCallToolResult(result);
  }

  /** Sends any other request and returns its result unchanged; see Upstream.request. */
  async request(message: RpcMessage, options: UpstreamRequestOptions): Promise<Record<string, unknown>> {
    return this.forward(message, options, options.onprogress);
  }

  /** Starts the updates of `uri` on the ready session (see UpstreamSession.subscribeResource). */
  async subscribeResource(uri: string): Promise<void> {
    await this.onSession('resources/subscribe', (session, timeout) =>
      session.subscribeResource(uri, timeout),
    );
  }

  /** Stops the updates of `uri` on the ready session. */
  async unsubscribeResource(uri: string): Promise<void> {
    await this.onSession('resources/unsubscribe', (session, timeout) =>
      session.unsubscribeResource(uri, timeout),
    );
  }

  /** Sends a notification; see Upstream.notify. */
  async notify(message: RpcMessage): Promise<void> {
    await this.send(message.method, {}, undefined, (client) => client.notification(toSdkMessage(message)));
  }

  /**
   * A request on the session's direct HTTP leg when it has one and the request is one the leg carries,
   * else through the SDK client (client.request rather than client.callTool: see ANY_RESULT).
   */
  private async forward(
    message: RpcMessage,
    options: UpstreamRequestOptions,
    onprogress: ((progress: Progress) => void) | undefined,
  ): Promise<Record<string, unknown>> {
    const session = this.target.session();
    const direct = session.direct;
    if (
      direct &&
      (direct.legacy ? legacyDirect(message.method, options) : DIRECT_METHODS.has(message.method))
    ) {
      const { method } = message;
      const timeout = options.timeoutMs ?? this.target.timeoutMs;
      const params = withCapabilities(true, message.params, options);
      const legOptions = {
        timeoutMs: timeout,
        ...(options.signal && { signal: options.signal }),
        ...(onprogress && { onprogress }),
      };
      try {
        const first = await direct.request(method, params, legOptions);
        if (first['resultType'] !== 'input_required' || options.allowInputRequired) return first;
        // Nobody takes the questions back: the agent is asked here, as the SDK client would ask it.
        const call = {
          method,
          params,
          signal: options.signal,
          onprogress,
          ask: (request: RpcMessage, signal: AbortSignal) => this.target.ask(request, signal),
          retry: (next: Record<string, unknown>) => direct.request(method, next, legOptions),
        };
        return await runInputRounds(call, first);
      } catch (err) {
        throw this.translate(err, session, message.method, timeout, options.signal);
      }
    }
    return this.send(message.method, options, onprogress, (client, sdkOptions) =>
      client.request(
        {
          method: message.method,
          params: withCapabilities(client.getProtocolEra() === 'modern', message.params, options),
        },
        ANY_RESULT,
        sdkOptions,
      ),
    );
  }

  private async send<T>(
    method: string,
    options: UpstreamRequestOptions,
    onprogress: ((progress: Progress) => void) | undefined,
    send: Send<T>,
  ): Promise<T> {
    const session = this.target.session();
    const timeout = options.timeoutMs ?? this.target.timeoutMs;
    try {
      const sdkOptions = requestOptions(timeout, options.signal, onprogress);
      if (options.allowInputRequired) sdkOptions.allowInputRequired = true;
      return await send(session.client, sdkOptions);
    } catch (err) {
      throw this.translate(err, session, method, timeout, options.signal);
    }
  }

  private async onSession(
    method: string,
    run: (session: UpstreamSession, timeoutMs: number) => Promise<void>,
  ): Promise<void> {
    const session = this.target.session();
    try {
      await run(session, this.target.timeoutMs);
    } catch (err) {
      throw this.translate(err, session, method, this.target.timeoutMs, undefined);
    }
  }

  private translate(
    err: unknown,
    session: UpstreamSession,
    method: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): unknown {
    const name = this.target.name;
    // The caller cancelled: give them their own reason back, nothing went wrong upstream.
    if (signal?.aborted) return signal.reason ?? err;
    if (err instanceof AirlockError) return err;
    if (isLocalTimeout(err, timeoutMs)) {
      return new AirlockError(
        'UPSTREAM_ERROR',
        `Upstream server "${name}" did not answer ${method} within ${formatSeconds(timeoutMs)}`,
        { server: name, method, timeoutMs },
        { cause: err },
      );
    }
    if (session.lost) return this.target.unavailable(err);
    // A JSON-RPC error the upstream answered with: the proxy forwards its code and message as they are.
    if (isUpstreamRpcError(err)) return toMcpError(err);
    if (session.upstream.kind === 'http' && isHttpConnectionFailure(err)) {
      this.target.lost(session, `reconnecting after ${describeError(err)}`);
      return this.target.unavailable(err);
    }
    return new AirlockError(
      'UPSTREAM_ERROR',
      `Upstream server "${name}" failed ${method}: ${describeError(err)}`,
      { server: name, method },
      { cause: err },
    );
  }
}

/**
 * The SDK options of every forwarded request. With resetTimeoutOnProgress the timeout bounds the silence
 * between progress reports, not the whole call: a long tool that keeps reporting is alive.
 */
function requestOptions(
  timeout: number,
  signal: AbortSignal | undefined,
  onprogress: ((progress: Progress) => void) | undefined,
): RequestOptions {
  return {
    timeout,
    resetTimeoutOnProgress: true,
    ...(signal ? { signal } : {}),
    ...(onprogress ? { onprogress } : {}),
  };
}

function toSdkMessage(message: RpcMessage): { method: string; params?: Record<string, unknown> } {
  return { method: message.method, ...(message.params ? { params: message.params } : {}) };
}

/**
 * A modern upstream reads the caller's capabilities from each request's `_meta`; with the agent's there,
 * it asks only for input the agent can give. Legacy upstreams saw Airlock's at initialize. The agent's
 * log level goes the same way: a modern upstream sends log messages during a request only when the
 * request names a level (a legacy one was told by `logging/setLevel`).
 */
function withCapabilities<P extends Record<string, unknown>>(
  modern: boolean,
  params: P | undefined,
  options: UpstreamRequestOptions,
): P | undefined {
  const agent = options.clientCapabilities;
  if (!modern || (!agent && !options.logLevel)) return params;
  const meta = (params?._meta ?? {}) as Record<string, unknown>;
  const added: Record<string, unknown> = {};
  if (agent && !(CLIENT_CAPABILITIES_META in meta)) {
    added[CLIENT_CAPABILITIES_META] = Object.fromEntries(
      RELAYED_CAPABILITIES.filter((k) => agent[k] !== undefined).map((k) => [k, agent[k]]),
    );
  }
  if (options.logLevel && !(LOG_LEVEL_META in meta)) added[LOG_LEVEL_META] = options.logLevel;
  if (Object.keys(added).length === 0) return params;
  return { ...params, _meta: { ...meta, ...added } } as unknown as P;
}

// The requests the direct HTTP leg carries: those a call makes, whose results pass through as they are.
// Others keep the SDK client, which refuses locally what the era does not have (ping, logging/setLevel).
const DIRECT_METHODS = new Set(['tools/call', 'resources/read', 'prompts/get']);

/**
 * On a 2025 session the direct leg carries tools/call for an agent that cannot be asked anything (it
 * declared none of the capabilities Airlock relays). A call whose upstream may ask the agent for input
 * mid-call keeps the SDK client, which validates the agent's answers against the era's schemas before
 * they go upstream; the leg answers the requests it does see through the same handler, unvalidated.
 */
function legacyDirect(method: string, options: UpstreamRequestOptions): boolean {
  const agent = options.clientCapabilities;
  return (
    method === 'tools/call' &&
    agent !== undefined &&
    !RELAYED_CAPABILITIES.some((k) => agent[k] !== undefined)
  );
}

/** Accepts pre-2025 `{ toolResult }` answers too, presenting them as ordinary text content. */
function toCallToolResult(result: Record<string, unknown>): CallToolResult {
  const content = result.content;
  if ('toolResult' in result && (!Array.isArray(content) || content.length === 0)) {
    const { toolResult, ...rest } = result;
    return { ...rest, content: [{ type: 'text', text: JSON.stringify(toolResult) }] };
  }
  return result as CallToolResult;
}
