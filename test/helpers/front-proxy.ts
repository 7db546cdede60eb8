// An HTTP front for a real upstream: it records every request Airlock sends (headers and body), passes
// it on, and lets a test answer chosen requests itself, as a hostile or broken upstream would.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

/** One request as the front received it. */
export interface SeenRequest {
  method: string;
  headers: Record<string, string>;
  body: Record<string, unknown> | undefined;
  /** Resolves when the client closed the connection before the answer was complete. */
  abandoned: Promise<void>;
}

/** Answers a request itself instead of passing it on; return false to pass it on after all. */
export type Answer = (req: SeenRequest, res: ServerResponse) => boolean | Promise<boolean>;

/** A running front: its URL, what it saw, and the test's answer for tools/call requests by tool name. */
export class FrontProxy extends EventEmitter<{ request: [SeenRequest] }> {
  readonly seen: SeenRequest[] = [];
  /** Per tool name (the `Mcp-Name` of a tools/call), how the front answers instead of the upstream. */
  readonly answers = new Map<string, Answer>();
  /** How GET requests are answered (stream resumption); passed on when unset. */
  onGet: Answer | undefined;
  private readonly server = createServer((req, res) => {
    this.handle(req, res).catch(() => res.destroy());
  });
  url = '';

  constructor(private readonly upstreamUrl: string) {
    super();
  }

  /** Listens on a free loopback port. */
  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}${new URL(this.upstreamUrl).pathname}`;
    return this;
  }

  /** The recorded tools/call requests for one tool. */
  calls(tool: string): SeenRequest[] {
    return this.seen.filter((r) => toolOf(r) === tool);
  }

  /** Resolves with the next request for which `match` holds (or the first already seen). */
  async next(match: (r: SeenRequest) => boolean): Promise<SeenRequest> {
    const found = this.seen.find(match);
    if (found) return found;
    for (;;) {
      const [r] = await once(this, 'request');
      if (match(r as SeenRequest)) return r as SeenRequest;
    }
  }

  /** Stops listening and drops open connections. */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const abandoned = new Promise<void>((resolve) =>
      res.once('close', () => {
        if (!res.writableFinished) resolve();
      }),
    );
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
      abandoned,
    };
    this.seen.push(seen);
    this.emit('request', seen);
    const answer = seen.method === 'GET' ? this.onGet : this.answers.get(toolOf(seen) ?? '\0no name');
    if (answer && headers['mcp-method'] !== 'server/discover' && (await answer(seen, res))) return;
    const forwarded: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers))
      if (k !== 'host' && k !== 'content-length') forwarded[k] = v;
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    const up = await fetch(this.upstreamUrl, {
      method: seen.method,
      headers: forwarded,
      ...(text ? { body: text } : {}),
      signal: abort.signal,
    });
    const back: Record<string, string> = {};
    for (const h of ['content-type', 'cache-control', 'mcp-session-id']) {
      const v = up.headers.get(h);
      if (v !== null) back[h] = v;
    }
    res.writeHead(up.status, back);
    if (!up.body) return void res.end();
    Readable.fromWeb(up.body as never)
      .on('error', () => res.destroy())
      .pipe(res);
  }
}

/** The tool a tools/call request names: its `Mcp-Name` (2026-07-28), else its body (a 2025 session). */
function toolOf(r: SeenRequest): string | undefined {
  if (r.headers['mcp-method'] !== undefined) {
    return r.headers['mcp-method'] === 'tools/call' ? r.headers['mcp-name'] : undefined;
  }
  const params = r.body?.['params'] as { name?: unknown } | undefined;
  return r.body?.['method'] === 'tools/call' && typeof params?.name === 'string' ? params.name : undefined;
}
