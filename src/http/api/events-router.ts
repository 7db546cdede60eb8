import express, { type Router } from 'express';
import { AirlockError } from '../../core/errors.js';
import type { RequestEvents, RequestChange } from '../../history/request-events.js';
import type { Logger } from '../../log.js';

/** Interval of the keep-alive comments that stop proxies from closing an idle stream. */
export const SSE_HEARTBEAT_MS = 15_000;

/** A client this far behind is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * `GET /events`: Server-Sent Events, one `event: request` with `{id, status}` per change to any request
 * on any replica. The first bytes (`: connected`) are sent only once the subscription is live, so a
 * client that has seen them misses nothing that happens afterwards.
 */
export function eventsRouter(events: RequestEvents, logger: Logger, heartbeatMs = SSE_HEARTBEAT_MS): Router {
  const router = express.Router();
  router.get('/events', async (_req, res) => {
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    let closed = false;
    const send = (text: string) => {
      if (closed) return;
      res.write(text);
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        logger.warn('live events client too slow; disconnecting it');
        res.destroy();
      }
    };
    const unlisten = await events
      .listen((c: RequestChange) => send(`event: request\ndata: ${JSON.stringify(c)}\n\n`))
      .catch((err: unknown) => {
        const why = `Live events unavailable: ${(err as Error).message}`;
        throw new AirlockError('REDIS_UNAVAILABLE', why, {}, { cause: err });
      });
    if (res.destroyed) {
      // The client left while the subscription was being set up.
      unlisten();
      return;
    }
    const heartbeat = setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
    const cleanup = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unlisten();
    };
    // The response's close, not the request's: a GET's request stream "closes" as soon as it is read.
    res.on('close', cleanup);
    res.status(200);
    res.flushHeaders();
    send('retry: 3000\n: connected\n\n');
  });
  return router;
}
