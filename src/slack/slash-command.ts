import type { App, RespondArguments } from '@slack/bolt';
import type { ApprovalService } from '../approval/approval-service.js';
import { isRequestId } from '../core/approval/request-id.js';
import { toAirlockError } from '../core/errors.js';
import type { Logger } from '../log.js';
import {
  consoleHomeUrl,
  escapeSlack,
  pendingListMessage,
  refusalText,
  requestDetail,
  type SlackMessage,
} from './blocks/index.js';
import type { ReviewerQueue } from './reviewer-queue.js';

/** The slash command the manifest registers. */
export const SLASH_COMMAND = '/airlock';

/** The manifest's usage hint for the command. */
export const SLASH_USAGE_HINT = 'pending | show ID';

/** What `/airlock` answers from. */
export interface SlashCommandDeps {
  /** The default request channel (config `slack.channel`), named in the help. */
  channel?: string;
  /** Base URL of the console (config `publicUrl`). */
  publicUrl?: string;
  queue: ReviewerQueue;
  approvals: Pick<ApprovalService, 'get'>;
  logger: Logger;
  /**
   * How long the answer may take before Slack is acked with "looking…" and answered through the
   * command's response_url instead (Slack drops commands not acked within 3 s). @defaultValue 2000
   */
  ackBudgetMs?: number;
}

/** A parsed `/airlock` command line. */
export type SlashRequest =
  | { kind: 'help' }
  | { kind: 'pending' }
  | { kind: 'show'; id: string | undefined }
  | { kind: 'unknown'; word: string };

/** Reads `/airlock` text: `pending`, `show ID`, `help` or nothing; words are case-insensitive, the id is not. */
export function parseSlashCommand(text: string): SlashRequest {
  const [word = '', arg] = text.trim().split(/\s+/);
  switch (word.toLowerCase()) {
    case '':
    case 'help':
      return { kind: 'help' };
    case 'pending':
    case 'list':
      return { kind: 'pending' };
    case 'show':
      return { kind: 'show', id: arg };
    default:
      return { kind: 'unknown', word };
  }
}

type Answer = RespondArguments & { response_type: 'ephemeral'; text: string };

/**
 * Registers `/airlock`: `pending` lists the caller's pending approvals with their buttons, `show ID`
 * shows one request, anything else the usage. Every answer is ephemeral; Slack is always acked in time.
 */
export function registerSlashCommand(app: App, deps: SlashCommandDeps): void {
  const budget = deps.ackBudgetMs ?? 2000;
  app.command(SLASH_COMMAND, async ({ ack, respond, command }) => {
    const answer = answerCommand(deps, command.user_id, command.text ?? '');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), budget);
    });
    const quick = await Promise.race([answer, late]);
    clearTimeout(timer);
    if (quick) {
      await ack(quick);
      return;
    }
    // Redis or Slack's group lookup is slow: answer in time, then follow up where Slack said to.
    await ack({ response_type: 'ephemeral', text: 'Looking that up… the answer follows in a moment.' });
    try {
      // A second ephemeral: Slack keeps the first, so it says the answer follows.
      await respond(await answer);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'could not answer /airlock through response_url');
    }
  });
}

/** The ephemeral answer to one `/airlock` command from `userId`; never throws. */
export async function answerCommand(deps: SlashCommandDeps, userId: string, text: string): Promise<Answer> {
  const request = parseSlashCommand(text);
  try {
    switch (request.kind) {
      case 'help':
        return ephemeral(usage(deps));
      case 'unknown':
        return ephemeral(
          `Unknown \`${SLASH_COMMAND}\` command \`${escapeSlack(request.word.slice(0, 50).replace(/`/g, "'"))}\`.\n${usage(deps)}`,
        );
      case 'pending': {
        const waiting = await deps.queue.pendingFor(userId);
        return message(
          pendingListMessage(waiting.records, {
            isReviewer: waiting.isReviewer,
            moreUnread: waiting.moreUnread,
            ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
          }),
        );
      }
      case 'show':
        return await show(deps, userId, request.id);
    }
  } catch (err) {
    const e = toAirlockError(err);
    deps.logger.warn({ err: e.message, text }, '/airlock failed');
    return ephemeral(
      `:warning: Airlock could not answer (${escapeSlack(e.message)}). Try again in a moment, or use the console.`,
    );
  }
}

async function show(deps: SlashCommandDeps, userId: string, id: string | undefined): Promise<Answer> {
  if (id === undefined)
    return ephemeral(
      `Say which request: \`${SLASH_COMMAND} show ar_…\` (the id is on every request message).`,
    );
  const typed = id.slice(0, 100);
  if (!isRequestId(id)) {
    return ephemeral(
      refusalText(`${typed} is not an Airlock request id; ids look like ar_ followed by 20 characters.`),
    );
  }
  const record = await deps.approvals.get(id);
  if (!record) return ephemeral(refusalText(`No request ${id} found (it may be past retention).`));
  const may = await deps.queue.mayView(record, userId);
  if (!may.view) return ephemeral(refusalText(`You are not an approver for request ${id}.`));
  return message(
    requestDetail(record, {
      canDecide: may.decide,
      ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
    }),
  );
}

function usage(deps: Pick<SlashCommandDeps, 'channel' | 'publicUrl'>): string {
  const lines = [
    '*Airlock* holds AI agents’ risky tool calls until a reviewer approves them.',
    `• \`${SLASH_COMMAND} pending\` — the requests waiting for your approval, with their buttons`,
    `• \`${SLASH_COMMAND} show ID\` — one request: status, arguments, decisions, outcome`,
    '• The *Home* tab of the Airlock app lists what waits for you, kept up to date.',
  ];
  if (deps.channel)
    lines.push(`Requests are posted in ${channelMention(deps.channel)} with Approve / Reject buttons.`);
  const url = consoleHomeUrl(deps.publicUrl);
  lines.push(
    url
      ? `Pending requests and history: <${url}|the Airlock console>.`
      : 'Pending requests and history are in the Airlock console.',
  );
  return lines.join('\n');
}

function ephemeral(text: string): Answer {
  return { response_type: 'ephemeral', text };
}

function message(m: SlackMessage): Answer {
  return { response_type: 'ephemeral', text: m.text, blocks: m.blocks };
}

// A channel id becomes a clickable mention; a configured name is shown as typed, escaped.
function channelMention(channel: string): string {
  return /^[CG][A-Z0-9]{2,}$/.test(channel) ? `<#${channel}>` : `#${escapeSlack(channel.replace(/^#/, ''))}`;
}
