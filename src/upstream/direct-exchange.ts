// One request in flight on the direct HTTP leg (direct-http.ts): its timer, its caller's signal, and the
// messages the upstream sends for it (the response, progress, log messages, and in the 2025 era the
// upstream's own requests, answered as the SDK client answers them).
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { excerpt, toProtocolError } from './direct-wire.js';
import { decodeModernResult, isPlainObject } from './modern-result.js';
import type { RpcMessage } from './types.js';

/** Per-request options of the direct path. */
export interface DirectRequestOptions {
  /** Silence allowed before the request fails; each progress report for it starts the wait again. */
  timeoutMs: number;
  /** Aborting closes the request's stream, the era's cancellation. */
  signal?: AbortSignal;
  /** With it the request carries a progress token and the upstream's reports arrive here. */
  onprogress?: (progress: Progress) => void;
}

/** Where a 2025-era upstream's requests during a call go, and how their answers go back. */
export interface Peer {
  onRequest(request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>>;
  answer(message: unknown): void;
}

/** One request in flight: its timer, its caller's signal, and what the upstream sends for it. */
export class Exchange {
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onCallerAbort: (() => void) | undefined;
  /** The upstream's requests being answered, by their id, so that the upstream can cancel them. */
  private readonly asked = new Map<unknown, AbortController>();

  constructor(
    readonly method: string,
    readonly id: number,
    private readonly options: DirectRequestOptions,
    private readonly onNotification: (notification: RpcMessage) => void,
    private readonly peer?: Peer,
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
      return this.peer
        ? decodeLegacyResult(this.method, message['result'])
        : decodeModernResult(this.method, message['result']);
    }
    const method = message['method'];
    if (typeof method !== 'string') return undefined;
    const params = isPlainObject(message['params']) ? message['params'] : undefined;
    if ('id' in message) {
      // A request of the upstream's (2025 era only): answered as the SDK client answers it.
      if (this.peer) this.ask(message['id'], { method, ...(params && { params }) });
      return undefined;
    }
    if (method === 'notifications/progress') {
      if (!this.options.onprogress || Number(params?.['progressToken']) !== this.id) return undefined;
      this.arm();
      const { progressToken: _token, ...progress } = params!;
      this.options.onprogress(progress as Progress);
      return undefined;
    }
    if (method === 'notifications/cancelled') {
      this.asked.get(params?.['requestId'])?.abort(params?.['reason']);
      return undefined;
    }
    this.onNotification({ method, ...(params && { params }) });
    return undefined;
  }

  /**
   * Hands a request of the upstream's to the session's request handler and POSTs its answer: the result,
   * or the error it threw with its code (Internal error without one), as the SDK client answers. Nothing
   * goes back once the upstream cancelled it.
   */
  private ask(id: unknown, request: RpcMessage): void {
    const peer = this.peer!;
    const control = new AbortController();
    this.asked.set(id, control);
    peer
      .onRequest(request, control.signal)
      .then(
        (result) => {
          if (!control.signal.aborted) peer.answer({ result, jsonrpc: '2.0', id });
        },
        (err: unknown) => {
          if (control.signal.aborted) return;
          const e = (err ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
          const code = Number.isSafeInteger(e.code) ? e.code : -32603;
          const message = typeof e.message === 'string' ? e.message : 'Internal error';
          peer.answer({
            jsonrpc: '2.0',
            id,
            error: { code, message, ...(e.data !== undefined && { data: e.data }) },
          });
        },
      )
      .finally(() => this.asked.delete(id));
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

/** A 2025-era result as the SDK client decodes it in that era: as it is, less a `resultType` if it has one. */
function decodeLegacyResult(method: string, raw: unknown): Record<string, unknown> {
  if (!isPlainObject(raw)) {
    throw new SdkError(SdkErrorCode.InvalidResult, `Invalid result for ${method}: not an object`, { method });
  }
  if (!('resultType' in raw)) return raw;
  const { resultType: _type, ...result } = raw;
  return result;
}
