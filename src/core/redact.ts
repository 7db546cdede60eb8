import { MAX_JSON_DEPTH } from './canonical-json.js';

/** What replaces a secret in a display copy. */
export const REDACTED = '[REDACTED]';

/** What replaces a value that refers back to one of its own ancestors. */
export const CIRCULAR = '[Circular]';

/** What replaces containers nested deeper than `maxDepth`. */
export const TOO_DEEP = '[…nested too deep]';

/**
 * Key names whose values are hidden, matched case-insensitively anywhere in the key (`apiKey`,
 * `x-api-key`, `client_secret`, `Set-Cookie`, `passphrase`). Over-matching (`monkey`) costs a reviewer
 * one click to the console; under-matching leaks a credential into a Slack channel.
 */
export const SECRET_KEY_PATTERN =
  /password|passwd|passphrase|token|secret|key|authorization|cookie|credential/i;

/** Options for redactForDisplay. */
export interface RedactOptions {
  /** Extra key names to hide, matched like SECRET_KEY_PATTERN. */
  extraKeys?: RegExp;
  /** Containers deeper than this become TOO_DEEP. @defaultValue MAX_JSON_DEPTH */
  maxDepth?: number;
}

/**
 * A copy of `value` fit to show people: values under secret-looking keys become REDACTED, cycles
 * become CIRCULAR, deep nesting becomes TOO_DEEP, and non-JSON leaves become strings. The input is
 * never modified. Display only: what runs upstream is always the exact original.
 */
export function redactForDisplay(value: unknown, opts: RedactOptions = {}): unknown {
  const maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  // search() ignores lastIndex, so a caller's /g pattern cannot make matches alternate.
  const isSecret = (key: string): boolean =>
    SECRET_KEY_PATTERN.test(key) || (opts.extraKeys !== undefined && key.search(opts.extraKeys) !== -1);
  const ancestors = new Set<object>();

  const visit = (node: unknown, depth: number): unknown => {
    if (node === null || typeof node !== 'object') return leaf(node);
    if (ancestors.has(node)) return CIRCULAR;
    if (depth >= maxDepth) return TOO_DEEP;
    if (node instanceof Date) return Number.isNaN(node.getTime()) ? String(node) : node.toISOString();
    ancestors.add(node);
    try {
      if (Array.isArray(node)) return Array.from(node, (item: unknown) => visit(item, depth + 1));
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) {
        // defineProperty, so a `__proto__` key stays an ordinary key of the copy.
        Object.defineProperty(out, key, {
          value: isSecret(key) ? REDACTED : visit(child, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    } finally {
      ancestors.delete(node);
    }
  };
  return visit(value, 0);
}

function leaf(value: unknown): unknown {
  switch (typeof value) {
    case 'bigint':
      return `${value}n`;
    case 'function':
      return '[Function]';
    case 'symbol':
      return value.toString();
    case 'number':
      // JSON would print these as null; a reviewer should see what was actually passed.
      return Number.isFinite(value) ? value : String(value);
    default:
      return value;
  }
}
