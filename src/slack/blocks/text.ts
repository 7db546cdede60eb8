/**
 * Escapes Slack's three control characters so untrusted text is shown, not parsed: `<!channel>`,
 * `<@U123>` and `<https://evil|click>` become inert. Applied exactly once, so `&amp;` shows as typed.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Escapes `text` and cuts the result to at most `max` UTF-16 units including `suffix` (given already
 * escaped). Cuts between code points, so a surrogate pair or an `&amp;` entity is never split.
 */
export function escapeAndClip(text: string, max: number, suffix = '…'): { text: string; clipped: boolean } {
  const escaped = escapeSlack(text);
  if (escaped.length <= max) return { text: escaped, clipped: false };
  const budget = Math.max(0, max - suffix.length);
  let out = '';
  for (const ch of text) {
    const piece = escapeSlack(ch);
    if (out.length + piece.length > budget) break;
    out += piece;
  }
  return { text: out + suffix, clipped: true };
}

/** escapeAndClip for callers that only need the text. */
export function clip(text: string, max: number, suffix = '…'): string {
  return escapeAndClip(text, max, suffix).text;
}

/**
 * Keeps untrusted text from closing a ``` code block early (and formatting what follows as if Airlock
 * wrote it) by putting a zero-width space between consecutive backticks. Display only.
 */
export function neutraliseFences(text: string): string {
  return text.replace(/`(?=`)/g, '`\u200b');
}

/**
 * Shows a name as inline code, so `*`, `_` and `~` in it stay literal; a backtick, which inline code
 * cannot hold, is shown as a look-alike. Escaped and clipped to `max`.
 */
export function inlineCode(text: string, max = 200): string {
  if (text === '') return '—';
  return `\`${clip(text.replace(/`/g, '\u02cb'), max)}\``;
}
