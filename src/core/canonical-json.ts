import { AirlockError } from './errors.js';

/**
 * Deepest nesting of arrays/objects accepted in tool arguments, hashed, and shown. Real tool arguments
 * are shallow; the cap keeps recursion far from the stack limit and refuses payloads built to exhaust it.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Deterministic JSON: object keys sorted by UTF-16 code units, no whitespace, numbers in ECMAScript
 * shortest form (so `1.0` and `1` agree, `-0` becomes `0`). For JSON input this is RFC 8785 (JCS).
 * `undefined` object members are dropped and `undefined` array items become `null`, as JSON.stringify
 * does; NaN, Infinity, bigint, functions, symbols, cycles, non-plain objects (a Date too: no toJSON)
 * and nesting deeper than MAX_JSON_DEPTH throw AirlockError BAD_REQUEST, because silently coercing
 * them would let two different values share one hash. Callers holding such values settle them first
 * with a JSON round trip, as the audit chain does.
 */
export function canonicalJson(value: unknown): string {
  try {
    return write(value, 0, new Set<object>());
  } catch (err) {
    if (!(err instanceof PathFailure)) throw err;
    // The path is put together only now, from the segments the containers added while unwinding.
    const path = `$${err.segments.reverse().join('')}`;
    throw new AirlockError('BAD_REQUEST', `Not canonical JSON at ${path}: ${err.problem}.`, { path });
  }
}

/** A value canonicalJson refuses; each container it sits in adds its segment of the path on the way out. */
class PathFailure {
  readonly segments: string[] = [];
  constructor(readonly problem: string) {}
}

function write(value: unknown, depth: number, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new PathFailure(`${String(value)} is not a JSON number`);
      return JSON.stringify(value);
    case 'object':
      if (value === null) return 'null';
      return writeContainer(value, depth, ancestors);
    default:
      throw new PathFailure(`${typeof value} is not a JSON value`);
  }
}

function writeContainer(value: object, depth: number, ancestors: Set<object>): string {
  if (depth >= MAX_JSON_DEPTH) throw new PathFailure(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (ancestors.has(value)) throw new PathFailure('contains a cycle');
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const items: string[] = [];
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        items.push(item === undefined ? 'null' : child(item, depth, ancestors, i));
      }
      return `[${items.join(',')}]`;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new PathFailure(`a ${value.constructor?.name ?? 'non-plain object'} is not a JSON value`);
    }
    const record = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
    const keys = Object.keys(record).sort();
    const members: string[] = [];
    for (const key of keys) {
      const member = record[key];
      if (member === undefined) continue;
      members.push(`${JSON.stringify(key)}:${child(member, depth, ancestors, key)}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    ancestors.delete(value);
  }
}

/** Writes one member or item; a failure below it learns its index or key here. */
function child(value: unknown, depth: number, ancestors: Set<object>, at: string | number): string {
  try {
    return write(value, depth + 1, ancestors);
  } catch (err) {
    if (err instanceof PathFailure) err.segments.push(typeof at === 'number' ? `[${at}]` : `.${clip(at)}`);
    throw err;
  }
}

// Keys can be arbitrarily long; the error message should stay readable.
function clip(key: string): string {
  return key.length > 40 ? `${Array.from(key).slice(0, 40).join('')}…` : key;
}
