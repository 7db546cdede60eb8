import type { webApi } from '@slack/bolt';
import type { AirlockConfig } from '../config/schema.js';
import type { ApprovalRecord } from '../core/approval/types.js';
import { AirlockError } from '../core/errors.js';
import type { Logger } from '../log.js';
import { boltLogger } from './bolt-logger.js';
import { ChannelLabels } from './channel-labels.js';
import { UserGroupDirectory } from './user-groups.js';
import { createWebClient } from './web-client.js';

/** What reviewers are told when the rule and the config name no channel. */
export const NO_CHANNEL_LABEL = 'the Airlock console';

/**
 * What Airlock looks up in Slack without needing the approval service: user-group members and channel
 * names. It is built before the approval service (which asks it who may approve and where reviewers are
 * asked), and the Slack integration built after the service shares its Web API client.
 */
export interface SlackDirectory {
  /** The bot's Web API client. */
  client: webApi.WebClient;
  /** The channel a request's message goes to: the rule's, else `slack.channel`. */
  channelOf(record: Pick<ApprovalRecord, 'approval'>): string | undefined;
  /** Slack user-group id → member user ids (cached 5 min; unreachable groups are empty: fail closed). */
  groupMembers(groupIds: string[]): Promise<Record<string, string[]>>;
  /** Where reviewers are asked about a request, for the agent's progress message (`#lab-approvals`). */
  channelLabel(record: Pick<ApprovalRecord, 'approval'>): string;
  /** Looks up the default channel's name once, so the first progress message already says `#name`. */
  warm(): void;
}

/** Builds the directory from the Slack config; requires a bot token. */
export function createSlackDirectory(config: AirlockConfig, logger: Logger): SlackDirectory {
  const { slack } = config;
  if (!slack.botToken)
    throw new AirlockError('CONFIG_INVALID', 'slack.botToken is required to connect Slack');
  const log = logger.child({ component: 'slack' });
  const client = createWebClient({
    botToken: slack.botToken,
    apiUrl: slack.apiUrl,
    logger: boltLogger(logger),
  });
  const groups = new UserGroupDirectory(client, log);
  const channels = new ChannelLabels(client, log);
  const channelOf = (record: Pick<ApprovalRecord, 'approval'>) => record.approval.channel ?? slack.channel;
  return {
    client,
    channelOf,
    groupMembers: (ids) => groups.members(ids),
    channelLabel: (record) => {
      const channel = channelOf(record);
      return channel ? channels.label(channel) : NO_CHANNEL_LABEL;
    },
    warm: () => {
      if (slack.channel) void channels.resolve(slack.channel);
    },
  };
}
