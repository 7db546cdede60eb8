import { App, ExpressReceiver } from '@slack/bolt';
import type { IRouter } from 'express';
import type { Cluster, Redis } from 'ioredis';
import type { ApprovalService } from '../approval/approval-service.js';
import type { ApprovalStore, StoredRecord } from '../approval/approval-store.js';
import type { AirlockConfig } from '../config/schema.js';
import { AirlockError } from '../core/errors.js';
import type { GrantService } from '../grants/grant-service.js';
import type { Logger } from '../log.js';
import { AppHome } from './app-home.js';
import type { RiskHints } from './blocks/index.js';
import { boltLogger } from './bolt-logger.js';
import { GrantAccess } from './grant-access.js';
import { registerGrantInteractions } from './grant-interactions.js';
import { registerInteractions } from './interactions.js';
import { registerEditInteractions } from './edit-interactions.js';
import { MessageSync } from './message-sync.js';
import { ReviewerQueue } from './reviewer-queue.js';
import { SlackNotifier, type SlackNotifierRetryOptions } from './slack-notifier.js';
import { registerSlashCommand } from './slash-command.js';
import { SocketConnection } from './socket-connection.js';
import { UserNames } from './user-names.js';
import type { SlackDirectory } from './slack-directory.js';
import { withTrailingSlash } from './web-client.js';

/** Everything the Slack integration is wired with by the composition root. */
export interface SlackIntegrationOptions {
  config: AirlockConfig;
  /** Group members, channel names and the Web API client, shared with the approval service. */
  directory: SlackDirectory;
  approvals: ApprovalService;
  store: ApprovalStore;
  /** Time-bound grants: enables "Approve for…" handling and the Home tab's active grants with Revoke. */
  grants?: GrantService;
  /** Fail-fast connection for adding notification jobs. */
  queueConnection: Redis | Cluster;
  /** Opens a blocking connection for the notification worker. */
  blockingConnection: (name: string) => Redis | Cluster;
  /** Redis key prefix (config `redis.prefix`). */
  prefix: string;
  logger: Logger;
  /** The tool's MCP annotations, for the risk label in request messages. */
  riskHints?: (record: StoredRecord) => RiskHints | undefined;
  /** Called once per request when its Slack message is posted. */
  onPosted?: (record: StoredRecord, ref: { channel: string; ts: string }) => void;
  /** Notification retry tuning; the defaults suit production. */
  retry?: SlackNotifierRetryOptions;
}

/** Airlock's Slack app: request messages, buttons, modal, and user-group approvers. */
export interface SlackIntegration {
  /** `http`: signed POSTs at `/slack/events` through `router`; `socket`: Socket Mode, no route. */
  mode: 'http' | 'socket';
  /** Handles `POST /slack/events` (signature and timestamp verified); mount at `/`. Undefined in Socket Mode. */
  router?: IRouter;
  /** The Bolt app, for surfaces that add their own listeners (App Home, commands). */
  bolt: App;
  /** Starts the notification worker, checks the token and, in Socket Mode, connects; never fails on Slack errors. */
  start(): Promise<void>;
  /** Stops the worker and any socket. */
  close(): Promise<void>;
}

/** True when the config has what Slack needs: a bot token, and a signing secret unless Socket Mode is on. */
export function slackConfigured(slack: AirlockConfig['slack']): boolean {
  return Boolean(slack.botToken) && Boolean(slack.appToken || slack.signingSecret);
}

/** Builds the Slack integration; call `start()` after the HTTP listener (and `router`) are up. */
export function createSlackIntegration(o: SlackIntegrationOptions): SlackIntegration {
  const { slack, publicUrl } = o.config;
  const botToken = slack.botToken;
  if (!botToken) throw new AirlockError('CONFIG_INVALID', 'slack.botToken is required to connect Slack');
  const socketMode = Boolean(slack.appToken);
  if (!socketMode && !slack.signingSecret) {
    throw new AirlockError(
      'CONFIG_INVALID',
      'slack.signingSecret is required for Slack over HTTP (or set slack.appToken for Socket Mode)',
    );
  }
  const logger = o.logger.child({ component: 'slack' });
  const slackLog = boltLogger(o.logger);
  const { client } = o.directory;

  // Bolt's own token check caches its first auth.test for good, so one failure during an outage would
  // fail every later click; this authorize answers from the token alone and learns the bot's ids later.
  let identity: { botId?: string; botUserId?: string } = {};
  const authorize = async () => ({ botToken, ...identity });
  const clientOptions = { slackApiUrl: withTrailingSlash(slack.apiUrl) };
  let receiver: ExpressReceiver | undefined;
  let bolt: App;
  if (socketMode) {
    bolt = new App({
      socketMode: true,
      appToken: slack.appToken,
      authorize,
      clientOptions,
      logger: slackLog,
    });
  } else {
    receiver = new ExpressReceiver({
      signingSecret: slack.signingSecret!,
      endpoints: '/slack/events',
      // Handlers ack before deciding, so the response goes out at once and Slack never sees a timeout.
      processBeforeResponse: false,
      logger: slackLog,
    });
    bolt = new App({ receiver, authorize, clientOptions, logger: slackLog });
  }
  bolt.error(async (err) => {
    logger.warn({ err: err.message }, 'Slack handler failed');
  });

  const sync = new MessageSync({
    client,
    store: o.store,
    channelOf: (record) => o.directory.channelOf(record),
    reviewers: o.config.reviewers,
    messageOptions: (record) => {
      const annotations = o.riskHints?.(record);
      return { ...(publicUrl ? { publicUrl } : {}), ...(annotations ? { annotations } : {}) };
    },
    logger,
    ...(o.onPosted ? { onPosted: o.onPosted } : {}),
  });
  const notifier = new SlackNotifier({
    approvals: o.approvals,
    sync,
    queueConnection: o.queueConnection,
    blockingConnection: o.blockingConnection,
    prefix: o.prefix,
    logger,
    ...o.retry,
  });
  notifier.attach();
  const names = new UserNames(client);
  const interactionDeps = { approvals: o.approvals, client, names, logger };
  registerInteractions(bolt, interactionDeps);
  const groupMembers = (ids: string[]) => o.directory.groupMembers(ids);
  const queue = new ReviewerQueue({ approvals: o.approvals, reviewers: o.config.reviewers, groupMembers });
  const access = o.grants
    ? new GrantAccess({
        grants: o.grants,
        approvals: o.approvals,
        reviewers: o.config.reviewers,
        groupMembers,
      })
    : undefined;
  registerEditInteractions(bolt, { ...interactionDeps, queue, ...(publicUrl ? { publicUrl } : {}) });
  const home = new AppHome({
    approvals: o.approvals,
    queue,
    ...(access && o.grants ? { grants: { access, events: o.grants } } : {}),
    client,
    logger,
    ...(publicUrl ? { publicUrl } : {}),
  });
  home.register(bolt);
  home.attach();
  // Without a grant service the menu's choices still reach the approval service, which refuses them.
  registerGrantInteractions(bolt, {
    ...interactionDeps,
    ...(access ? { access } : {}),
    refreshHome: (user) => home.publish(user),
  });
  registerSlashCommand(bolt, {
    queue,
    approvals: o.approvals,
    logger,
    ...(slack.channel ? { channel: slack.channel } : {}),
    ...(publicUrl ? { publicUrl } : {}),
  });
  const socket = socketMode ? new SocketConnection(bolt, logger) : undefined;

  return {
    mode: socketMode ? 'socket' : 'http',
    ...(receiver ? { router: receiver.router } : {}),
    bolt,
    async start() {
      await notifier.start();
      // Neither a bad token nor an outage stops Airlock: messages wait in the queue until Slack answers.
      void client.auth
        .test()
        .then((res) => {
          identity = {
            ...(res.bot_id ? { botId: res.bot_id } : {}),
            ...(res.user_id ? { botUserId: res.user_id } : {}),
          };
          logger.info(
            { team: res.team, bot: res.user, botUserId: res.user_id, mode: socketMode ? 'socket' : 'http' },
            'Slack connected',
          );
        })
        .catch((err: Error) =>
          logger.warn({ err: err.message }, 'Slack auth.test failed; Slack messages will be retried'),
        );
      o.directory.warm();
      socket?.start();
    },
    async close() {
      await home.close();
      await socket?.close();
      await notifier.close();
    },
  };
}
