// The HTTP listener of `airlock serve` (part of the composition root). `/mcp` is served by node:http
// directly, behind the same host guard: Express re-prototypes every request and response and hangs its
// routing state on them, which a call held for approval would keep for minutes. Everything else is one
// Express app with, in order, the host guard, Slack's signed events, the reviewer API, health and
// metrics, the console.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AirlockConfig } from './config/schema.js';
import { isLoopback } from './config/load-config.js';
import { mcpEndpoint, type McpEndpointOptions } from './agent/http-endpoint.js';
import type { SlackIntegration } from './slack/slack-integration.js';
import { healthRouter, type HealthSources } from './observe/health-router.js';
import { apiNotFound, apiRouter, type ApiDeps } from './http/api/api-router.js';
import { reviewerAuth } from './http/api/requests-router.js';
import { TokenAuth } from './http/auth.js';
import { consoleRouter } from './http/console-router.js';
import { hostAllowed, hostGuard, hostnameOf, hostRefusal, sameOriginWrites } from './http/host-guard.js';
import { createHttpApp, errorHandler, httpStatusOf, listenOn } from './http/http-app.js';
import { sendJson } from './agent/wire/json-answer.js';

/** What the listener serves. */
export interface HttpDeps {
  config: AirlockConfig;
  /** The MCP endpoint's parts; authentication comes from `config.agents`. */
  mcp: Omit<McpEndpointOptions, 'auth'>;
  api: ApiDeps;
  health: HealthSources;
  slack?: SlackIntegration;
  /** No tokens configured at all on loopback: the API and console are open (demo mode). */
  openReview: boolean;
}

/** A listening server: its base URL, and `close`, which ends the listener and then the MCP endpoint. */
export interface HttpListener {
  url: string;
  close(): Promise<void>;
}

/** Builds the app and listens on `config.listen`. */
export async function serveHttp(d: HttpDeps): Promise<HttpListener> {
  const { config } = d;
  const app = createHttpApp();
  let allows: ((host: string | undefined) => boolean) | undefined;
  if (isLoopback(config.listen.host)) {
    // Loopback names, plus the public name a reverse proxy in front of Airlock forwards.
    const names = ['127.0.0.1', 'localhost', '[::1]'];
    if (config.publicUrl) names.push(hostnameOf(new URL(config.publicUrl).host));
    app.use(hostGuard(names));
    allows = hostAllowed(names);
  }
  const agentAuth = new TokenAuth(config.agents, config.agents.length ? undefined : 'anonymous');
  const mcp = mcpEndpoint({ auth: agentAuth, ...d.mcp });
  const serveMcp = (req: IncomingMessage, res: ServerResponse): void => {
    if (allows && !allows(req.headers.host)) {
      const message = hostRefusal(req.headers.host);
      return sendJson(res, httpStatusOf('FORBIDDEN'), {
        jsonrpc: '2.0',
        error: { code: -32000, message },
        id: null,
      });
    }
    void mcp.handle(req, res);
  };
  // Bolt verifies Slack's signature over the raw body, so its router comes before any body parser.
  if (d.slack?.router) app.use(d.slack.router);
  // What isMcpPath does not recognise but Express routes to /mcp (an absolute-form target) still gets there.
  app.all(['/mcp', '/mcp/'], serveMcp);
  const reviewerTokens = new TokenAuth(config.reviewers, d.openReview ? 'local' : undefined);
  app.use('/api', reviewerAuth(reviewerTokens), sameOriginWrites(), apiRouter(d.api), apiNotFound());
  app.use(healthRouter(d.health));
  app.use(consoleRouter());
  app.use(errorHandler(d.api.logger));
  let server;
  try {
    server = await listenOn(
      (req, res) => (isMcpPath(req.url) ? serveMcp(req, res) : app(req, res)),
      config.listen.host,
      config.listen.port,
    );
  } catch (err) {
    await mcp.close();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await mcp.close();
    },
  };
}

/**
 * True for the targets Express routed to its `/mcp` mount: `/mcp` or `/mcp/`, in any case (Express
 * routes case-insensitively and not strictly), with or without a query.
 */
export function isMcpPath(url: string | undefined): boolean {
  if (url === undefined) return false;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path.length !== 4 && path.length !== 5) return false;
  const lower = path.toLowerCase();
  return lower === '/mcp' || lower === '/mcp/';
}
