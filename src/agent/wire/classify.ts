// Which era one inbound message belongs to (design 1.5). The body decides first, headers second: a body
// carrying the envelope is modern whatever its method or headers say, so a proxy stripping headers cannot
// change the era. Only a body without the envelope is judged by its headers and session id.
import {
  headerMismatch,
  invalidParams,
  invalidRequest,
  methodNotFound,
  sessionRequired,
  unsupportedProtocolVersion,
  type WireError,
} from './errors.js';
import {
  hasEnvelopeClaim,
  isJsonObject,
  META_KEYS,
  metaOf,
  parseEnvelope,
  type JsonObject,
} from './envelope.js';
import { readHeader, type HeaderMap } from './headers.js';
import { MODERN_PROTOCOL_VERSIONS, namesModernEra } from './supported-versions.js';

/** Requests the 2026-07-28 revision no longer has; with an envelope they are unknown methods (404). */
export const REMOVED_REQUEST_METHODS: readonly string[] = [
  'initialize',
  'ping',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
  'tasks/result',
  'tasks/list',
];

/** Notifications the 2026-07-28 revision no longer has; a modern server drops them. */
export const REMOVED_NOTIFICATION_METHODS: readonly string[] = [
  'notifications/initialized',
  'notifications/roots/list_changed',
  'notifications/elicitation/complete',
];

/** What to do with one HTTP request on `/mcp`. */
export type HttpClassification =
  /** Serve statelessly; the envelope and headers still need validateModernRequest. */
  | { readonly kind: 'modern'; readonly message: JsonObject; readonly isNotification: boolean }
  /** `initialize` without an envelope: mint a session. */
  | { readonly kind: 'legacy-handshake'; readonly message: JsonObject; readonly requestedVersion?: string }
  /** Traffic of an existing 2025 session: GET stream, DELETE, or a POST carrying `Mcp-Session-Id`. */
  | {
      readonly kind: 'legacy-session';
      readonly sessionId?: string;
      readonly httpMethod: 'GET' | 'POST' | 'DELETE';
    }
  /** Claims the modern era but cannot be served as such; answer `error` (400). */
  | { readonly kind: 'malformed-modern'; readonly error: WireError }
  /** Neither era can take it; answer `error` with `status`. */
  | { readonly kind: 'bad-request'; readonly error: WireError; readonly status: number };

/** One HTTP request as the classifier needs it: the body parsed once, headers as a plain map. */
export interface InboundHttpRequest {
  readonly method: string;
  readonly headers: HeaderMap;
  /** The parsed JSON body; undefined for GET/DELETE. */
  readonly body?: unknown;
}

/** What the opening (or a later) message on a stdio connection means. */
export type StdioClassification =
  /** Serve statelessly. `pins` is false for a `server/discover` probe, after which a client may still initialize. */
  | { readonly kind: 'modern'; readonly pins: boolean }
  | { readonly kind: 'legacy-handshake'; readonly requestedVersion?: string }
  /** The process is pinned to the 2025 era: hand the message to the legacy session. */
  | { readonly kind: 'legacy-session' }
  | { readonly kind: 'malformed-modern'; readonly error: WireError }
  /** Unusable; answer `error` when the message has an id, otherwise drop it. */
  | { readonly kind: 'bad-request'; readonly error: WireError };

/** True for a method 2026-07-28 removed; an enveloped request for it is answered {@link methodNotFound}. */
export function isRemovedMethod(method: string): boolean {
  return REMOVED_REQUEST_METHODS.includes(method) || REMOVED_NOTIFICATION_METHODS.includes(method);
}

/** Classifies one HTTP request on the dual-era endpoint. */
export function classifyHttpRequest(request: InboundHttpRequest): HttpClassification {
  const httpMethod = request.method.toUpperCase();
  const session = readHeader(request.headers, 'Mcp-Session-Id');
  const sessionId = session.state === 'present' && session.value !== '' ? session.value : undefined;
  if (httpMethod === 'GET' || httpMethod === 'DELETE') {
    return { kind: 'legacy-session', httpMethod, ...(sessionId !== undefined && { sessionId }) };
  }
  if (httpMethod !== 'POST') {
    return {
      kind: 'bad-request',
      status: 405,
      error: invalidRequest(`HTTP ${httpMethod} is not allowed on /mcp`),
    };
  }
  const versionHeader = readHeader(request.headers, 'MCP-Protocol-Version');
  const headerVersion = versionHeader.state === 'present' ? versionHeader.value : undefined;
  const headerNamesModern = headerVersion !== undefined && namesModernEra(headerVersion);
  const inSession = (): HttpClassification =>
    sessionId !== undefined
      ? { kind: 'legacy-session', httpMethod: 'POST', sessionId }
      : { kind: 'bad-request', status: 400, error: sessionRequired() };

  const body = request.body;
  if (Array.isArray(body)) {
    const problem = batchProblem(body);
    return problem ? { kind: 'bad-request', status: 400, error: problem } : inSession();
  }
  const shape = messageShape(body);
  if (shape === 'response') return inSession();
  if (shape === undefined || !isJsonObject(body)) {
    return { kind: 'bad-request', status: 400, error: invalidRequest('the body is not a JSON-RPC message') };
  }
  const params = body['params'];
  const method = body['method'] as string;

  if (shape === 'request' && method === 'initialize' && !carriesValidModernClaim(params)) {
    if (headerNamesModern) {
      return {
        kind: 'malformed-modern',
        error: headerMismatch(
          'initialize is the 2025 handshake but MCP-Protocol-Version names a modern revision',
          {
            header: 'MCP-Protocol-Version',
            received: headerVersion,
          },
        ),
      };
    }
    const requested = isJsonObject(params) ? params['protocolVersion'] : undefined;
    return {
      kind: 'legacy-handshake',
      message: body,
      ...(typeof requested === 'string' && { requestedVersion: requested }),
    };
  }
  if (hasEnvelopeClaim(params))
    return { kind: 'modern', message: body, isNotification: shape === 'notification' };
  if (headerNamesModern) {
    // A modern notification needs no envelope of its own; a request does.
    if (shape === 'notification') return { kind: 'modern', message: body, isNotification: true };
    return { kind: 'malformed-modern', error: missingEnvelope(params, headerVersion) };
  }
  return inSession();
}

/**
 * Classifies a stdio message. `pinned` is the era the process settled on, if any: stdio has no headers,
 * so before pinning the body alone decides, and after it the era holds for the process's lifetime.
 */
export function classifyStdioMessage(message: unknown, pinned?: 'modern' | 'legacy'): StdioClassification {
  const shape = messageShape(message);
  if (pinned === 'legacy' && shape !== undefined) return { kind: 'legacy-session' };
  if (shape === undefined || shape === 'response' || !isJsonObject(message)) {
    return { kind: 'bad-request', error: invalidRequest('expected a JSON-RPC request or notification') };
  }
  const params = message['params'];
  const method = message['method'] as string;
  if (method === 'initialize' && shape === 'request' && !carriesValidModernClaim(params)) {
    if (pinned === 'modern') {
      // The 2025 era is gone for this process, so the versions to offer are the modern ones only.
      const requested = isJsonObject(params) ? params['protocolVersion'] : undefined;
      return {
        kind: 'malformed-modern',
        error: unsupportedProtocolVersion(
          typeof requested === 'string' ? requested : 'unknown',
          MODERN_PROTOCOL_VERSIONS,
        ),
      };
    }
    const requested = isJsonObject(params) ? params['protocolVersion'] : undefined;
    return {
      kind: 'legacy-handshake',
      ...(typeof requested === 'string' && { requestedVersion: requested }),
    };
  }
  if (hasEnvelopeClaim(params)) {
    const probe = method === 'server/discover' || shape === 'notification';
    return { kind: 'modern', pins: pinned === undefined && !probe };
  }
  // Modern notifications carry no envelope of their own (notifications/cancelled, for one).
  if (shape === 'notification' && pinned === 'modern') return { kind: 'modern', pins: false };
  if (shape === 'request') return { kind: 'malformed-modern', error: missingEnvelope(params, undefined) };
  return { kind: 'bad-request', error: invalidRequest(`${method} before initialize or an envelope`) };
}

/** -32601 for an enveloped request naming a removed method; undefined when the method still exists. */
export function removedMethodError(method: string): WireError | undefined {
  return isRemovedMethod(method) ? methodNotFound(method) : undefined;
}

type MessageShape = 'request' | 'notification' | 'response';

/** JSON-RPC 2.0 shape of a value, or undefined when it is none of the three. */
function messageShape(value: unknown): MessageShape | undefined {
  if (!isJsonObject(value) || value['jsonrpc'] !== '2.0') return undefined;
  const id = value['id'];
  const validId = typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id));
  const params = value['params'];
  // JSON-RPC would allow array params; MCP's are always an object, and so is its `_meta`.
  const validParams =
    params === undefined ||
    (isJsonObject(params) && (!Object.hasOwn(params, '_meta') || isJsonObject(params['_meta'])));
  if (typeof value['method'] === 'string') {
    if (!validParams) return undefined;
    if (!Object.hasOwn(value, 'id')) return 'notification';
    return validId ? 'request' : undefined;
  }
  const hasResult = Object.hasOwn(value, 'result');
  const hasError = Object.hasOwn(value, 'error');
  if (hasResult === hasError) return undefined;
  if (hasError && !isJsonObject(value['error'])) return undefined;
  return validId || (hasError && id === null) ? 'response' : undefined;
}

/** Why a batch cannot be taken: empty, an invalid element, or a modern element (modern has no batches). */
function batchProblem(batch: readonly unknown[]): WireError | undefined {
  if (batch.length === 0) return invalidRequest('empty JSON-RPC batch');
  for (const element of batch) {
    if (isJsonObject(element) && hasEnvelopeClaim(element['params'])) {
      return invalidRequest('JSON-RPC batches cannot carry 2026-07-28 requests');
    }
    if (messageShape(element) === undefined)
      return invalidRequest('the batch holds an invalid JSON-RPC message');
  }
  return undefined;
}

/** Only a well-formed envelope naming a modern revision turns `initialize` into a (404) modern request. */
function carriesValidModernClaim(params: unknown): boolean {
  const version = metaOf(params)?.[META_KEYS.protocolVersion];
  return typeof version === 'string' && namesModernEra(version) && parseEnvelope(params).ok;
}

/** -32602 naming the envelope keys a header-declared modern request lacks. */
function missingEnvelope(params: unknown, headerVersion: string | undefined): WireError {
  const meta = metaOf(params);
  const missing =
    meta === undefined
      ? ['_meta']
      : [META_KEYS.protocolVersion, META_KEYS.clientCapabilities].filter((k) => !Object.hasOwn(meta, k));
  const claim =
    headerVersion === undefined ? 'a modern request' : `MCP-Protocol-Version names ${headerVersion}`;
  return invalidParams(`${claim}, but the request lacks the envelope key(s) ${missing.join(', ')}`, {
    envelope: { missing },
  });
}
