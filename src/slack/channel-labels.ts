import type { webApi } from '@slack/bolt';
import type { Logger } from '../log.js';

const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

/**
 * Human labels for channels (`#lab-approvals`) in the agent's progress messages. Labels are asked for
 * synchronously while a call is held, so names are resolved in the background (`conversations.info`)
 * and the id is shown until the name is known or when it cannot be read.
 */
export class ChannelLabels {
  private readonly names = new Map<string, string>();
  private readonly asked = new Set<string>();

  constructor(
    private readonly client: webApi.WebClient,
    private readonly logger: Logger,
  ) {}

  /** `#name` when known, else `#<channel as configured>`; starts resolving an unknown id. */
  label(channel: string): string {
    const bare = channel.replace(/^#/, '');
    if (!CHANNEL_ID.test(bare)) return `#${bare}`;
    const name = this.names.get(bare);
    if (name) return `#${name}`;
    void this.resolve(bare);
    return `#${bare}`;
  }

  /** Looks a channel's name up once; later failures are not retried (the id is a fine label). */
  async resolve(channel: string): Promise<void> {
    const bare = channel.replace(/^#/, '');
    if (!CHANNEL_ID.test(bare) || this.asked.has(bare)) return;
    this.asked.add(bare);
    try {
      const res = await this.client.conversations.info({ channel: bare });
      if (res.channel?.name) this.names.set(bare, res.channel.name);
    } catch (err) {
      this.logger.debug({ channel: bare, err: (err as Error).message }, 'could not read Slack channel name');
    }
  }
}
