// The floor for any proxy in Node that looks at the request: `node:http` in, `JSON.parse` of every body,
// and out through undici's keep-alive pool (Node's global fetch). No SDK, no policy: it forwards the MCP
// headers both eras use and pipes the upstream's answer back as it comes (JSON or SSE).
// Run: `node bench/floor-proxy.ts PORT UPSTREAM_URL` (with `--import tsx`); prints "listening PORT".
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

/** Request headers passed to the upstream. */
const FORWARDED = [
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
];
/** Response headers passed back to the client. */
const RETURNED = ['content-type', 'mcp-session-id', 'cache-control'];

async function forward(upstreamUrl: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let body: string | undefined;
  if (req.method === 'POST') {
    body = Buffer.concat(chunks).toString('utf8');
    try {
      JSON.parse(body); // the floor looks at what it forwards
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
      return;
    }
  }
  const headers: Record<string, string> = {};
  for (const h of FORWARDED) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  const up = await fetch(upstreamUrl, {
    method: req.method ?? 'GET',
    headers,
    ...(body !== undefined ? { body } : {}),
    signal: abort.signal,
  });
  const out: Record<string, string> = {};
  for (const h of RETURNED) {
    const v = up.headers.get(h);
    if (v !== null) out[h] = v;
  }
  res.writeHead(up.status, out);
  if (!up.body) return void res.end();
  Readable.fromWeb(up.body as never)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** Starts the floor proxy on 127.0.0.1:`port` in front of `upstreamUrl`; resolves with the bound port. */
export async function startFloorProxy(
  port: number,
  upstreamUrl: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    forward(upstreamUrl, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await startFloorProxy(Number(process.argv[2] ?? 0), String(process.argv[3]));
  process.stdout.write(`listening ${port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}
