// The allow path's upstream leg to an HTTP upstream, written by hand: one keep-alive undici pool per
// upstream and one POST per request, instead of the SDK client over WHATWG fetch, which a profile put at a
// third of Airlock's CPU per allowed call. It sends what the SDK client sends in the upstream's era (for
// 2026-07-28 the `_meta` envelope and the standard headers; for a 2025 session its session id and
// negotiated version, and `notifications/cancelled` when a call is given up) and reports every failure as
// the same SDK error the SDK path raises, so that UpstreamForwarder translates both alike. Discovery,
// initialize, lists, listen streams, notifications and stdio stay with the SDK client.
import { STATUS_CODES } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { SdkError, SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';
import { Pool } from 'undici';
import type { HttpServerConfig } from '../config/schema.js';
import {
  MAX_ANSWER_BYTES,
  excerpt,
  headerValue,
  isDropped,
  mediaType,
  mergeAccept,
  readText,
  rpcErrorFor,
  type Body,
} from './direct-wire.js';
import { isPlainObject } from './modern-result.js';
import { readSseEvents, type SseState } from './sse-events.js';
import { Exchange, type DirectRequestOptions } from './direct-exchange.js';
import type { RpcMessage } from './types.js';

export { MAX_ANSWER_BYTES } from './direct-wire.js';

/**
 * A 2025-era session the leg shares with the SDK client that opened it: the session id its transport
 * holds, the client's own request ids (one id space per session), and where the upstream's requests
 * during a call go (the client's request handlers' target).
 */
export interface LegacySession {
  sessionId(): string | undefined;
  nextId(): number;
  onRequest(request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>>;
}

/** How Airlock presents itself on every request: the era's `_meta` envelope (2026-07-28), or its session. */
export interface DirectIdentity {
  protocolVersion: string;
  clientInfo: unknown;
  capabilities: unknown;
  /** Set for a 2025-era upstream: the session the leg's requests belong to. */
  legacy?: LegacySession;
}

export type { DirectRequestOptions } from './direct-exchange.js';

// The body field each method's `Mcp-Name` header mirrors.
const NAME_FIELD: Record<string, string> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

// A stream that ends before its answer is resumed from its last event id, as the SDK client does: after
// the delay the server asked for, else 1 s growing 1.5× per failed attempt, at most this many in a row.
const MAX_RESUME_FAILURES = 2;

/** Sends requests to one HTTP upstream over its own connection pool. */
export class DirectHttpForwarder {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly accept: string;
  private nextId = 0;

  constructor(
    config: HttpServerConfig,
    private readonly identity: DirectIdentity,
    /** Notifications the upstream sends during a request, other than its progress. */
    private readonly onNotification: (notification: RpcMessage) => void,
  ) {
    const url = new URL(config.url);
    this.path = `${url.pathname}${url.search}`;
    // The request's own timer bounds the wait (and progress extends it); undici's would cut it at 300 s.
    this.pool = new Pool(url.origin, { headersTimeout: 0, bodyTimeout: 0 });
    this.headers = {};
    for (const [name, value] of Object.entries(config.headers)) this.headers[name.toLowerCase()] = value;
    this.accept = mergeAccept(this.headers['accept'], ['application/json', 'text/event-stream']);
  }

  /** Sends one request and resolves with its decoded result (`input_required` included, as the SDK's manual mode). */
  async request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: DirectRequestOptions,
  ): Promise<Record<string, unknown>> {
    if (options.signal?.aborted) throw options.signal.reason;
    const legacy = this.identity.legacy;
    if (legacy) return this.legacyRequest(legacy, method, params, options);
    const id = this.nextId++;
    const envelope = {
      'io.modelcontextprotocol/protocolVersion': this.identity.protocolVersion,
      'io.modelcontextprotocol/clientInfo': this.identity.clientInfo,
      'io.modelcontextprotocol/clientCapabilities': this.identity.capabilities,
    };
    // The request's own `_meta` wins over the envelope; the progress token is the request id.
    const own = isPlainObject(params?.['_meta']) ? params['_meta'] : undefined;
    const meta = { ...envelope, ...own, ...(options.onprogress && { progressToken: id }) };
    const body = JSON.stringify({ method, params: { ...params, _meta: meta }, jsonrpc: '2.0', id });
    const headers: Record<string, string> = {
      ...this.headers,
      'mcp-protocol-version': this.identity.protocolVersion,
      'mcp-method': method,
      'content-type': 'application/json',
      accept: this.accept,
    };
    const field = NAME_FIELD[method];
    const name = field !== undefined ? params?.[field] : undefined;
    if (typeof name === 'string') headers['mcp-name'] = headerValue(name);
    return this.exchange(new Exchange(method, id, options, this.onNotification), headers, body);
  }

  /** The 2025 era's request: no envelope, the session's id and version, the SDK client's own request id. */
  private async legacyRequest(
    legacy: LegacySession,
    method: string,
    params: Record<string, unknown> | undefined,
    options: DirectRequestOptions,
  ): Promise<Record<string, unknown>> {
    const id = legacy.nextId();
    const sent = options.onprogress
      ? {
          ...params,
          _meta: { ...(params?.['_meta'] as Record<string, unknown> | undefined), progressToken: id },
        }
      : params;
    const body = JSON.stringify({ method, params: sent, jsonrpc: '2.0', id });
    const headers = this.sessionHeaders(legacy, this.accept);
    headers['content-type'] = 'application/json';
    const peer = {
      onRequest: legacy.onRequest,
      answer: (message: unknown) => this.answer(legacy, message),
    };
    const exchange = new Exchange(method, id, options, this.onNotification, peer);
    // Given up (the caller's abort or the timeout): the upstream is told, as the SDK client tells it.
    exchange.signal.addEventListener('abort', () => {
      const reason = String(exchange.signal.reason);
      this.answer(legacy, {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: id, reason },
      });
    });
    return this.exchange(exchange, headers, body);
  }

  private async exchange(exchange: Exchange, headers: Record<string, string>, body: string) {
    try {
      return await this.post(exchange, headers, body);
    } catch (err) {
      throw exchange.failure(err);
    } finally {
      exchange.done();
    }
  }

  /** Configured headers plus the session's id and version, as the SDK transport sends them on a session. */
  private sessionHeaders(legacy: LegacySession, accept: string): Record<string, string> {
    const headers: Record<string, string> = { ...this.headers };
    const sessionId = legacy.sessionId();
    if (sessionId !== undefined) headers['mcp-session-id'] = sessionId;
    headers['mcp-protocol-version'] = this.identity.protocolVersion;
    headers['accept'] = accept;
    return headers;
  }

  /** POSTs a message that expects no answer (a response, a notification) on the session; failures are dropped. */
  private answer(legacy: LegacySession, message: unknown): void {
    const headers = this.sessionHeaders(legacy, this.accept);
    headers['content-type'] = 'application/json';
    const body = JSON.stringify(message);
    void this.send({ path: this.path, method: 'POST', headers, body })
      .then((res) => res.body.dump())
      .catch(() => undefined);
  }

  /** True on a 2025-era session, where the leg carries tools/call only (see UpstreamForwarder). */
  get legacy(): boolean {
    return this.identity.legacy !== undefined;
  }

  /** Ends the pool; requests in flight fail at once (their session is lost by then). */
  async close(): Promise<void> {
    await this.pool.destroy().catch(() => undefined);
  }

  private async post(
    exchange: Exchange,
    headers: Record<string, string>,
    body: string,
  ): Promise<Record<string, unknown>> {
    const res = await this.send({ path: this.path, method: 'POST', headers, body, signal: exchange.signal });
    const status = res.statusCode;
    const type = mediaType(res.headers['content-type']);
    if (status < 200 || status >= 300) {
      const text = await readText(res.body, res.headers).catch(() => null);
      // A modern upstream may refuse a request with its JSON-RPC error on a 400.
      if (status === 400 && text !== null && !this.identity.legacy) {
        const error = rpcErrorFor(text, exchange.id);
        if (error) throw error;
      }
      throw new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${text}`, {
        status,
        statusText: res.statusText || STATUS_CODES[status] || '',
        text,
      });
    }
    if (type === 'application/json') {
      const text = await readText(res.body, res.headers);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new Error(`answered with a body that is not JSON: ${excerpt(text)}`);
      }
      for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
        const answer = exchange.receive(message);
        if (answer) return answer;
      }
      throw new Error(`answered without a response to request ${exchange.id}`);
    }
    if (type === 'text/event-stream') return this.stream(exchange, res.body);
    res.body.destroy();
    if (status === 202 || type === undefined) {
      throw new Error(`answered HTTP ${status} without a response to request ${exchange.id}`);
    }
    throw new SdkError(SdkErrorCode.ClientHttpUnexpectedContent, `Unexpected content type: ${type}`, {
      contentType: res.headers['content-type'],
    });
  }

  /** Reads the request's event stream until its response, resuming it when it ends before that. */
  private async stream(exchange: Exchange, first: Body): Promise<Record<string, unknown>> {
    const state: SseState = { lastEventId: undefined, retryMs: undefined };
    let body: Body | undefined = first;
    let failures = 0;
    for (;;) {
      if (body) {
        try {
          const answer = await this.answerIn(exchange, body, state);
          if (answer) return answer;
        } catch (err) {
          // A dropped stream is resumed like one that ended; anything else it sent is its answer.
          if (exchange.signal.aborted || state.lastEventId === undefined || !isDropped(err)) throw err;
        }
      }
      if (state.lastEventId === undefined || failures >= MAX_RESUME_FAILURES) {
        throw new Error(`closed its event stream without answering request ${exchange.id}`);
      }
      await delay(state.retryMs ?? 1000 * 1.5 ** failures, undefined, { signal: exchange.signal });
      body = await this.resume(exchange, state.lastEventId).catch((err: unknown) => {
        if (exchange.signal.aborted) throw err;
        return undefined;
      });
      failures = body ? 0 : failures + 1;
    }
  }

  /** The response among the events of `body`, or undefined when the stream ends before it. */
  private async answerIn(
    exchange: Exchange,
    body: Body,
    state: SseState,
  ): Promise<Record<string, unknown> | undefined> {
    for await (const event of readSseEvents(body, state, MAX_ANSWER_BYTES)) {
      // An event without data primes the stream with an id to resume from; it carries no message.
      if (event.event !== 'message' || event.data === '') continue;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        throw new Error(`sent an event that is not JSON: ${excerpt(event.data)}`);
      }
      const answer = exchange.receive(message);
      if (answer) {
        // Anything after the response is not this request's; the connection is not worth draining.
        body.destroy();
        return answer;
      }
    }
    return undefined;
  }

  /** A GET for the rest of a stream after `lastEventId`; undefined when the upstream would not give it. */
  private async resume(exchange: Exchange, lastEventId: string): Promise<Body | undefined> {
    const accept = mergeAccept(this.headers['accept'], ['text/event-stream']);
    const legacy = this.identity.legacy;
    const headers = legacy
      ? this.sessionHeaders(legacy, accept)
      : { ...this.headers, 'mcp-protocol-version': this.identity.protocolVersion, accept };
    headers['last-event-id'] = lastEventId;
    const res = await this.send({ path: this.path, method: 'GET', headers, signal: exchange.signal });
    if (res.statusCode >= 200 && res.statusCode < 300) return res.body;
    res.body.destroy();
    return undefined;
  }

  private async send(request: Parameters<Pool['request']>[0]): Promise<Awaited<ReturnType<Pool['request']>>> {
    try {
      return await this.pool.request(request);
    } catch (err) {
      // Worded like the SDK path's fetch failure; the cause's code is what marks it a lost connection.
      throw new TypeError('fetch failed', { cause: err });
    }
  }
}
