// Errors that cross the agent-facing wire as JSON-RPC error objects. They are a separate family from
// Airlock's local `AirlockError` string codes (src/core/errors.ts): those describe what went wrong
// inside Airlock, these are what the protocol lets a peer see, numbered by the JSON-RPC and MCP specs.
import { SUPPORTED_PROTOCOL_VERSIONS } from './supported-versions.js';

/** The JSON-RPC error codes Airlock emits on the agent side, by name. */
export const WireErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Legacy-era session errors; -32000…-32019 is implementation-defined, the 2025 SDK uses these two. */
  SessionRequired: -32000,
  SessionNotFound: -32001,
  /** -32020…-32099 is reserved for codes the MCP specification allocates; never invent one there. */
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
} as const;

/** One of the codes in {@link WireErrorCode}. */
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** A JSON-RPC error object; `code` may also be a relayed upstream code outside {@link WireErrorCode}. */
export interface WireError {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

/** A JSON-RPC request id; `null` when the request could not be read far enough to know it. */
export type JsonRpcId = string | number | null;

/** A complete JSON-RPC error response, ready to serialise. */
export interface JsonRpcErrorResponse {
  readonly jsonrpc: '2.0';
  readonly id: JsonRpcId;
  readonly error: WireError;
}

/**
 * HTTP status per code on `/mcp`, a full record so a new code cannot be added unmapped. Caller faults are
 * 4xx (the 2026-07-28 transport pins 400 for -32602/-32020/-32021/-32022 and 404 for -32601); -32603 is
 * ours, never the caller's, so it is a 5xx.
 */
const HTTP_STATUS: Readonly<Record<WireErrorCode, number>> = {
  [WireErrorCode.ParseError]: 400,
  [WireErrorCode.InvalidRequest]: 400,
  [WireErrorCode.MethodNotFound]: 404,
  [WireErrorCode.InvalidParams]: 400,
  [WireErrorCode.InternalError]: 500,
  [WireErrorCode.SessionRequired]: 400,
  [WireErrorCode.SessionNotFound]: 404,
  [WireErrorCode.HeaderMismatch]: 400,
  [WireErrorCode.MissingRequiredClientCapability]: 400,
  [WireErrorCode.UnsupportedProtocolVersion]: 400,
};

/**
 * The one map from a JSON-RPC error code to the HTTP status of the agent-facing endpoint. Codes we do not
 * own (an upstream's implementation-defined codes, relayed as they are) travel in-band on 200: the error
 * object is the payload, and turning it into a transport failure would make clients retry or fall back.
 */
export function httpStatusForWireError(code: number): number {
  return Object.hasOwn(HTTP_STATUS, code) ? HTTP_STATUS[code as WireErrorCode] : 200;
}

/** Wraps an error object into the response for request `id`. */
export function errorResponse(id: JsonRpcId, error: WireError): JsonRpcErrorResponse {
  return { jsonrpc: '2.0', id, error };
}

/** -32700: the body is not JSON. */
export function parseError(detail: string): WireError {
  return { code: WireErrorCode.ParseError, message: `Parse error: ${detail}` };
}

/** -32600: JSON, but not a JSON-RPC message Airlock accepts here. */
export function invalidRequest(detail: string): WireError {
  return { code: WireErrorCode.InvalidRequest, message: `Invalid request: ${detail}` };
}

/** -32601: unknown method, or one the request's revision removed (404 on HTTP). */
export function methodNotFound(method: string): WireError {
  return { code: WireErrorCode.MethodNotFound, message: `Method not found: ${method}`, data: { method } };
}

/** -32602: params (including the `_meta` envelope) are missing or malformed. */
export function invalidParams(detail: string, data?: Record<string, unknown>): WireError {
  return { code: WireErrorCode.InvalidParams, message: `Invalid params: ${detail}`, ...(data && { data }) };
}

/** -32603: Airlock failed; the message must not leak internals, so it is the caller's to choose. */
export function internalError(message = 'Internal error'): WireError {
  return { code: WireErrorCode.InternalError, message };
}

/** -32000: a 2025-era request without `Mcp-Session-Id` (Airlock keeps legacy clients in sessions). */
export function sessionRequired(): WireError {
  return {
    code: WireErrorCode.SessionRequired,
    message: 'Bad Request: Mcp-Session-Id header is required; send initialize first',
  };
}

/** -32001: a session id Airlock does not know (expired, terminated, forged or another agent's). */
export function sessionNotFound(): WireError {
  return { code: WireErrorCode.SessionNotFound, message: 'Session not found' };
}

/** What disagreed in a -32020: the header by its canonical name, and what the body says it should be. */
export interface HeaderMismatchDetail {
  readonly header: string;
  /** The body's value, as the header should have carried it; absent when the header is simply invalid. */
  readonly expected?: string;
  /** The (trimmed, decoded) header value; absent when the header is missing. */
  readonly received?: string;
}

/** -32020 HeaderMismatch: a mirrored header is missing, malformed, or differs from the body. */
export function headerMismatch(reason: string, detail: HeaderMismatchDetail): WireError {
  return { code: WireErrorCode.HeaderMismatch, message: `Header mismatch: ${reason}`, data: detail };
}

/**
 * -32021 MissingRequiredClientCapability. `required` is a ClientCapabilities object (e.g.
 * `{ sampling: {} }` or `{ extensions: { 'io.modelcontextprotocol/tasks': {} } }`), not a list of names.
 */
export function missingRequiredClientCapability(required: Readonly<Record<string, unknown>>): WireError {
  return {
    code: WireErrorCode.MissingRequiredClientCapability,
    message: `Missing required client capability: ${describeCapabilities(required)}`,
    data: { requiredCapabilities: required },
  };
}

/**
 * -32022 UnsupportedProtocolVersion with `data: {supported, requested}`. `supported` defaults to every
 * revision Airlock serves so it stays a subset of `server/discover`; a stdio process pinned to one era
 * passes that era's list instead, since the other is no longer available to it.
 */
export function unsupportedProtocolVersion(
  requested: string,
  supported: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS,
): WireError {
  return {
    code: WireErrorCode.UnsupportedProtocolVersion,
    message: `Unsupported protocol version: ${requested}; supported: ${supported.join(', ')}`,
    data: { supported: [...supported], requested },
  };
}

/** Names the leaves of a capabilities object for a human-readable message, e.g. `extensions.x/tasks`. */
function describeCapabilities(required: Readonly<Record<string, unknown>>): string {
  const names: string[] = [];
  for (const [key, value] of Object.entries(required)) {
    const inner = value !== null && typeof value === 'object' ? Object.keys(value) : [];
    if (key === 'extensions' && inner.length > 0) names.push(...inner.map((name) => `extensions.${name}`));
    else names.push(key);
  }
  return names.join(', ') || '(none)';
}
