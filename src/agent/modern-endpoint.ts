// One 2026-07-28 request on `/mcp`, from its classified body to the HTTP answer. Stateless: nothing is
// kept between requests, so any replica serves any request. The answer is JSON unless a notification
// must go first; then the request's own SSE stream opens, and the client closing it cancels the call.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RpcMessage } from '../upstream/types.js';
import { serveListenStream } from './listen-http.js';
import type { ListenHub } from './listen-stream.js';
import { ModernDispatcher, type ModernAnswer } from './modern-dispatch.js';
import { validateModernRequest, type JsonObject } from './wire/envelope.js';
import {
  errorResponse,
  httpStatusForWireError,
  invalidRequest,
  type JsonRpcId,
  type WireError,
} from './wire/errors.js';
import { sendEmpty, sendJson } from './wire/json-answer.js';
import { abortOnClientClose, chooseResponseMode, SseWriter } from './wire/sse.js';

/**
 * Serves one enveloped request (or notification) for `agent`; the promise settles once it is answered.
 * Not async: the answer is written by a continuation, so a call held for approval keeps no frame of this
 * function (the request, its body) while it waits.
 */
export function serveModernRequest(
  dispatcher: ModernDispatcher,
  agent: string,
  req: IncomingMessage,
  res: ServerResponse,
  message: JsonObject,
  listens?: ListenHub,
): Promise<void> | void {
  const rawId = message['id'];
  const id: JsonRpcId = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : null;
  const checked = validateModernRequest(message, req.headers);
  if (!checked.ok) return sendError(res, id, checked.error);
  const request = checked.value;
  // Cancellation is the stream closing; a modern client sends no other notification Airlock acts on.
  if (request.id === undefined) return sendEmpty(res, 202);
  const accept = req.headers.accept;
  if (request.method === 'subscriptions/listen' && listens) {
    return serveListenStream(listens, agent, accept, res, request);
  }

  const streamable = ModernDispatcher.mayStream(request);
  const mode = chooseResponseMode(accept, streamable);
  if (mode === undefined) {
    return sendError(
      res,
      id,
      invalidRequest('Accept must include application/json or text/event-stream'),
      406,
    );
  }
  const signal = abortOnClientClose(res);
  let sse: SseWriter | undefined;
  const openStream = () => {
    if (!sse) {
      sse = new SseWriter(res);
      sse.open(200);
    }
    return sse;
  };
  const notify = (n: RpcMessage) => {
    if (mode !== 'sse' || signal.aborted) return;
    openStream().send({ jsonrpc: '2.0', ...n });
  };
  const reply = (answer: ModernAnswer): void => {
    if (signal.aborted || res.destroyed) return;
    // A client that takes only SSE gets its answer as an event even when nothing streamed before it.
    const onlySse = chooseResponseMode(accept, false) === 'sse';
    if (sse || onlySse) {
      const stream = openStream();
      stream.send(
        'result' in answer ? { jsonrpc: '2.0', id, result: answer.result } : errorResponse(id, answer.error),
      );
      stream.close();
      return;
    }
    if ('error' in answer) return sendError(res, id, answer.error);
    sendJson(res, 200, { jsonrpc: '2.0', id, result: answer.result });
  };
  const ctx = { agent, request, headers: req.headers, signal, notify };

  const problem = dispatcher.precheck(ctx);
  if (problem) return reply({ error: problem });
  return dispatcher.handle(ctx).then(reply);
}

function sendError(res: ServerResponse, id: JsonRpcId, error: WireError, status?: number): void {
  if (res.headersSent) return;
  sendJson(res, status ?? httpStatusForWireError(error.code), errorResponse(id, error));
}
