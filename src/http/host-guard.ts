import type { NextFunction, Request, Response } from 'express';
import { httpStatusOf } from './http-app.js';

/** The host name of a Host header, without its port (`[::1]:7420` → `[::1]`). */
export function hostnameOf(host: string | undefined): string {
  if (!host) return '';
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1).toLowerCase();
  return host.replace(/:\d+$/, '').toLowerCase();
}

/**
 * DNS-rebinding protection for a listener on loopback: a page on another site that re-resolves its
 * name to 127.0.0.1 sends its own Host, so every request whose Host is not an expected name is refused
 * before it reaches the MCP endpoint, the API, the console or Slack.
 */
export function hostGuard(allowed: readonly string[]) {
  const allows = hostAllowed(allowed);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (allows(req.headers.host)) return next();
    const message = hostRefusal(req.headers.host);
    res.status(httpStatusOf('FORBIDDEN'));
    if (req.path.startsWith('/mcp')) res.json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
    else res.json({ error: { code: 'FORBIDDEN', message } });
  };
}

/** The host guard's test alone, for `/mcp`, which is served before the Express app (see http-listener.ts). */
export function hostAllowed(allowed: readonly string[]): (host: string | undefined) => boolean {
  const names = new Set(allowed.map((h) => h.toLowerCase()));
  return (host) => names.has(hostnameOf(host));
}

/** What the host guard answers for a Host it refuses. */
export function hostRefusal(host: string | undefined): string {
  return `Forbidden: Host "${String(host ?? '').slice(0, 200)}" is not allowed`;
}

/**
 * Cross-site request forgery guard for state-changing API calls: they must be JSON (a cross-site form
 * or `text/plain` POST cannot be, without a CORS preflight Airlock never grants) or a bodyless DELETE,
 * and a browser's `Origin`, when sent, must be this server's own.
 */
export function sameOriginWrites() {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (originHost(origin) !== req.headers.host) {
        res
          .status(httpStatusOf('FORBIDDEN'))
          .json({ error: { code: 'FORBIDDEN', message: 'Cross-origin requests are not allowed' } });
        return;
      }
    }
    // A DELETE names everything in its path and has nothing to say in a body. Browsers never send a
    // DELETE cross-site without a CORS preflight (which Airlock never grants), so one without a body
    // needs no content type.
    const bodyless = req.method === 'DELETE' && req.is('application/json') === null;
    if (!bodyless && !req.is('application/json')) {
      res
        .status(415)
        .json({ error: { code: 'BAD_REQUEST', message: 'Content-Type must be application/json' } });
      return;
    }
    next();
  };
}

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
