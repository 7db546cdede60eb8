import type { DecisionVia, ReviewerDecision } from '../../core/approval/types.js';
import { escapeSlack } from './text.js';

const SLACK_USER_IDENTITY = /^slack:([UW][A-Z0-9]{2,})$/;

const VIA_LABEL: Record<DecisionVia, string> = {
  slack: 'Slack',
  console: 'the console',
  cli: 'the CLI',
  api: 'the API',
};

/**
 * A time every reader sees in their own time zone (`<!date^…>`), with a UTC fallback for clients
 * and notifications that cannot render it.
 */
export function slackDate(ms: number): string {
  const fallback = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} at {time}|${fallback}>`;
}

/**
 * A reviewer as mrkdwn: their display name when known, a Slack mention for a bare `slack:U…` identity
 * (Slack shows the name), else the reviewer id. Escaped; only Airlock-validated ids become mentions.
 */
export function personMrkdwn(identity: string, display?: string): string {
  if (display !== undefined && display !== '') return escapeSlack(display);
  const slackId = SLACK_USER_IDENTITY.exec(identity)?.[1];
  return slackId ? `<@${slackId}>` : escapeSlack(identity);
}

/** "alice via Slack at <date>", the line shared by every decision summary. */
export function decisionLine(d: ReviewerDecision): string {
  return `${personMrkdwn(d.by, d.display)} via ${VIA_LABEL[d.via]} at ${slackDate(d.at)}`;
}

/**
 * The console page of one request, or undefined when `publicUrl` is unset or not an http(s) URL.
 * Characters that would end a Slack link (`|`, `>`) are percent-encoded.
 */
export function consoleUrl(publicUrl: string | undefined, requestId: string): string | undefined {
  if (publicUrl === undefined || publicUrl === '') return undefined;
  let base: URL;
  try {
    base = new URL(publicUrl);
  } catch {
    return undefined;
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') return undefined;
  const root = `${base.origin}${base.pathname}`.replace(/\/+$/, '');
  return `${root}/#/requests/${encodeURIComponent(requestId)}`.replace(/[|<> ]/g, (c) =>
    encodeURIComponent(c),
  );
}

/** A Slack link `<url|label>`; `url` must come from consoleUrl (already safe), the label is escaped. */
export function link(url: string, label: string): string {
  return `<${url}|${escapeSlack(label).replace(/\|/g, '¦')}>`;
}
