// Plain-text output for the CLI: aligned tables that fit the terminal, and text made safe to print.
// No table library: the needs are small (left-aligned columns, shrinking the widest ones, an ellipsis).

/** One column of a table. */
export interface Column<Row> {
  header: string;
  value(row: Row): string;
  /** Never narrower than this (or the header) when the table has to shrink. @defaultValue the header's width */
  minWidth?: number;
  /** Never wider than this. @defaultValue unbounded */
  maxWidth?: number;
  /**
   * When the table is too wide, columns with a lower priority give way first (down to their minimum);
   * among equals, the widest. @defaultValue 0
   */
  priority?: number;
  /** Right-align (numbers, durations). @defaultValue false */
  alignRight?: boolean;
  /** Styles a cell after it is padded, so colour codes never count toward the width. */
  style?(text: string, row: Row): string;
}

/** Options for {@link formatTable}. */
export interface TableOptions {
  /** Total width the table must fit in. @defaultValue {@link outputWidth}() */
  width?: number;
  /** Bold headers and column styles. @defaultValue {@link useColor}() */
  color?: boolean;
}

const GAP = '  ';
const ELLIPSIS = '…';

/** Width to fit output to: the terminal's when stdout is one, else 100 columns. */
export function outputWidth(stream: NodeJS.WriteStream = process.stdout): number {
  return stream.isTTY && stream.columns ? Math.max(40, stream.columns) : 100;
}

/** Colours only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR;
}

/** ANSI styles; identity functions when colour is off, so callers never branch. */
export function styles(color: boolean) {
  const wrap = (open: number, close: number) => (s: string) =>
    color ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

/** A set of ANSI styles as returned by {@link styles}. */
export type Styles = ReturnType<typeof styles>;

// C0/C1 controls (ESC starts terminal escape sequences) and bidi overrides (text that reads differently
// than it runs): arguments come from agents, so they must not be able to rewrite the reviewer's screen.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Untrusted text made safe for a terminal: controls and bidi overrides shown as `\u{…}` escapes. */
export function safeText(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** One line of untrusted text for a table cell: safe, with every run of whitespace as one space. */
export function oneLine(text: string): string {
  return safeText(text.replace(/\s+/g, ' ').trim());
}

/** Cuts text to `width` characters, ending with … when anything was cut. */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 0) return '';
  return chars.slice(0, width - 1).join('') + ELLIPSIS;
}

/**
 * Renders rows as a left-aligned table with a header line. When the natural widths do not fit,
 * the widest columns give way first (never below their minimum), and cut cells end with an ellipsis.
 */
export function formatTable<Row>(
  columns: readonly Column<Row>[],
  rows: readonly Row[],
  options: TableOptions = {},
): string {
  const width = options.width ?? outputWidth();
  const s = styles(options.color ?? useColor());
  const cells = rows.map((row) => columns.map((c) => oneLine(c.value(row))));
  const mins = columns.map((c) => Math.max(c.minWidth ?? 0, len(c.header)));
  const widths = columns.map((c, i) =>
    Math.min(c.maxWidth ?? Infinity, Math.max(len(c.header), ...cells.map((r) => len(r[i]!)))),
  );
  shrinkToFit(
    widths,
    mins,
    columns.map((c) => c.priority ?? 0),
    width - GAP.length * (columns.length - 1),
  );

  const pad = (text: string, i: number) => {
    const cut = truncate(text, widths[i]!);
    const fill = ' '.repeat(widths[i]! - len(cut));
    return columns[i]!.alignRight ? fill + cut : cut + fill;
  };
  const header = columns.map((c, i) => s.bold(pad(c.header, i))).join(GAP);
  const lines = cells.map((row, r) =>
    row
      .map((text, i) => {
        const padded = pad(text, i);
        const style = columns[i]!.style;
        return style ? style(padded, rows[r]!) : padded;
      })
      .join(GAP),
  );
  return [header, ...lines].map((l) => l.trimEnd()).join('\n');
}

/** Takes one character at a time off the lowest-priority, then widest, shrinkable column until the total fits. */
function shrinkToFit(widths: number[], mins: number[], priorities: number[], budget: number): void {
  let total = widths.reduce((a, b) => a + b, 0);
  while (total > budget) {
    let pick = -1;
    for (let i = 0; i < widths.length; i++) {
      if (widths[i]! <= mins[i]!) continue;
      const better =
        pick < 0 ||
        priorities[i]! < priorities[pick]! ||
        (priorities[i] === priorities[pick] && widths[i]! > widths[pick]!);
      if (better) pick = i;
    }
    if (pick < 0) return; // every column is at its minimum: let the line wrap rather than hide ids
    widths[pick]!--;
    total--;
  }
}

/** Label/value pairs aligned on the values, for `airlock show`. */
export function formatFacts(pairs: readonly (readonly [string, string])[], color = useColor()): string {
  const s = styles(color);
  const w = Math.max(...pairs.map(([k]) => len(k)));
  return pairs.map(([k, v]) => `${s.bold(k.padEnd(w))}  ${v}`).join('\n');
}

function len(text: string): number {
  return [...text].length;
}

/** A local date and time with its UTC offset, so a pasted timeline is unambiguous: `2025-05-01 14:03:09 +02:00`. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = `${off < 0 ? '-' : '+'}${two(Math.floor(Math.abs(off) / 60))}:${two(Math.abs(off) % 60)}`;
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`
  );
}
