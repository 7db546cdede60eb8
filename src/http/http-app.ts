import { createServer, type RequestListener, type Server as HttpServer } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { AirlockError, ERROR_CODES, toAirlockError, type AirlockErrorCode } from '../core/errors.js';
import type { Logger } from '../log.js';

/** The one place an AirlockError becomes an HTTP status. */
export function httpStatusOf(code: AirlockErrorCode): number {
  return ERROR_CODES[code].http;
}

/** The Express app every HTTP surface mounts on, with JSON errors rendered in one handler. */
export function createHttpApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  return app;
}

/** Renders any error as `{error: {code, message}}`; internal failures never blame the caller. */
export function errorHandler(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const body = err as { type?: string; status?: number };
    let e: AirlockError;
    if (body?.type === 'entity.too.large') e = new AirlockError('BAD_REQUEST', 'Request body too large');
    else if (body?.type === 'entity.parse.failed')
      e = new AirlockError('BAD_REQUEST', 'Request body is not valid JSON');
    else e = toAirlockError(err);
    const status = httpStatusOf(e.code);
    if (status >= 500) logger.error({ err }, 'http request failed');
    if (res.headersSent) return;
    res.status(status).json({
      error: { code: e.code, message: status === 500 ? 'Internal error' : e.message, ...e.details },
    });
  };
}

/** Pending-connection queue length for the HTTP listener. @defaultValue 4096 */
const LISTEN_BACKLOG = 4096;

/** Starts serving `handler` (an Express app, or a listener in front of one); resolves once the port is bound. */
export function listenOn(handler: RequestListener, host: string, port: number): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    const server = createServer(handler);
    server.once('error', reject);
    // Every held call keeps a connection open; a deep backlog absorbs bursts of agents connecting at once.
    server.listen(port, host, LISTEN_BACKLOG, () => resolve(server));
  });
}
