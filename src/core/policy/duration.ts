/** Milliseconds per duration unit accepted in policy files. */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Named windows PolicyLayer uses for limits. */
const NAMED_WINDOWS: Readonly<Record<string, number>> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
const WINDOW = /^([1-9]\d*)(s|m|h|d)$/;

/** Parses a duration such as `500ms`, `50s`, `15m`, `1h`, `2d` or `1h30m` to milliseconds, or undefined when invalid. */
export function tryParseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return undefined;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const start = DURATION_PART.lastIndex;
    const m = DURATION_PART.exec(text);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  const ms = Math.round(total);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** Parses a duration such as `500ms`, `50s`, `15m`, `1h`, `2d` or `1h30m` to milliseconds; throws RangeError when invalid. */
export function parseDuration(text: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    throw new RangeError(
      `Invalid duration ${JSON.stringify(text)}: use a number and a unit, like "500ms", "50s", "15m", "1h" or "2d"`,
    );
  }
  return ms;
}

/** Parses a limit window (`second|minute|hour|day` or `<n>s|m|h|d`) to milliseconds, or undefined when invalid. */
export function tryParseWindow(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  const named = NAMED_WINDOWS[text];
  if (named !== undefined && Object.hasOwn(NAMED_WINDOWS, text)) return named;
  const m = WINDOW.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Parses a limit window (`second|minute|hour|day` or `<n>s|m|h|d`) to milliseconds; throws RangeError when invalid. */
export function parseWindow(text: string): number {
  const ms = tryParseWindow(text);
  if (ms === undefined) {
    throw new RangeError(
      `Invalid window ${JSON.stringify(text)}: use second, minute, hour, day, or a count and unit like "30s", "5m", "2h", "1d"`,
    );
  }
  return ms;
}
