import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One scenario's outcome in one run. */
export interface ScenarioCell {
  status: 'pass' | 'fail' | 'skip';
  /** Checks with status FAILURE. */
  failures: number;
  /** False for scenarios the run reports but does not score. */
  scored: boolean;
}

/** One column of the table. */
export interface ResultColumn {
  label: string;
  cells: Record<string, ScenarioCell>;
}

interface Check {
  status: string;
}

/** Reads every `server-<scenario>-<timestamp>/checks.json` under `dir`. */
export function readChecks(
  dir: string,
  notScored: (scenario: string) => boolean,
): Record<string, ScenarioCell> {
  const cells: Record<string, ScenarioCell> = {};
  if (!existsSync(dir)) return cells;
  for (const entry of readdirSync(dir)) {
    const match = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    const file = join(dir, entry, 'checks.json');
    if (!match || !existsSync(file)) continue;
    const checks = JSON.parse(readFileSync(file, 'utf8')) as Check[];
    const failures = checks.filter((c) => c.status === 'FAILURE').length;
    const ran = checks.some((c) => c.status !== 'SKIPPED' && c.status !== 'INFO');
    const status = failures > 0 ? 'fail' : ran ? 'pass' : 'skip';
    const scenario = match[1]!;
    cells[scenario] = worse(cells[scenario], { status, failures, scored: !notScored(scenario) });
  }
  return cells;
}

function worse(a: ScenarioCell | undefined, b: ScenarioCell): ScenarioCell {
  if (!a) return b;
  const rank = { pass: 0, skip: 1, fail: 2 };
  const pick = rank[b.status] > rank[a.status] ? b : a;
  return { ...pick, failures: a.failures + b.failures, scored: a.scored || b.scored };
}

/** Scored scenarios with a failing check, per column label. */
export function scoredFailures(columns: ResultColumn[]): Record<string, string[]> {
  return Object.fromEntries(
    columns.map((c) => [
      c.label,
      Object.entries(c.cells)
        .filter(([, cell]) => cell.scored && cell.status === 'fail')
        .map(([name]) => name),
    ]),
  );
}

function cellText(cell: ScenarioCell | undefined): string {
  if (!cell) return '–';
  const text = cell.status === 'fail' ? `FAIL (${cell.failures})` : cell.status;
  return cell.scored ? text : `${text} *`;
}

/** The plain-text table: `scenario | <each column>`, then totals. */
export function renderTable(columns: ResultColumn[]): string {
  const scenarios = [...new Set(columns.flatMap((c) => Object.keys(c.cells)))];
  const rows = scenarios.map((s) => [s, ...columns.map((c) => cellText(c.cells[s]))]);
  const totals = columns.map((c) => {
    const cells = Object.values(c.cells);
    const passed = cells.filter((cell) => cell.status === 'pass').length;
    return cells.length ? `${passed}/${cells.length}` : '–';
  });
  const failing = Object.values(scoredFailures(columns)).map((f) => String(f.length));
  const table = [
    ['scenario', ...columns.map((c) => c.label)],
    ...rows,
    ['passed / run', ...totals],
    ['scored failures', ...failing],
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join(' | ');
  const rule = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [
    line(table[0]!),
    rule,
    ...table.slice(1, -2).map(line),
    rule,
    ...table.slice(-2).map(line),
    '',
    '* not scored by that run (extension, pending or added after release); – not part of that run',
  ].join('\n');
}
