import { createHash } from 'node:crypto';
import { AirlockError } from '../core/errors.js';
import { canonicalJson } from '../core/canonical-json.js';
import type { AuditLine, AuditLineEvent } from './audit-events.js';

/** `prev` of the first line of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** Keys AuditLog sets on every line; an event may not carry them. */
const CHAIN_KEYS = new Set(['seq', 'at', 'replica', 'prev', 'hash']);

const HEX64 = /^[0-9a-f]{64}$/;

/** sha256 hex of a UTF-8 string. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** An event serialised once, outside the file lock, waiting for its seq and prev. */
export interface PreparedEvent {
  /** `"at":…,"event":…,"replica":…,<fields>` in display order, without braces. */
  readonly head: string;
  /** Canonical `"key":value` members except seq and prev, sorted by key. */
  readonly members: ReadonlyArray<readonly [key: string, member: string]>;
  /** Approximate line size, for batch limits. */
  readonly bytes: number;
}

/** Options for prepareEvent. */
export interface PrepareOptions {
  at: string;
  replica: string;
  /** Strings longer than this (UTF-8 bytes) are capped with a note naming their size and sha256. */
  maxStringBytes: number;
}

/**
 * Serialises an event for the chain. Throws AirlockError('INTERNAL') for events that can never be
 * written (BigInt, circular, chain keys) so one bad event cannot poison a batch.
 */
export function prepareEvent(event: AuditLineEvent, options: PrepareOptions): PreparedEvent {
  const { event: name, ...fields } = event as AuditLineEvent & Record<string, unknown>;
  if (typeof name !== 'string' || name.length === 0) {
    throw new AirlockError('INTERNAL', 'audit event has no event name');
  }
  for (const key of Object.keys(fields)) {
    // Integer-like keys would be reordered by JS objects, breaking the exact-form check in verify.
    if (CHAIN_KEYS.has(key) || /^\d+$/.test(key)) {
      throw new AirlockError('INTERNAL', `audit event ${name} uses reserved field name "${key}"`);
    }
  }
  let text: string;
  let plain: Record<string, unknown>;
  const members: Array<[string, string]> = [
    ['at', JSON.stringify(options.at)],
    ['event', JSON.stringify(name)],
    ['replica', JSON.stringify(options.replica)],
  ];
  const flat = flatText(fields, options.maxStringBytes, members);
  if (flat !== undefined) text = flat;
  else
    try {
      text = JSON.stringify(capStrings(fields, options.maxStringBytes));
      // Hash what a verifier will parse back, so toJSON, undefined and NaN are settled once, here.
      plain = JSON.parse(text) as Record<string, unknown>;
      for (const key of Object.keys(plain)) members.push([key, canonicalJson(plain[key])]);
    } catch (err) {
      throw new AirlockError(
        'INTERNAL',
        `audit event ${name} cannot be serialised: ${String(err)}`,
        {},
        { cause: err },
      );
    }
  members.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const fieldText = text.slice(1, -1);
  const head =
    `"at":${JSON.stringify(options.at)},"event":${JSON.stringify(name)},"replica":${JSON.stringify(options.replica)}` +
    (fieldText ? ',' + fieldText : '');
  return {
    head,
    members: members.map(([k, v]) => [k, JSON.stringify(k) + ':' + v] as const),
    bytes: head.length + 120,
  };
}

/**
 * The JSON text of `fields` when every value is a short string, a finite number, a boolean, null or
 * undefined (most events, and every per-call one): then each value's JSON is already its canonical form
 * and nothing needs capping, so members are pushed as they are written, with no round trip. Undefined
 * for anything else, which takes the general path.
 */
function flatText(
  fields: Record<string, unknown>,
  maxStringBytes: number,
  members: Array<[string, string]>,
): string | undefined {
  const parts: string[] = [];
  const added: Array<[string, string]> = [];
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    const v = fields[key];
    let json: string;
    if (v === undefined) continue;
    if (typeof v === 'string') {
      // A UTF-16 unit is at most 3 UTF-8 bytes, so such a string is never capped.
      if (v.length * 3 > maxStringBytes) return undefined;
      json = JSON.stringify(v);
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return undefined;
      json = JSON.stringify(v);
    } else if (typeof v === 'boolean') json = v ? 'true' : 'false';
    else if (v === null) json = 'null';
    else return undefined;
    parts.push(`${JSON.stringify(key)}:${json}`);
    added.push([key, json]);
  }
  members.push(...added);
  return `{${parts.join(',')}}`;
}

/** Builds the line for a prepared event at position `seq` after `prev`; `text` ends with a newline. */
export function encodeLine(
  prepared: PreparedEvent,
  seq: number,
  prev: string,
): { text: string; hash: string } {
  const chain: Array<readonly [string, string]> = [
    ['prev', `"prev":"${prev}"`],
    ['seq', `"seq":${seq}`],
  ];
  const parts: string[] = [];
  let i = 0;
  for (const [key, member] of prepared.members) {
    while (i < chain.length && chain[i]![0] < key) parts.push(chain[i++]![1]);
    parts.push(member);
  }
  while (i < chain.length) parts.push(chain[i++]![1]);
  const hash = sha256Hex('{' + parts.join(',') + '}');
  return { text: `{"seq":${seq},${prepared.head},"prev":"${prev}","hash":"${hash}"}\n`, hash };
}

/** Result of checking one line on its own (chain links are checked by the caller). */
export type LineCheck = { ok: true; line: AuditLine } | { ok: false; reason: string };

/**
 * Parses one line (without its newline) and checks its shape; with `full`, also that it is byte-for-byte
 * what Airlock writes and that its hash matches its content.
 */
export function checkLine(text: string, full: boolean): LineCheck {
  if (text === '') return { ok: false, reason: 'empty line: a line was blanked or a newline inserted' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not valid JSON: truncated or edited' };
  }
  if (!isAuditLineShape(parsed)) {
    return {
      ok: false,
      reason: 'not an audit line: seq, at, event, replica, prev or hash missing or malformed',
    };
  }
  if (full) {
    const { hash, ...rest } = parsed;
    let canonical: string;
    try {
      canonical = canonicalJson(rest);
    } catch {
      // Airlock never writes what canonicalJson refuses (nesting past its depth cap).
      return { ok: false, reason: 'cannot be hashed (nested too deep): line was edited' };
    }
    if (sha256Hex(canonical) !== hash) return { ok: false, reason: 'hash mismatch: line was edited' };
    // Same parsed content, different bytes (duplicate keys, escapes, spacing) can mislead a reader that is not JSON.parse.
    if (JSON.stringify(parsed) !== text) {
      return {
        ok: false,
        reason: 'not in the exact form Airlock writes (spacing, escapes or duplicate keys): line was edited',
      };
    }
  }
  return { ok: true, line: parsed };
}

function isAuditLineShape(value: unknown): value is AuditLine {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(v.seq) &&
    (v.seq as number) >= 1 &&
    typeof v.at === 'string' &&
    typeof v.event === 'string' &&
    typeof v.replica === 'string' &&
    typeof v.prev === 'string' &&
    HEX64.test(v.prev) &&
    typeof v.hash === 'string' &&
    HEX64.test(v.hash)
  );
}

/** Caps every string longer than `maxBytes` (UTF-8), keeping a prefix and a note with the full size and sha256. */
export function capStrings(value: unknown, maxBytes: number): unknown {
  if (typeof value === 'string') return capString(value, maxBytes);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const capped = capStrings(item, maxBytes);
      if (capped !== item) (out ??= value.slice())[i] = capped;
    });
    return out ?? value;
  }
  // Only plain objects: anything with toJSON (Date) or a prototype of its own is left to JSON.stringify.
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    let out: Record<string, unknown> | undefined;
    for (const [key, item] of Object.entries(value)) {
      const capped = capStrings(item, maxBytes);
      if (capped !== item) (out ??= { ...value })[key] = capped;
    }
    return out ?? value;
  }
  return value;
}

function capString(text: string, maxBytes: number): string {
  // Fast path: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  // Back up to a character boundary so the cut never invents a U+FFFD.
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  const prefix = bytes.subarray(0, end).toString('utf8');
  const digest = createHash('sha256').update(bytes).digest('hex');
  return `${prefix}… [truncated by Airlock: ${bytes.length} bytes, sha256 ${digest}]`;
}
