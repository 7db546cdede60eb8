import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

/** Formats a duration in ms for messages: 120000 → "120 s", 500 → "0.5 s". */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** The message of anything thrown, with the low-level cause when fetch hides it ("fetch failed"). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause : undefined;
  const causeText =
    cause && cause.message && !err.message.includes(cause.message) ? `: ${cause.message}` : '';
  return `${err.message}${causeText}`;
}

/**
 * True when the SDK timed the request out itself. Its timeout carries `data.timeout` with the value we
 * passed; an upstream that answers with a JSON-RPC error of the same code is forwarded as its own error.
 */
export function isLocalTimeout(err: unknown, timeoutMs: number): boolean {
  if (!(err instanceof McpError) || err.code !== ErrorCode.RequestTimeout) return false;
  const data = err.data as { timeout?: unknown; maxTotalTimeout?: unknown } | undefined;
  return data?.timeout === timeoutMs || data?.maxTotalTimeout !== undefined;
}

/**
 * True when an HTTP upstream is unreachable or has forgotten our session (it restarted), as opposed to
 * answering one request badly: fetch network failures and 404 on an established session.
 */
export function isHttpConnectionFailure(err: unknown): boolean {
  if (err instanceof StreamableHTTPError) return err.code === 404 || err.code === 502 || err.code === 503;
  if (err instanceof TypeError) return true; // undici: "fetch failed", "terminated"
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return (
    typeof code === 'string' &&
    /^(ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|UND_ERR_)/.test(code)
  );
}
