// A `subscriptions/listen` request on `/mcp`: its answer is a long-lived SSE stream. The acknowledgement
// comes first, then the notifications the client opted in to, each tagged with the request's id; the
// client closing the stream ends the subscription, and Airlock's shutdown ends it with the completion
// response.
import type { ServerResponse } from 'node:http';
import { ListenHub } from './listen-stream.js';
import type { ModernRequest } from './wire/envelope.js';
import { declaresTasks } from './task-methods.js';
import { errorResponse, httpStatusForWireError, invalidRequest } from './wire/errors.js';
import { sendJson } from './wire/json-answer.js';
import { chooseResponseMode, SseWriter } from './wire/sse.js';

/** Serves one validated listen request for `agent` until either side ends it. */
export async function serveListenStream(
  hub: ListenHub,
  agent: string,
  accept: string | undefined,
  res: ServerResponse,
  request: ModernRequest,
): Promise<void> {
  const id = request.id ?? null;
  const parsed = ListenHub.parseFilter(request.params, declaresTasks(request.envelope.clientCapabilities));
  if (!parsed.ok) {
    const error = parsed.error;
    return sendJson(res, httpStatusForWireError(error.code), errorResponse(id, error));
  }
  if (chooseResponseMode(accept, true) !== 'sse') {
    const error = invalidRequest(
      'subscriptions/listen answers with a stream: Accept must include text/event-stream',
    );
    return sendJson(res, 406, errorResponse(id, error));
  }
  const sse = new SseWriter(res);
  sse.open(200);
  const handle = await hub.open(
    agent,
    id,
    parsed.filter,
    {
      notify: (message) => void sse.send(message),
      end: (response) => {
        sse.send(response);
        sse.close();
      },
    },
    sse.signal,
  );
  if (sse.closed) return handle.close();
  sse.signal.addEventListener('abort', () => handle.close(), { once: true });
}
