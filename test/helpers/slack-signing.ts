import { createHmac, randomBytes } from 'node:crypto';

/** Headers Slack puts on every request it sends an app: `v0=HMAC_SHA256(secret, "v0:" + ts + ":" + body)`. */
export function slackSignatureHeaders(
  secret: string,
  rawBody: string,
  timestampSec = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = createHmac('sha256', secret).update(`v0:${timestampSec}:${rawBody}`).digest('hex');
  return { 'x-slack-signature': `v0=${signature}`, 'x-slack-request-timestamp': String(timestampSec) };
}

/** A Slack user as interaction payloads carry them. */
export interface PayloadUser {
  id: string;
  /** The handle; defaults to the id in lower case. */
  name?: string;
}

const TEAM = { id: 'T0FAKE', domain: 'fake' };

/** A `block_actions` payload for one button click on a request message, shaped as Slack sends it. */
export function blockActionPayload(o: {
  user: PayloadUser;
  actionId: string;
  /** The button's value: the request id. */
  value: string;
  channel?: string;
  messageTs?: string;
}): Record<string, unknown> {
  const channel = o.channel ?? 'C0APPROVALS';
  const ts = o.messageTs ?? '1700000000.000001';
  const name = o.user.name ?? o.user.id.toLowerCase();
  return {
    type: 'block_actions',
    user: { id: o.user.id, username: name, name, team_id: TEAM.id },
    api_app_id: 'A0AIRLOCK',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: ts, channel_id: channel, is_ephemeral: false },
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    team: TEAM,
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel, name: 'lab-approvals' },
    message: { type: 'message', ts, text: 'Approval needed', bot_id: 'B0AIRLOCK' },
    state: { values: {} },
    response_url: 'https://hooks.slack.com/actions/T0FAKE/1/fake',
    actions: [
      {
        action_id: o.actionId,
        block_id: 'airlock_actions',
        text: { type: 'plain_text', text: o.actionId, emoji: true },
        value: o.value,
        type: 'button',
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
}

/** A `view_submission` payload for the reject-with-reason modal, shaped as Slack sends it. */
export function viewSubmissionPayload(o: {
  user: PayloadUser;
  /** The modal's private_metadata: the request id. */
  requestId: string;
  reason: string;
  callbackId?: string;
}): Record<string, unknown> {
  const name = o.user.name ?? o.user.id.toLowerCase();
  return {
    type: 'view_submission',
    team: TEAM,
    user: { id: o.user.id, username: name, name, team_id: TEAM.id },
    api_app_id: 'A0AIRLOCK',
    token: 'legacy-verification-token',
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    view: {
      id: 'V0MODAL',
      team_id: TEAM.id,
      type: 'modal',
      blocks: [],
      private_metadata: o.requestId,
      callback_id: o.callbackId ?? 'airlock_reject_modal',
      state: {
        values: { airlock_reason: { airlock_reason_input: { type: 'plain_text_input', value: o.reason } } },
      },
      hash: 'fakehash',
      title: { type: 'plain_text', text: 'Reject request' },
      app_id: 'A0AIRLOCK',
      bot_id: 'B0AIRLOCK',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

/** How to tamper with a signed POST, for the negative tests. */
export interface PostInteractionOptions {
  /** Request timestamp in seconds. @defaultValue now */
  timestampSec?: number;
  /** Sign with this secret instead of the real one (a forgery). */
  signWith?: string;
  /** Send this signature header as is. */
  signature?: string;
}

/**
 * POSTs an interaction payload to Airlock's `/slack/events` exactly as Slack does: form-encoded
 * `payload=<json>`, signed with the app's signing secret. Returns the HTTP status and body text.
 */
export async function postInteraction(
  baseUrl: string,
  signingSecret: string,
  payload: Record<string, unknown>,
  options: PostInteractionOptions = {},
): Promise<{ status: number; body: string }> {
  const rawBody = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const headers = slackSignatureHeaders(options.signWith ?? signingSecret, rawBody, options.timestampSec);
  if (options.signature !== undefined) headers['x-slack-signature'] = options.signature;
  const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: rawBody,
  });
  return { status: res.status, body: await res.text() };
}

/** POSTs a signed slash command (`/airlock help`) as Slack does: form fields, no `payload` wrapper. */
export async function postSlashCommand(
  baseUrl: string,
  signingSecret: string,
  o: { command: string; text?: string; userId: string },
): Promise<{ status: number; body: string }> {
  const rawBody = new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: TEAM.id,
    team_domain: TEAM.domain,
    channel_id: 'C0APPROVALS',
    channel_name: 'lab-approvals',
    user_id: o.userId,
    user_name: o.userId.toLowerCase(),
    command: o.command,
    text: o.text ?? '',
    api_app_id: 'A0AIRLOCK',
    response_url: 'https://hooks.slack.com/commands/T0FAKE/1/fake',
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
  }).toString();
  const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/slack/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...slackSignatureHeaders(signingSecret, rawBody),
    },
    body: rawBody,
  });
  return { status: res.status, body: await res.text() };
}
