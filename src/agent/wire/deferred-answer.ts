// The answer to one POSTed JSON-RPC request whose form is chosen at its first byte. The 2025 transport
// lets a server answer a request either as one JSON body or as an SSE stream that ends with the response,
// and the client must take both. Most calls have nothing to send before their result, so they get the
// cheap JSON body; the first notification or relayed request before the result opens the stream instead,
// and so does the first keep-alive tick, so a long call is never silent on the wire for longer than it
// is on the SDK's own stream. A caller that knows the answer will take long opens the stream at once.
import type { ServerResponse } from 'node:http';
import { SSE_KEEP_ALIVE_MS, SseWriter } from './sse.js';

/** One request's answer; see the file comment. */
export class DeferredAnswer {
  private sse: SseWriter | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    /** Sent with either form (the session id). */
    private readonly headers: Readonly<Record<string, string>>,
    keepAliveMs = SSE_KEEP_ALIVE_MS,
  ) {
    if (keepAliveMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.stream()?.comment();
      }, keepAliveMs);
      // A call waiting here must not keep the process alive on shutdown.
      this.timer.unref();
    }
  }

  /** True once the answer ended, by us or by the client. */
  get closed(): boolean {
    return this.ended || this.res.destroyed || (this.sse?.closed ?? false);
  }

  /** True once the SSE stream is open. */
  get streaming(): boolean {
    return this.sse !== undefined;
  }

  /** Opens the SSE stream now, before anything is sent on it (a call that will take long). */
  open(): void {
    this.stream();
  }

  /** Sends a message that precedes the answer (a notification, a request to the agent); opens the stream. */
  send(message: unknown): boolean {
    return this.stream()?.send(message) ?? false;
  }

  /** Sends the final message: the whole body if nothing went before, else the stream's last event. */
  finish(message: unknown): void {
    if (this.closed) return;
    if (this.sse) {
      this.sse.send(message);
      this.end();
      return;
    }
    this.stop();
    this.ended = true;
    const body = JSON.stringify(message);
    this.res.writeHead(200, {
      ...this.headers,
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
    });
    this.res.end(body);
  }

  /** Ends the answer with nothing more; a stream that never opened opens empty, as the SDK's would end. */
  end(): void {
    if (this.ended) return;
    this.stream();
    this.ended = true;
    this.stop();
    this.sse?.close();
  }

  /** Stops the keep-alive (the client went away). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private stream(): SseWriter | undefined {
    if (this.sse) return this.sse;
    if (this.closed || this.res.headersSent) return undefined;
    this.stop();
    this.sse = new SseWriter(this.res);
    this.sse.open(200, this.headers);
    return this.sse;
  }
}
