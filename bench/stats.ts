// Small statistics and formatting helpers shared by the benchmark sections.

/** The q-quantile (0..1) of `values` by nearest rank; NaN when empty. Does not modify `values`. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** The median of `values` (average of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Rounds to `digits` decimals (keeps JSON output readable). */
export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One row of a section table: a figure, its value, and optionally a target with its verdict. */
export interface Row {
  label: string;
  value: string;
  target?: string;
  /** true: PASS, false: MISS, undefined: informational. */
  pass?: boolean;
}

/** "PASS" / "MISS" / "" for a row's verdict. */
export function verdict(pass: boolean | undefined): string {
  return pass === undefined ? '' : pass ? 'PASS' : 'MISS';
}

/** Renders a titled, column-aligned table of rows as text. */
export function table(title: string, rows: readonly Row[], notes: readonly string[] = []): string {
  const head: Row = { label: 'figure', value: 'value', target: 'target' };
  const all = [head, ...rows];
  const w0 = Math.max(...all.map((r) => r.label.length));
  const w1 = Math.max(...all.map((r) => r.value.length));
  const w2 = Math.max(...all.map((r) => (r.target ?? '').length));
  const line = (r: Row, v: string) =>
    `  ${r.label.padEnd(w0)}  ${r.value.padEnd(w1)}  ${(r.target ?? '').padEnd(w2)}  ${v}`.trimEnd();
  const rule = `  ${'-'.repeat(w0 + w1 + w2 + 10)}`;
  return [
    `== ${title} ==`,
    line(head, 'result'),
    rule,
    ...rows.map((r) => line(r, verdict(r.pass))),
    ...notes.map((n) => `  note: ${n}`),
    '',
  ].join('\n');
}

/** Formats a number with a fixed number of decimals and an optional unit. */
export function fmt(value: number, digits = 2, unit = ''): string {
  if (!Number.isFinite(value)) return 'n/a';
  return `${value.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}
