import { InvalidArgumentError } from 'commander';
import { REQUEST_STATUSES } from './api-client.js';

/**
 * `--since`/`--until`: `30s`, `15m`, `1h`, `2d`, `1w` ago, or anything Date.parse reads (ISO 8601 dates
 * and times; a bare date is midnight UTC). Returns epoch milliseconds.
 */
export function parseWhen(value: string, now = Date.now()): number {
  const rel = /^(\d+)\s*(s|m|h|d|w)$/i.exec(value.trim());
  if (rel) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[
      rel[2]!.toLowerCase() as 's'
    ];
    return now - Number(rel[1]) * unit;
  }
  const at = Date.parse(value);
  if (Number.isNaN(at)) {
    throw new InvalidArgumentError('expected a relative time (30m, 1h, 2d) or an ISO date.');
  }
  return at;
}

/** `--status`: a comma-separated list of request statuses. */
export function parseStatuses(value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = list.filter((s) => !(REQUEST_STATUSES as readonly string[]).includes(s));
  if (unknown.length || !list.length) {
    throw new InvalidArgumentError(`expected one or more of ${REQUEST_STATUSES.join(', ')}.`);
  }
  return list;
}

/** `--limit`: a whole number of at least 1. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1.');
  return n;
}
