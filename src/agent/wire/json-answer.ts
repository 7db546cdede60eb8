// A whole JSON body on a plain Node response: what `/mcp` answers outside its streams (errors, 2026-07-28
// results, 202/200 acknowledgements). `/mcp` is served by node:http directly, not by Express, so the
// request and response stay Node's own objects for as long as a call is held (src/http-listener.ts).
import type { ServerResponse } from 'node:http';

/** Sends `body` as `application/json; charset=utf-8` with `status` (the form Express's `res.json` has). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** Ends the response with `status` and no body. */
export function sendEmpty(res: ServerResponse, status: number): void {
  res.statusCode = status;
  res.end();
}
