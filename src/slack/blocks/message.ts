import type { types } from '@slack/bolt';
import type { ApprovalRecord } from '../../core/approval/types.js';
import { argumentBlocks, type ArgumentsDisplayOptions } from './arguments.js';
import { consoleUrl, link, slackDate } from './format.js';
import { BLOCK_KIT_LIMITS } from './limits.js';
import { riskLabel, type RiskHints } from './risk.js';
import { clip, inlineCode } from './text.js';

/** A message ready for chat.postMessage / chat.update: notification text plus blocks. */
export interface SlackMessage {
  /** Fallback and notification text (mrkdwn, escaped). */
  text: string;
  blocks: types.KnownBlock[];
}

/** What request and outcome messages may be told besides the record. */
export interface MessageOptions {
  /** Base URL of the console (config `publicUrl`); enables console links. */
  publicUrl?: string;
  /** A risk label chosen by the caller; wins over `annotations`. */
  riskLabel?: string;
  /** The tool's MCP annotations, to derive the risk label from. */
  annotations?: RiskHints;
  /** How much of the arguments to show. */
  display?: ArgumentsDisplayOptions;
}

/** The parts that differ between a request message and its outcome versions. */
export interface MessageParts {
  /** Header prefix, e.g. `Approval needed`, `Approved`. */
  title: string;
  /** mrkdwn lines about the status (already escaped), shown right under the facts. */
  status: string[];
  /** Buttons, only while a decision is possible. */
  actions?: types.ActionsBlock;
}

/**
 * One layout for every state of a request, so the message updated in place keeps its shape: header,
 * facts, status, arguments, ids, then buttons while pending.
 */
export function recordMessage(
  record: ApprovalRecord,
  opts: MessageOptions,
  parts: MessageParts,
): SlackMessage {
  const link_ = consoleUrl(opts.publicUrl, record.id);
  const risk = opts.riskLabel ?? riskLabel(record.tool, opts.annotations);
  const when =
    record.status === 'pending'
      ? { label: 'Expires', value: slackDate(record.expiresAt) }
      : { label: 'Requested', value: slackDate(record.createdAt) };

  const blocks: types.KnownBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: clip(`${parts.title}: ${record.tool}`, BLOCK_KIT_LIMITS.headerText) },
    },
    {
      type: 'section',
      fields: [
        field('Tool', inlineCode(record.tool)),
        field('Server', inlineCode(record.server)),
        field('Agent', inlineCode(record.agent)),
        field('Rule', inlineCode(record.rule)),
        field('Risk', clip(risk, 200)),
        field(when.label, when.value),
      ],
    },
  ];
  if (parts.status.length > 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: fitLines(parts.status), verbatim: true } });
  }
  blocks.push(...argumentBlocks(record.args, record.id, link_, opts.display).blocks);

  const ids = [`Request ${inlineCode(record.id, 100)}`, `args sha256 ${inlineCode(record.argsHash, 100)}`];
  if (link_) ids.push(link(link_, 'Open in console'));
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: ids.join(' · ') }] });
  if (parts.actions) blocks.push(parts.actions);

  const text = clip(
    `${parts.title}: ${record.tool} on ${record.server} for ${record.agent} (request ${record.id})`,
    BLOCK_KIT_LIMITS.messageText,
  );
  return { text, blocks };
}

function field(label: string, value: string): types.MrkdwnElement {
  return { type: 'mrkdwn', text: `*${label}*\n${value}`, verbatim: true };
}

// Status lines hold escaped, individually clipped reviewer text; with a large quorum they may still add up,
// so whole lines are dropped (never cut, which could break an entity or a <!date> sequence).
function fitLines(lines: string[]): string {
  const kept: string[] = [];
  let length = 0;
  for (const [i, line] of lines.entries()) {
    const more = `…and ${lines.length - i} more (see the console)`;
    const rest = i === lines.length - 1 ? 0 : more.length + 1;
    if (length + line.length + 1 + rest > BLOCK_KIT_LIMITS.sectionText) {
      kept.push(more);
      break;
    }
    kept.push(line);
    length += line.length + 1;
  }
  return kept.join('\n');
}
