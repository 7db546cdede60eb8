import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';

/** Options for {@link consoleRouter}. */
export interface ConsoleRouterOptions {
  /** Directory holding the console's static files. @defaultValue `<package root>/src/http/console` */
  dir?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The console runs only its own files and talks only to its own origin. `frame-ancestors 'none'`
 * matters most: an Approve button must never be clickable from inside someone else's page.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * Serves the web console (plain files, no build step) at `/`. Files are read once at startup from
 * the package's `src/http/console`, found by walking up to package.json, so the same path works from
 * `dist/` and from `src/` under tsx. They are revalidated on every load (`no-cache` + ETag) because
 * their names carry no content hash.
 */
export function consoleRouter(options: ConsoleRouterOptions = {}): Router {
  const dir = options.dir ?? join(packageRoot(), 'src', 'http', 'console');
  const assets = loadAssets(dir);
  const index = assets.get('index.html');
  if (!index) throw new Error(`web console files are missing: no index.html in ${dir}`);

  const router = express.Router();
  const send = (asset: Asset) => (req: Request, res: Response) => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', asset.etag);
    res.setHeader('Content-Type', asset.type);
    if (etagMatches(req.headers['if-none-match'], asset.etag)) return void res.status(304).end();
    res.setHeader('Content-Length', String(asset.body.length));
    if (req.method === 'HEAD') return void res.end();
    res.end(asset.body);
  };
  router.get(['/', '/index.html'], send(index));
  for (const [name, asset] of assets) if (name !== 'index.html') router.get(`/${name}`, send(asset));
  return router;
}

/** The directory holding package.json, above this file (works from `src/` and `dist/`). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) throw new Error(`no package.json above ${from}`);
  }
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  // A fixed set of flat files, so no request path ever reaches the filesystem.
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    const path = join(dir, name);
    if (!type || !/^[\w.-]+$/.test(name) || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    assets.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    });
  }
  return assets;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*');
}
