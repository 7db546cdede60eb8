import { AirlockError } from '../core/errors.js';

/**
 * The Redis Cluster hash tag of a key prefix: the text between the first `{` and the next `}`, when
 * not empty (Redis hashes only that part of a key to pick its slot). Undefined when there is none.
 */
export function hashTagOf(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return prefix.slice(open + 1, close);
}

/** Rejects a cluster prefix without a hash tag: multi-key scripts would fail with CROSSSLOT on every call. */
export function assertClusterPrefix(prefix: string, cluster: boolean): void {
  if (!cluster || hashTagOf(prefix) !== undefined) return;
  throw new AirlockError(
    'CONFIG_INVALID',
    `redis.prefix "${prefix}" has no hash tag; with redis.cluster every Airlock key must share one slot, ` +
      `so write the prefix in braces, e.g. "{${prefix}}"`,
  );
}

/**
 * Escapes one user-supplied key part so `:` cannot forge another key and `{}` cannot move its slot.
 * encodeURIComponent throws on lone UTF-16 surrogates (which JSON can carry), so they become U+FFFD
 * first; the rare collision that makes is harmless because readers re-check the stored fields.
 */
export function keyPart(value: string): string {
  return encodeURIComponent(value.replace(/\p{Surrogate}/gu, '\ufffd'));
}

/**
 * Rate-limit keys under one prefix. Approval records (`approval-store.ts`) and history indexes
 * (`history-keys.ts`) build theirs under the same prefix, escaping user-supplied parts with keyPart.
 */
export interface Keyspace {
  /** The prefix itself (e.g. `airlock` or `{airlock}`). */
  readonly prefix: string;
  /** Sliding-window log (sorted set of call timestamps) of one rate-limit counter; parts are scope then ids. */
  rate(...parts: string[]): string;
  /** The longest window any limit has used on that counter, so no shorter limit trims what a longer one needs. */
  rateRetention(...parts: string[]): string;
}

/**
 * Builds Airlock's key names under `prefix`. With Redis Cluster the prefix must carry a hash tag such
 * as `{airlock}`: then every key below hashes to one slot, which is what lets a single Lua script (rate
 * limits, first-decision-wins) touch several keys atomically. User-supplied parts are escaped, so an
 * agent named `x{y}` or `a:b` can neither change a key's slot nor collide with another key.
 */
export function keyspace(prefix: string): Keyspace {
  const k = (...parts: string[]): string => [prefix, ...parts].join(':');
  return {
    prefix,
    rate: (...parts) => k('rate', ...parts.map(keyPart)),
    rateRetention: (...parts) => k('rate-retention', ...parts.map(keyPart)),
  };
}
