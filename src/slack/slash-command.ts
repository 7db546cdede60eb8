import type { App } from '@slack/bolt';
import { escapeSlack } from './blocks/index.js';

/** The slash command the manifest registers. */
export const SLASH_COMMAND = '/airlock';

/**
 * A minimal `/airlock` answer, so the command the manifest installs never times out: where requests
 * are posted and where the console is. Richer commands (listing pending requests) build on this.
 */
export function registerSlashCommand(app: App, where: { channel?: string; publicUrl?: string }): void {
  app.command(SLASH_COMMAND, async ({ ack }) => {
    const lines = ['*Airlock* holds AI agents’ risky tool calls until a reviewer approves them.'];
    if (where.channel)
      lines.push(`Requests are posted in ${channelMention(where.channel)} with Approve / Reject buttons.`);
    const url = consoleRoot(where.publicUrl);
    lines.push(
      url
        ? `Pending requests and history: <${url}|the Airlock console>.`
        : 'Pending requests and history are in the Airlock console.',
    );
    await ack({ response_type: 'ephemeral', text: lines.join('\n') });
  });
}

// A channel id becomes a clickable mention; a configured name is shown as typed, escaped.
function channelMention(channel: string): string {
  return /^[CG][A-Z0-9]{2,}$/.test(channel) ? `<#${channel}>` : `#${escapeSlack(channel.replace(/^#/, ''))}`;
}

// The console's address from `publicUrl`, when it is an http(s) URL; characters that end a Slack link are encoded.
function consoleRoot(publicUrl: string | undefined): string | undefined {
  if (!publicUrl) return undefined;
  try {
    const url = new URL(publicUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return `${url.origin}${url.pathname}`
      .replace(/\/+$/, '/')
      .replace(/[|<> ]/g, (c) => encodeURIComponent(c));
  } catch {
    return undefined;
  }
}
