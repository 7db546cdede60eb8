import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running balancer, and which backend each request went to. */
export interface RoundRobin {
  url: string;
  /** Index into the backends of every request so far, in arrival order. */
  readonly picks: number[];
  close(): Promise<void>;
}

/**
 * The simplest load balancer there is: each HTTP request goes to the next backend in turn, no affinity,
 * bodies and responses (SSE included) streamed through as they come.
 */
export async function startRoundRobin(backends: string[]): Promise<RoundRobin> {
  const picks: number[] = [];
  let next = 0;
  const server: Server = createServer((req, res) => {
    const pick = next++ % backends.length;
    picks.push(pick);
    const target = new URL(req.url ?? '/', backends[pick]);
    const upstream = request(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    picks,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
