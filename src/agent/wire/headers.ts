// Reading the request headers that 2026-07-28 mirrors from the body: plain maps in, checked strings out.

/** Request headers as Node gives them (`IncomingHttpHeaders`) or as a plain map in any letter case. */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/** One header read: absent, present with its trimmed value, or unusable (and why). */
export type HeaderRead =
  | { readonly state: 'absent' }
  | { readonly state: 'present'; readonly value: string }
  | { readonly state: 'invalid'; readonly reason: string };

/** Opening marker of a base64-wrapped header value; case-sensitive, as the spec writes it. */
export const BASE64_SENTINEL_PREFIX = '=?base64?';

/** Closing marker of a base64-wrapped header value. */
export const BASE64_SENTINEL_SUFFIX = '?=';

/** Strict, padded base64: Node's decoder accepts sloppy input, the spec's test cases reject it. */
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Visible ASCII, space and tab: what RFC 9110 allows in a field value. */
const FIELD_VALUE = /^[\x20-\x7e\t]*$/;

/**
 * Looks a header up by name, ignoring letter case, and trims optional whitespace around it (RFC 9110
 * §5.5). A header given twice is unusable: with two values we could not tell which one an intermediary
 * routed on.
 */
export function readHeader(headers: HeaderMap, name: string): HeaderRead {
  const wanted = name.toLowerCase();
  let found: string | readonly string[] | undefined;
  let matches = 0;
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== wanted) continue;
    const value = headers[key];
    if (value === undefined) continue;
    found = value;
    matches += 1;
  }
  if (matches === 0 || found === undefined) return { state: 'absent' };
  let raw: string;
  if (typeof found === 'string') raw = found;
  else if (found.length === 1 && typeof found[0] === 'string') raw = found[0];
  else if (found.length === 0) return { state: 'absent' };
  else return { state: 'invalid', reason: `${name} is sent more than once` };
  if (matches > 1) return { state: 'invalid', reason: `${name} is sent more than once` };
  if (!FIELD_VALUE.test(raw)) return { state: 'invalid', reason: `${name} contains invalid characters` };
  return { state: 'present', value: trimOws(raw) };
}

/** Strips spaces and tabs at both ends, nothing else (a newline is not optional whitespace). */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === ' ' || value[start] === '\t')) start += 1;
  while (end > start && (value[end - 1] === ' ' || value[end - 1] === '\t')) end -= 1;
  return value.slice(start, end);
}

/** True when a header value carries the `=?base64?…?=` wrapper (markers must not overlap). */
export function isBase64Sentinel(value: string): boolean {
  return (
    value.length >= BASE64_SENTINEL_PREFIX.length + BASE64_SENTINEL_SUFFIX.length &&
    value.startsWith(BASE64_SENTINEL_PREFIX) &&
    value.endsWith(BASE64_SENTINEL_SUFFIX)
  );
}

/**
 * Decodes an `Mcp-Name` / `Mcp-Param-*` value: a wrapped value is base64 of UTF-8, anything else is
 * literal. Bad padding, a foreign character or bytes that are not UTF-8 make it unusable, which the
 * caller reports as a mismatch.
 */
export function decodeHeaderValue(
  value: string,
): { readonly ok: true; readonly value: string } | { readonly ok: false } {
  if (!isBase64Sentinel(value)) return { ok: true, value };
  const payload = value.slice(BASE64_SENTINEL_PREFIX.length, value.length - BASE64_SENTINEL_SUFFIX.length);
  if (!CANONICAL_BASE64.test(payload)) return { ok: false };
  const bytes = Buffer.from(payload, 'base64');
  // Non-zero trailing bits decode "fine" but are not the canonical encoding of any string.
  if (bytes.toString('base64') !== payload) return { ok: false };
  try {
    return { ok: true, value: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false };
  }
}

/**
 * Encodes a value the way a client must before mirroring it: as is when it is plain header-safe ASCII,
 * wrapped base64 when it has non-ASCII or control characters, edge whitespace, or looks like a wrapper.
 */
export function encodeHeaderValue(value: string): string {
  const plain = /^[\x20-\x7e]*$/.test(value) && trimOws(value) === value && !isBase64Sentinel(value);
  if (plain) return value;
  return `${BASE64_SENTINEL_PREFIX}${Buffer.from(value, 'utf8').toString('base64')}${BASE64_SENTINEL_SUFFIX}`;
}
