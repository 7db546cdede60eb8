// The HTTP listener of `airlock serve` (part of the composition root): one express app with, in order,
// the host guard, Slack's signed events, the MCP endpoint, the reviewer API, health and metrics, the console.
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
import { hostGuard, hostnameOf, sameOriginWrites } from './http/host-guard.js';
import { createHttpApp, errorHandler, listenOn } from './http/http-app.js';

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
  if (isLoopback(config.listen.host)) {
    // Loopback names, plus the public name a reverse proxy in front of Airlock forwards.
    const names = ['127.0.0.1', 'localhost', '[::1]'];
    if (config.publicUrl) names.push(hostnameOf(new URL(config.publicUrl).host));
    app.use(hostGuard(names));
  }
  const agentAuth = new TokenAuth(config.agents, config.agents.length ? undefined : 'anonymous');
  const mcp = mcpEndpoint({ auth: agentAuth, ...d.mcp });
  // Bolt verifies Slack's signature over the raw body, so its router comes before any body parser.
  if (d.slack?.router) app.use(d.slack.router);
  app.use('/mcp', mcp.router);
  const reviewerTokens = new TokenAuth(config.reviewers, d.openReview ? 'local' : undefined);
  app.use('/api', reviewerAuth(reviewerTokens), sameOriginWrites(), apiRouter(d.api), apiNotFound());
  app.use(healthRouter(d.health));
  app.use(consoleRouter());
  app.use(errorHandler(d.api.logger));
  let server;
  try {
    server = await listenOn(app, config.listen.host, config.listen.port);
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
