import type { IncomingMessage, ServerResponse } from 'node:http';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { TokenAuth } from '../http/auth.js';
import type { Logger } from '../log.js';
import type { ListenHub } from './listen-stream.js';
import type { LegacySessions } from './legacy-sessions.js';
import type { ModernDispatcher } from './modern-dispatch.js';
import { serveModernRequest } from './modern-endpoint.js';
import { classifyHttpRequest } from './wire/classify.js';
import { errorResponse, type WireError } from './wire/errors.js';
import { sendJson } from './wire/json-answer.js';

/** Largest accepted JSON-RPC body on /mcp. @defaultValue 4 MiB */
export const MAX_MCP_BODY_BYTES = 4 * 1024 * 1024;

/** A 2025 session's record expires after this long without a request. @defaultValue 1 hour */
export const SESSION_IDLE_MS = 60 * 60 * 1000;

/** Options for the agent-facing Streamable HTTP endpoint. */
export interface McpEndpointOptions {
  auth: TokenAuth;
  /** 2025 sessions, shared through Redis so that any replica serves any of their requests. */
  legacy: LegacySessions;
  /** Answers 2026-07-28 (enveloped) requests, which need no session. */
  modern: ModernDispatcher;
  /** Serves 2026-07-28 `subscriptions/listen` streams; without it the method is unknown (-32601). */
  listens?: ListenHub;
  logger: Logger;
}

/** The `/mcp` endpoint: a plain Node request handler, and its sessions' count and shutdown. */
export interface McpEndpoint {
  /** Serves one request to `/mcp`; never rejects (a failure is answered 500 and logged). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  close(): Promise<void>;
  count(): number;
}

/**
 * The `/mcp` endpoint, both eras: 2026-07-28 requests (enveloped) are served statelessly, one by one;
 * 2025 clients get Streamable HTTP sessions, each bound to the agent whose token opened it and kept in
 * Redis, so no request needs the replica that served the one before. It takes Node's own request and
 * response (no Express), so a call held for approval costs no more than its socket and its wait.
 */
export function mcpEndpoint(options: McpEndpointOptions): McpEndpoint {
  const { auth, logger } = options;

  const rpcError = (res: ServerResponse, status: number, code: number, message: string) => {
    if (!res.headersSent) sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });
  };
  const wireError = (res: ServerResponse, status: number, error: WireError, body?: unknown) => {
    // Answer with the request's id when the body had a usable one, so the client can match the error.
    const id = (body as { id?: unknown } | undefined)?.id;
    const rpcId = typeof id === 'string' || typeof id === 'number' ? id : null;
    if (!res.headersSent) sendJson(res, status, errorResponse(rpcId, error));
  };

  // Each branch hands its era's promise back instead of awaiting it here, so that this frame (the
  // request, its body and its classification) is not kept while a call is held for minutes.
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const who = auth.authenticate(req.headers.authorization);
    if (!who.ok) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="airlock"');
      return rpcError(res, 401, -32001, `Unauthorized: ${who.message}`);
    }
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readJson(req);
      if (!read.ok) return rpcError(res, read.status, read.status === 413 ? -32600 : -32700, read.message);
      body = read.value;
    }
    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = typeof sessionHeader === 'string' && sessionHeader !== '' ? sessionHeader : undefined;
    const c = classifyHttpRequest({ method: req.method ?? 'GET', headers: req.headers, body });
    if (c.kind === 'modern') {
      return serveModernRequest(options.modern, who.id, req, res, c.message, options.listens);
    }
    if (c.kind === 'malformed-modern') return wireError(res, 400, c.error, body);
    const batchHandshake =
      sessionId === undefined && Array.isArray(body) && body.some((m) => isInitializeRequest(m));
    if ((c.kind === 'legacy-handshake' && sessionId === undefined) || batchHandshake) {
      return options.legacy.open(who.id, req, res, body);
    }
    if (c.kind === 'bad-request') return wireError(res, c.status, c.error, body);
    if (sessionId === undefined) {
      return rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    }
    // A session belongs to the agent that opened it; another agent's token meets 404, as a forged id does.
    return options.legacy.serve(who.id, sessionId, req, res, body);
  };

  return {
    handle: (req, res) =>
      serve(req, res).catch((err: unknown) => {
        logger.error({ err }, 'mcp request failed');
        rpcError(res, 500, -32603, 'Internal error');
      }),
    count: () => options.legacy.count(),
    close: () => options.legacy.close(),
  };
}

type JsonBody = { ok: true; value: unknown } | { ok: false; status: number; message: string };

async function readJson(req: IncomingMessage): Promise<JsonBody> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_MCP_BODY_BYTES) {
    return { ok: false, status: 413, message: `Request body exceeds ${MAX_MCP_BODY_BYTES} bytes` };
  }
  const body = await readBody(req);
  if (body === undefined) {
    return { ok: false, status: 413, message: `Request body exceeds ${MAX_MCP_BODY_BYTES} bytes` };
  }
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    return { ok: false, status: 400, message: 'Parse error: body is not valid JSON' };
  }
}

/**
 * The body as text, or undefined once it passes MAX_MCP_BODY_BYTES (the rest is not kept). Plain
 * stream events rather than an async iterator: this runs on every request.
 */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_MCP_BODY_BYTES) {
        cleanup();
        // What would be thrown away is not read: the stream is destroyed, as leaving a for-await loop does.
        req.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      // Closed before the end: what arrived is not a whole body.
      cleanup();
      reject(new Error('request closed before its body ended'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
