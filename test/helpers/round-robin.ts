// A per-request round-robin HTTP balancer for tests, behaving like nginx's or a cloud L7 balancer's
// default: each request goes to the next backend in turn, with no affinity of any kind. A backend whose
// port refuses the connection is skipped and the request tried on the next one (nginx's next-upstream
// on a connect error); a request that reached a backend is never sent again, so a backend dying mid-request
// is an error the client sees (502 before the response started, a cut stream after).
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** The response header naming the backend that answered, like nginx's `$upstream_addr`. */
export const BACKEND_HEADER = 'x-upstream-backend';

/** Headers that belong to one connection and are not forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** What the balancer did, for assertions and the figures a test prints. */
export interface BalancerStats {
  /** Requests forwarded, by backend base URL. */
  forwarded: Map<string, number>;
  /** Connection attempts refused, which moved a request on to the next backend. */
  refused: number;
  /** Requests that reached a backend which then failed before answering (answered 502). */
  badGateway: number;
  /** Responses cut short because the backend went away while streaming. */
  cut: number;
  /** Requests no backend would take (answered 502). */
  noBackend: number;
}

/** A running balancer. */
export interface RoundRobin {
  /** Base URL clients talk to, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The backends' base URLs, in turn order. */
  readonly backends: readonly string[];
  readonly stats: BalancerStats;
  stop(): Promise<void>;
}

/** Starts a balancer over `backends` (base URLs such as `http://127.0.0.1:7420`). */
export async function startRoundRobin(backends: readonly string[]): Promise<RoundRobin> {
  if (!backends.length) throw new Error('startRoundRobin needs at least one backend');
  const targets = backends.map((b) => new URL(b));
  const stats: BalancerStats = {
    forwarded: new Map(backends.map((b) => [b, 0])),
    refused: 0,
    badGateway: 0,
    cut: 0,
    noBackend: 0,
  };
  let next = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // The body is read first so that a refused connection can move it on to the next backend intact.
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const start = next;
    next = (next + 1) % targets.length;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(start + i) % targets.length]!;
      const outcome = await forward(target, req, body, res);
      if (outcome === 'refused') {
        stats.refused++;
        continue;
      }
      const base = target.origin;
      stats.forwarded.set(base, (stats.forwarded.get(base) ?? 0) + 1);
      if (outcome === 'bad-gateway') stats.badGateway++;
      if (outcome === 'cut') stats.cut++;
      return;
    }
    stats.noBackend++;
    fail(res, 'no backend accepted the connection');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    backends: targets.map((t) => t.origin),
    stats,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Outcome = 'done' | 'refused' | 'bad-gateway' | 'cut';

/** Sends one request to one backend and relays its answer (streamed as it arrives). */
function forward(target: URL, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (o: Outcome) => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    const headers = forwardable(req.headers);
    headers['host'] = target.host;
    headers['content-length'] = String(body.length);
    const upstream = httpRequest({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
      // A fresh connection per request: a backend that died is then a refused connect, never a stale socket.
      agent: false,
    });
    let connected = false;
    upstream.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && err.code === 'ECONNREFUSED') return settle('refused');
      if (!res.headersSent) {
        fail(res, `backend ${target.origin} failed: ${err.code ?? err.message}`);
        return settle('bad-gateway');
      }
      res.destroy();
      settle('cut');
    });
    upstream.on('response', (answer) => {
      const out = forwardable(answer.headers);
      out[BACKEND_HEADER] = target.origin;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
      // SSE responses must reach the client event by event.
      res.flushHeaders();
      answer.on('data', (chunk: Buffer) => res.write(chunk));
      answer.on('end', () => {
        res.end();
        settle('done');
      });
      answer.on('aborted', () => {
        res.destroy();
        settle('cut');
      });
      answer.on('error', () => {
        res.destroy();
        settle('cut');
      });
    });
    // The client going away ends the backend request too: closing a stream is how MCP cancels.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  });
}

function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  }
  return out;
}

function fail(res: ServerResponse, why: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(502, { 'content-type': 'text/plain' }).end(`Bad Gateway: ${why}\n`);
}
