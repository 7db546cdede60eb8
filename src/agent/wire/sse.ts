// Server-Sent Events on a Node ServerResponse, for one request's answer (progress and logs, then the
// response) or a long-lived listen / 2025 GET stream.
import type { ServerResponse } from 'node:http';

/** How one request is answered: a single JSON body, or an SSE stream. */
export type ResponseMode = 'json' | 'sse';

/** Options of {@link SseWriter}. */
export interface SseWriterOptions {
  /** Interval of `:` comment lines that keep idle proxies and clients from closing the stream. @defaultValue 15000 */
  readonly keepAliveMs?: number;
}

/** Default keep-alive interval, the one the MCP SDK uses. @defaultValue 15000 */
export const SSE_KEEP_ALIVE_MS = 15_000;

/** SSE field values end at a line break, and NUL is not allowed in an id. */
const LINE_BREAK_OR_NUL = /[\r\n\0]/;

/**
 * Picks the answer's form from `Accept`: SSE when the answer may stream and the client takes it, else
 * JSON when the client takes that, else SSE if that is all it takes; undefined (406) when it takes neither.
 */
export function chooseResponseMode(
  accept: string | readonly string[] | undefined,
  mayStream: boolean,
): ResponseMode | undefined {
  const { sse, json } = acceptedForms(typeof accept === 'string' ? accept : (accept ?? []).join(','));
  if (mayStream && sse) return 'sse';
  if (json) return 'json';
  return sse ? 'sse' : undefined;
}

/** Accept values seen lately and what they take; a client sends the same one on every request. */
const acceptCache = new Map<string, { sse: boolean; json: boolean }>();
const ACCEPT_CACHE_SIZE = 64;

function acceptedForms(accept: string): { sse: boolean; json: boolean } {
  let forms = acceptCache.get(accept);
  if (forms) return forms;
  const ranges = parseAccept(accept);
  forms = { sse: accepts(ranges, 'text', 'event-stream'), json: accepts(ranges, 'application', 'json') };
  if (accept.length <= 512) {
    if (acceptCache.size >= ACCEPT_CACHE_SIZE) acceptCache.clear();
    acceptCache.set(accept, forms);
  }
  return forms;
}

/**
 * An AbortSignal that fires when the client goes away before the response has been sent in full: on
 * 2026-07-28 HTTP, closing a request's stream is how the client cancels it.
 */
export function abortOnClientClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
  });
  return controller.signal;
}

/** One SSE stream on a ServerResponse; writes after the stream ended are dropped and reported false. */
export class SseWriter {
  private readonly keepAliveMs: number;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  /** The client closed the stream before we ended it. */
  private gone = false;
  private aborter: AbortController | undefined;

  constructor(
    private readonly res: ServerResponse,
    options: SseWriterOptions = {},
  ) {
    this.keepAliveMs = options.keepAliveMs ?? SSE_KEEP_ALIVE_MS;
    // One listener, no AbortSignal unless someone asks for it: a held call's stream stays open for
    // minutes, and an AbortSignal with its listener maps costs more than the rest of the writer.
    res.once('close', () => {
      if (res.writableFinished) return;
      this.gone = true;
      this.stop();
      this.aborter?.abort(new Error('the client closed the connection'));
    });
  }

  /** Aborts when the client closes the stream before we end it; made on first use. */
  get signal(): AbortSignal {
    if (!this.aborter) {
      this.aborter = new AbortController();
      if (this.gone) this.aborter.abort(new Error('the client closed the connection'));
    }
    return this.aborter.signal;
  }

  /** True once the stream ended, by us or by the client. */
  get closed(): boolean {
    return this.ended || this.gone || this.res.destroyed;
  }

  /** Sends the status line and headers and starts the keep-alive. */
  open(status = 200, extraHeaders: Readonly<Record<string, string>> = {}): void {
    if (this.res.headersSent) throw new Error('SSE stream opened after headers were sent');
    this.res.writeHead(status, {
      ...extraHeaders,
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // Tells nginx-style proxies not to buffer, or events would arrive in bursts.
      'X-Accel-Buffering': 'no',
    });
    this.res.flushHeaders();
    if (this.keepAliveMs > 0) {
      this.timer = setInterval(() => this.comment(), this.keepAliveMs);
      // A quiet stream must not keep the process alive on shutdown.
      this.timer.unref();
    }
  }

  /**
   * Sends one JSON-RPC message as a `message` event. `id` is for 2025 sessions' resumable streams only:
   * 2026-07-28 removed event ids and `Last-Event-ID`, so modern streams send none.
   */
  send(message: unknown, id?: string): boolean {
    if (id !== undefined && LINE_BREAK_OR_NUL.test(id))
      throw new Error('SSE event id may not contain line breaks');
    const lines = ['event: message'];
    if (id !== undefined) lines.push(`id: ${id}`);
    // JSON.stringify escapes line breaks inside strings, so the payload is always one data line.
    lines.push(`data: ${JSON.stringify(message)}`);
    return this.write(`${lines.join('\n')}\n\n`);
  }

  /** Sends a comment line, which clients ignore; the keep-alive is an empty one. */
  comment(text = ''): boolean {
    return this.write(`:${text.replace(/[\r\n]+/g, ' ')}\n\n`);
  }

  /** Ends the stream (after the final response, or on shutdown). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.stop();
    if (!this.res.destroyed) this.res.end();
  }

  private write(chunk: string): boolean {
    if (this.closed || !this.res.headersSent) return false;
    this.res.write(chunk);
    return true;
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [mediaType = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const [type, subtype] = mediaType.split('/');
    if (!type || !subtype) continue;
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    ranges.push({ type, subtype, q: Number.isFinite(q) ? q : 0 });
  }
  return ranges;
}

/** True when the most specific range matching type/subtype has q > 0. */
function accepts(ranges: readonly MediaRange[], type: string, subtype: string): boolean {
  const exact = ranges.find((r) => r.type === type && r.subtype === subtype);
  const anySub = ranges.find((r) => r.type === type && r.subtype === '*');
  const any = ranges.find((r) => r.type === '*' && r.subtype === '*');
  const match = exact ?? anySub ?? any;
  return match !== undefined && match.q > 0;
}
