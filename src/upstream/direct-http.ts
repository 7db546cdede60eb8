// The allow path's upstream leg to a 2026-07-28 HTTP upstream, written by hand: one keep-alive undici pool
// per upstream and one POST per request, instead of the SDK client over WHATWG fetch, which a profile put
// at a third of Airlock's CPU per allowed call. It sends what the SDK client sends in that era (the
// `_meta` envelope and the standard headers) and reports every failure as the same SDK error the SDK path
// raises, so that UpstreamForwarder translates both alike. Discovery, listen streams, legacy upstreams
// and stdio stay with the SDK client.
import { STATUS_CODES } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { ProtocolError, SdkError, SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { Pool } from 'undici';
import type { HttpServerConfig } from '../config/schema.js';
import { decodeModernResult, isPlainObject } from './modern-result.js';
import { readSseEvents, type SseState } from './sse-events.js';
import type { RpcMessage } from './types.js';

/** How Airlock presents itself on every request: the era's `_meta` envelope. */
export interface DirectIdentity {
  protocolVersion: string;
  clientInfo: unknown;
  capabilities: unknown;
}

/** Per-request options of the direct path. */
export interface DirectRequestOptions {
  /** Silence allowed before the request fails; each progress report for it starts the wait again. */
  timeoutMs: number;
  /** Aborting closes the request's stream, the era's cancellation. */
  signal?: AbortSignal;
  /** With it the request carries a progress token and the upstream's reports arrive here. */
  onprogress?: (progress: Progress) => void;
}

/** The most of one answer (a JSON body, or one event of a stream) Airlock reads before giving up on it. */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

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

/** Sends requests to one modern HTTP upstream over its own connection pool. */
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
    const exchange = new Exchange(method, id, options, this.onNotification);
    try {
      return await this.post(exchange, headers, body);
    } catch (err) {
      throw exchange.failure(err);
    } finally {
      exchange.done();
    }
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
      if (status === 400 && text !== null) {
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
    const headers = {
      ...this.headers,
      'mcp-protocol-version': this.identity.protocolVersion,
      accept: mergeAccept(this.headers['accept'], ['text/event-stream']),
      'last-event-id': lastEventId,
    };
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

type Body = Awaited<ReturnType<Pool['request']>>['body'];

/** One request in flight: its timer, its caller's signal, and what the upstream sends for it. */
class Exchange {
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onCallerAbort: (() => void) | undefined;

  constructor(
    readonly method: string,
    readonly id: number,
    private readonly options: DirectRequestOptions,
    private readonly onNotification: (notification: RpcMessage) => void,
  ) {
    const caller = options.signal;
    if (caller) {
      this.onCallerAbort = () => this.abort.abort(caller.reason);
      caller.addEventListener('abort', this.onCallerAbort, { once: true });
    }
    this.arm();
  }

  /** Aborts the HTTP exchange on timeout or on the caller's abort. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Handles one JSON-RPC message of the answer; returns the result once the response to this request came. */
  receive(message: unknown): Record<string, unknown> | undefined {
    if (!isPlainObject(message))
      throw new Error(`sent a message that is not a JSON-RPC object: ${excerpt(message)}`);
    if ('result' in message || 'error' in message) {
      const error = message['error'];
      // An error about a request it could not read carries a null id; it is still this request's answer.
      if (!(isPlainObject(error) && message['id'] === null) && Number(message['id']) !== this.id) {
        throw new Error(`answered request ${this.id} with the response to ${excerpt(message['id'])}`);
      }
      if (error !== undefined) throw toProtocolError(error);
      return decodeModernResult(this.method, message['result']);
    }
    const method = message['method'];
    if (typeof method !== 'string' || 'id' in message) return undefined; // requests belong to the legacy era
    const params = isPlainObject(message['params']) ? message['params'] : undefined;
    if (method === 'notifications/progress') {
      if (!this.options.onprogress || Number(params?.['progressToken']) !== this.id) return undefined;
      this.arm();
      const { progressToken: _token, ...progress } = params!;
      this.options.onprogress(progress as Progress);
      return undefined;
    }
    if (method === 'notifications/cancelled') return undefined;
    this.onNotification({ method, ...(params && { params }) });
    return undefined;
  }

  /** What the request fails with: the timeout or the caller's reason once aborted, else `err` itself. */
  failure(err: unknown): unknown {
    return this.abort.signal.aborted ? this.abort.signal.reason : err;
  }

  /** Stops the timer and lets go of the caller's signal. */
  done(): void {
    clearTimeout(this.timer);
    if (this.onCallerAbort) this.options.signal?.removeEventListener('abort', this.onCallerAbort);
  }

  private arm(): void {
    clearTimeout(this.timer);
    const timeout = this.options.timeoutMs;
    this.timer = setTimeout(() => {
      // The SDK's own timeout error, which the forwarder recognises by the timeout it carries.
      this.abort.abort(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout }));
    }, timeout);
  }
}

function toProtocolError(error: unknown): ProtocolError {
  const e = isPlainObject(error) ? error : {};
  const code = typeof e['code'] === 'number' ? e['code'] : -32603;
  const message = typeof e['message'] === 'string' ? e['message'] : 'Internal error';
  return ProtocolError.fromError(code, message, e['data']);
}

/** The JSON-RPC error a 400 body carries for request `id`, if it is one. */
function rpcErrorFor(text: string, id: number): ProtocolError | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isPlainObject(parsed) && isPlainObject(parsed['error']) && Number(parsed['id']) === id) {
      return toProtocolError(parsed['error']);
    }
  } catch {
    // Not JSON: the HTTP error it is.
  }
  return undefined;
}

/** The body as text, refusing one that is (or says it will be) larger than MAX_ANSWER_BYTES. */
async function readText(body: Body, headers: Record<string, unknown>): Promise<string> {
  const tooLarge = () => new Error(`answered with more than ${MAX_ANSWER_BYTES} bytes`);
  if (Number(headers['content-length']) > MAX_ANSWER_BYTES) {
    body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_ANSWER_BYTES) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `type/subtype` of a Content-Type header, lowercased; undefined when there is none. */
function mediaType(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const essence = value?.split(';', 1)[0]?.trim().toLowerCase();
  return essence ? essence : undefined;
}

/** The configured Accept's media types plus `required`, each once, as the SDK transport merges them. */
function mergeAccept(configured: string | undefined, required: string[]): string {
  const types = (configured?.split(',') ?? []).map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
  return [...new Set([...types, ...required])].join(', ');
}

/**
 * A header carries a value as it is only when it is plain printable ASCII without edge spaces; anything
 * else goes base64-encoded between the revision's `=?base64?` … `?=` markers.
 */
function headerValue(value: string): string {
  const plain =
    value !== '' &&
    value === value.trim() &&
    /^[\t\x20-\x7e]*$/.test(value) &&
    !(value.startsWith('=?base64?') && value.endsWith('?='));
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** True for the socket failing under a stream (as opposed to what the upstream sent on it). */
function isDropped(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_ABORTED)$/.test(code);
}

/** The start of something an upstream sent, for an error message. */
function excerpt(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
