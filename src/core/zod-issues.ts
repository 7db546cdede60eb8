import type { z } from 'zod';
import { formatJsonPath } from './json-path.js';

/** One zod issue as Airlock reports it: where (a JSON path) and what, in words for whoever wrote the file. */
export interface DescribedIssue {
  path: string;
  message: string;
}

/**
 * Turns zod's issues about `raw` into JSON paths and messages written for people editing a config or
 * policy file. `knownKeys` turns an unknown key into a "did you mean" hint.
 */
export function describeZodIssues(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  knownKeys: readonly string[] = [],
): DescribedIssue[] {
  const out: DescribedIssue[] = [];
  for (const issue of issues) {
    const path = issue.path as PropertyKey[];
    const value = valueAt(raw, path);
    const at = (message: string, where: readonly PropertyKey[] = path) =>
      out.push({ path: formatJsonPath(where), message });
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) at(`unknown key "${key}"${suggest(key, knownKeys)}`, [...path, key]);
        break;
      case 'invalid_type':
        at(
          value === undefined ? 'is required' : `expected ${article(issue.expected)}, got ${describe(value)}`,
        );
        break;
      case 'invalid_value':
        at(
          value === undefined
            ? 'is required'
            : `expected ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${describe(value)}`,
        );
        break;
      case 'invalid_union': {
        if (value === undefined) {
          at('is required');
          break;
        }
        // An object that fits no shape: report the shape the author most likely meant (fewest issues).
        // A scalar keeps the union's own message, which names every accepted value.
        const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
        if (best?.length && typeof value === 'object' && value !== null && !Array.isArray(value)) {
          const nested = best.map((sub) => ({ ...sub, path: [...path, ...sub.path] }) as z.core.$ZodIssue);
          out.push(...describeZodIssues(nested, raw, knownKeys));
        } else at(issue.message);
        break;
      }
      case 'invalid_key':
        at(`invalid key: ${issue.issues[0]?.message ?? issue.message}`);
        break;
      default:
        at(issue.message);
    }
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.hasOwn(cur, seg as string)) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function article(expected: string): string {
  if (expected === 'array') return 'a list';
  if (expected === 'object' || expected === 'record') return 'an object';
  if (expected === 'int') return 'a whole number';
  return `a ${expected}`;
}

/** Describes a value briefly for "got …" in messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}

function suggest(key: string, knownKeys: readonly string[]): string {
  let best: string | undefined;
  // Short keys get one edit of slack, longer ones two, so hints stay plausible.
  let bestDistance = key.length <= 4 ? 2 : 3;
  for (const known of knownKeys) {
    const d = editDistance(key.toLowerCase(), known.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = known;
      bestDistance = d;
    }
  }
  return best === undefined || best === key ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] as number;
}
