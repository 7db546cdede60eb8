import { webApi, type Logger as SlackLogger } from '@slack/bolt';

/** How one Airlock Web API client behaves. */
export interface WebClientSettings {
  botToken: string;
  /** Base URL of the Web API, ending in `/` (config `slack.apiUrl`). */
  apiUrl: string;
  logger: SlackLogger;
  /** Retries inside the client. @defaultValue 0: the caller (BullMQ, or a person clicking again) retries. */
  retries?: number;
  /** Milliseconds before one call is abandoned. @defaultValue 10000 */
  timeoutMs?: number;
}

/**
 * A Web API client that fails fast: no retries of its own and 429s rejected with their Retry-After,
 * so a Slack outage never holds a worker or a click handler and the notifier's queue owns retrying.
 */
export function createWebClient(settings: WebClientSettings): webApi.WebClient {
  return new webApi.WebClient(settings.botToken, {
    slackApiUrl: withTrailingSlash(settings.apiUrl),
    logger: settings.logger,
    retryConfig: { retries: settings.retries ?? 0 },
    rejectRateLimitedCalls: true,
    timeout: settings.timeoutMs ?? 10_000,
  });
}

/** `https://slack.com/api` and `https://slack.com/api/` both work; the client appends method names. */
export function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
