import type { types } from '@slack/bolt';
import { redactForDisplay } from '../../core/redact.js';
import { link } from './format.js';
import { BLOCK_KIT_LIMITS } from './limits.js';
import { escapeSlack, neutraliseFences } from './text.js';

/** How much of a call's arguments a Slack message shows; the console always has all of them. */
export interface ArgumentsDisplayOptions {
  /** Code-block sections at most. @defaultValue 3 */
  maxSections?: number;
  /** Characters of one string value (or key) before it is cut. @defaultValue 1500 */
  maxStringChars?: number;
  /** Items of one array or members of one object before the rest are summarised. @defaultValue 100 */
  maxItems?: number;
  /** Nesting shown before deeper containers are summarised. @defaultValue 16 */
  maxDepth?: number;
}

/** The rendered arguments and whether anything was left out. */
export interface ArgumentsRendering {
  blocks: types.KnownBlock[];
  truncated: boolean;
}

const FENCE_OPEN = '*Arguments*\n```\n';
const FENCE = '```\n';
const FENCE_CLOSE = '\n```';

// Bidi controls reorder what a reviewer reads (`rm -rf /\u202Etxt.` looks harmless). In the JSON they are
// shown as their \u escapes: still the same JSON value, but visible. RTL letters are untouched.
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

/**
 * Arguments as pretty JSON in ``` code blocks: redacted, escaped, fences neutralised, long strings,
 * long lists and deep nesting cut, then split over at most `maxSections` sections of ≤ 3000 chars.
 * When anything is cut a line says so and points at the console (`consoleLink` when known).
 */
export function argumentBlocks(
  args: unknown,
  requestId: string,
  consoleLink: string | undefined,
  opts: ArgumentsDisplayOptions = {},
): ArgumentsRendering {
  const limits = {
    maxSections: opts.maxSections ?? 3,
    maxStringChars: opts.maxStringChars ?? 1500,
    maxItems: opts.maxItems ?? 100,
    maxDepth: opts.maxDepth ?? 16,
  };
  const state = { truncated: false };
  const shown = shorten(redactForDisplay(args), 0, limits, state);
  const json = (JSON.stringify(shown, null, 2) ?? 'undefined').replace(
    BIDI_CONTROLS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  const lines = json.split('\n').map((line) => neutraliseFences(escapeSlack(line)));

  const chunks: string[] = [];
  let current = '';
  // Every piece fits the first (smallest) budget, so a fresh chunk always takes the piece it was opened for.
  const firstBudget = BLOCK_KIT_LIMITS.sectionText - FENCE_OPEN.length - FENCE_CLOSE.length;
  let budget = firstBudget;
  const flush = (): void => {
    chunks.push(current);
    current = '';
    budget = BLOCK_KIT_LIMITS.sectionText - FENCE.length - FENCE_CLOSE.length;
  };
  outer: for (const line of lines) {
    for (const piece of splitEscaped(line, firstBudget)) {
      const joined = current === '' ? piece : `${current}\n${piece}`;
      if (joined.length <= budget) {
        current = joined;
        continue;
      }
      flush();
      if (chunks.length >= limits.maxSections) {
        state.truncated = true;
        break outer;
      }
      current = piece;
    }
  }
  if (current !== '' && chunks.length < limits.maxSections) chunks.push(current);

  const blocks: types.KnownBlock[] = chunks.map((chunk, i) => ({
    type: 'section',
    text: { type: 'mrkdwn', text: `${i === 0 ? FENCE_OPEN : FENCE}${chunk}${FENCE_CLOSE}`, verbatim: true },
  }));
  if (state.truncated) {
    const where = consoleLink
      ? `full arguments in the console: ${link(consoleLink, `request ${requestId}`)}`
      : `full arguments in the console or with \`airlock show ${escapeSlack(requestId)}\``;
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…truncated, ${where}` }] });
  }
  return { blocks, truncated: state.truncated };
}

// Splits an escaped line into pieces of at most `max` UTF-16 units without cutting a surrogate pair or
// an `&amp;`-style entity. Lines are rarely this long; strings are already cut by `shorten`.
function splitEscaped(line: string, max: number): string[] {
  if (line.length <= max) return [line];
  const pieces: string[] = [];
  let current = '';
  for (const unit of line.match(/&(?:amp|lt|gt);|[\s\S]/gu) ?? []) {
    if (current.length + unit.length > max) {
      pieces.push(current);
      current = '';
    }
    current += unit;
  }
  if (current !== '') pieces.push(current);
  return pieces;
}

interface ShortenLimits {
  maxStringChars: number;
  maxItems: number;
  maxDepth: number;
}

// Cuts what would swamp a message, marking every cut in place so the reviewer sees where it was.
function shorten(
  value: unknown,
  depth: number,
  limits: ShortenLimits,
  state: { truncated: boolean },
): unknown {
  if (typeof value === 'string') return shortenString(value, limits.maxStringChars, state);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= limits.maxDepth) {
    state.truncated = true;
    return Array.isArray(value) ? '[…deeper nesting not shown]' : '{…deeper nesting not shown}';
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, limits.maxItems).map((v: unknown) => shorten(v, depth + 1, limits, state));
    if (value.length > limits.maxItems) {
      state.truncated = true;
      items.push(`…${value.length - limits.maxItems} more items`);
    }
    return items;
  }
  const entries = Object.entries(value);
  const out: Record<string, unknown> = {};
  for (const [key, child] of entries.slice(0, limits.maxItems)) {
    Object.defineProperty(out, shortenString(key, 200, state), {
      value: shorten(child, depth + 1, limits, state),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  if (entries.length > limits.maxItems) {
    state.truncated = true;
    out['…'] = `${entries.length - limits.maxItems} more keys`;
  }
  return out;
}

function shortenString(value: string, max: number, state: { truncated: boolean }): string {
  if (value.length <= max) return value;
  const points = Array.from(value);
  if (points.length <= max) return value;
  state.truncated = true;
  return `${points.slice(0, max).join('')}…[${points.length - max} more chars]`;
}
