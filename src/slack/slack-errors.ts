import { webApi } from '@slack/bolt';

/** What to do about a failed Slack Web API call. */
export type SlackFailure =
  /** Slack said 429: wait exactly `retryAfterMs`, then try again (not counted as a failed attempt). */
  | { kind: 'rate-limited'; retryAfterMs: number; message: string }
  /** The request itself is wrong (bad blocks, message gone, token revoked): retrying cannot help. */
  | { kind: 'permanent'; message: string }
  /** Network trouble, 5xx, timeouts, or errors an operator can fix while we wait (bot not in channel). */
  | { kind: 'transient'; message: string };

// Slack `error` strings that no retry will change. Everything else is retried with backoff, including
// `not_in_channel`, `channel_not_found` (a private channel the bot is not in yet) and `missing_scope`,
// which an operator may fix while the job waits.
const PERMANENT_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'invalid_blocks',
  'invalid_blocks_format',
  'invalid_arguments',
  'invalid_arg_name',
  'msg_too_long',
  'no_text',
  'too_many_attachments',
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'is_archived',
  'user_not_found',
  'invalid_trigger_id',
  'expired_trigger_id',
]);

/** Sorts a thrown Slack Web API error into rate-limited, permanent or transient. */
export function classifySlackError(err: unknown): SlackFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof webApi.WebAPIRateLimitedError || hasCode(err, webApi.ErrorCode.RateLimitedError)) {
    const seconds = Number((err as { retryAfter?: unknown }).retryAfter);
    return {
      kind: 'rate-limited',
      retryAfterMs: Math.max(1, Number.isFinite(seconds) ? seconds : 1) * 1000,
      message,
    };
  }
  if (err instanceof webApi.WebAPIPlatformError || hasCode(err, webApi.ErrorCode.PlatformError)) {
    const code = (err as { data?: { error?: string } }).data?.error ?? '';
    return PERMANENT_ERRORS.has(code) ? { kind: 'permanent', message } : { kind: 'transient', message };
  }
  return { kind: 'transient', message };
}

function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
