import { ProtocolError, SdkError, SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

/** Formats a duration in ms for messages: 120000 → "120 s", 500 → "0.5 s". */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** The message of anything thrown, with the low-level cause when fetch hides it ("fetch failed"). */
export function describeError(err: unknown): string {
  err = negotiationCause(err);
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause : undefined;
  const causeText =
    cause && cause.message && !err.message.includes(cause.message) ? `: ${cause.message}` : '';
  return `${err.message}${causeText}`;
}

/**
 * A failed era probe wraps what went wrong ("Version negotiation probe failed: fetch failed") and keeps
 * it in `data.cause`; the operator wants the failure itself, as with any other connect.
 */
function negotiationCause(err: unknown): unknown {
  if (!(err instanceof SdkError) || err.code !== SdkErrorCode.EraNegotiationFailed) return err;
  const cause = (err.data as { cause?: unknown } | undefined)?.cause;
  return cause instanceof Error ? cause : err;
}

/**
 * True when the SDK timed the request out itself. Its timeout carries `data.timeout` with the value we
 * passed; an upstream that answers with a JSON-RPC error is a ProtocolError and forwarded as its own.
 */
export function isLocalTimeout(err: unknown, timeoutMs: number): boolean {
  if (!(err instanceof SdkError) || err.code !== SdkErrorCode.RequestTimeout) return false;
  const data = err.data as { timeout?: unknown; maxTotalTimeout?: unknown } | undefined;
  return data?.timeout === timeoutMs || data?.maxTotalTimeout !== undefined;
}

/** True when the upstream itself answered with a JSON-RPC error (as opposed to a local or transport failure). */
export function isUpstreamRpcError(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError;
}

/**
 * The rest of Airlock speaks SDK 1.x: an upstream's JSON-RPC error becomes the McpError it would have
 * been, code, message and data unchanged, so the agent side forwards it as before.
 */
export function toMcpError(err: ProtocolError): McpError {
  return new McpError(err.code, err.message, err.data);
}

/**
 * True when an HTTP upstream is unreachable or has forgotten our session (it restarted), as opposed to
 * answering one request badly: fetch network failures and 404 on an established session.
 */
export function isHttpConnectionFailure(err: unknown): boolean {
  if (err instanceof SdkHttpError) return err.status === 404 || err.status === 502 || err.status === 503;
  if (err instanceof SdkError && err.code === SdkErrorCode.ConnectionClosed) return true;
  if (err instanceof TypeError) return true; // undici: "fetch failed", "terminated"
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return (
    typeof code === 'string' &&
    /^(ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|UND_ERR_)/.test(code)
  );
}
