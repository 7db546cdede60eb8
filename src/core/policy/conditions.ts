import { compileGlob } from './glob.js';

/** Every comparison operator a condition may use; `neq` and `contains` come from PolicyLayer's format. */
export const CONDITION_OPS = [
  'eq',
  'ne',
  'neq',
  'in',
  'not_in',
  'gt',
  'gte',
  'lt',
  'lte',
  'glob',
  'regex',
  'exists',
  'contains',
] as const;

/** One comparison operator. */
export type ConditionOp = (typeof CONDITION_OPS)[number];

/**
 * Longest string a `regex` condition is run against. Longer values are not matched at all: the call
 * is denied (fail closed), since answering "no match" would let a padded argument slip past a deny rule.
 */
export const MAX_REGEX_INPUT = 4096;

/** A test over a call's arguments. */
export type ArgsPredicate = (args: Record<string, unknown>) => boolean;

/** Thrown inside a predicate when an argument cannot be checked safely; evaluate() turns it into a deny. */
export class UncheckableArgumentError extends Error {
  constructor(readonly argPath: string) {
    super(
      `Argument ${argPath} is longer than ${MAX_REGEX_INPUT} characters, too long to check against the policy's regex`,
    );
  }
}

const MISSING: unique symbol = Symbol('missing');

/** Splits a dotted path once, at load time. */
export function splitPath(path: string): string[] {
  return path.split('.');
}

/**
 * Reads a dotted path from the arguments. Only own properties count (so `constructor` or
 * `__proto__` never resolve to something inherited); a numeric segment indexes an array.
 */
function resolve(args: unknown, segments: readonly string[]): unknown {
  let cur: unknown = args;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    if (cur === null || typeof cur !== 'object') return MISSING;
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9]\d*)$/.test(seg)) return MISSING;
      const idx = Number(seg);
      if (idx >= cur.length) return MISSING;
      cur = cur[idx];
    } else {
      if (!Object.hasOwn(cur, seg)) return MISSING;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}

/** Structural equality over JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], bb[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (
      !Object.hasOwn(b, k) ||
      !jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    ) {
      return false;
    }
  }
  return true;
}

function isPrimitive(v: unknown): boolean {
  return v === null || (typeof v !== 'object' && typeof v !== 'function');
}

/** Returns a problem with a condition's operand, or undefined when it is usable. Checked at load time. */
export function checkOperand(op: ConditionOp, value: unknown): string | undefined {
  switch (op) {
    case 'in':
    case 'not_in':
      return Array.isArray(value) ? undefined : `${op} needs a list of values`;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `${op} needs a number`;
    case 'glob':
      return typeof value === 'string' ? undefined : 'glob needs a string pattern';
    case 'regex':
      return typeof value === 'string' ? checkRegex(value) : 'regex needs a string pattern';
    case 'exists':
      return typeof value === 'boolean' ? undefined : 'exists needs true or false';
    case 'contains':
      return value === undefined ? 'contains needs a value' : undefined;
    default:
      return value === undefined ? `${op} needs a value` : undefined;
  }
}

/** Returns why a regex is refused (does not compile, or nests unbounded quantifiers), or undefined. */
export function checkRegex(source: string): string | undefined {
  try {
    new RegExp(source);
  } catch (err) {
    return `invalid regex: ${(err as Error).message}`;
  }
  if (hasNestedUnboundedQuantifier(source)) {
    return 'regex nests unbounded quantifiers (like "(a+)+"), which can take exponential time; simplify it';
  }
  return undefined;
}

/**
 * Detects star height > 1: a group that contains an unbounded quantifier and is itself repeated
 * without bound. That is the shape behind catastrophic backtracking; other slow shapes are kept in
 * check by MAX_REGEX_INPUT.
 */
function hasNestedUnboundedQuantifier(src: string): boolean {
  const stack: boolean[] = [false];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      i += 2;
    } else if (c === '[') {
      i++;
      if (src[i] === ']') i++;
      while (i < src.length && src[i] !== ']') i += src[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '(') {
      stack.push(false);
      i++;
    } else if (c === ')') {
      const inner = stack.pop() ?? false;
      i++;
      const q = unboundedQuantifierAt(src, i);
      if (q && inner) return true;
      if (inner || q) stack[stack.length - 1] = true;
    } else {
      if (unboundedQuantifierAt(src, i)) stack[stack.length - 1] = true;
      i++;
    }
  }
  return false;
}

function unboundedQuantifierAt(src: string, i: number): boolean {
  const c = src[i];
  if (c === '*' || c === '+') return true;
  if (c === '{') return /^\{\d+,\}/.test(src.slice(i, i + 24));
  return false;
}

/** Compiles one `op: value` test on one argument path into a closure. The operand must already be checked. */
export function compileComparison(path: string, op: ConditionOp, expected: unknown): ArgsPredicate {
  const segs = splitPath(path);
  const test = compileOp(path, op, expected);
  if (segs.length === 1) {
    const key = segs[0] as string;
    return (args) => test(Object.hasOwn(args, key) ? args[key] : MISSING);
  }
  return (args) => test(resolve(args, segs));
}

function compileOp(path: string, op: ConditionOp, expected: unknown): (v: unknown) => boolean {
  switch (op) {
    case 'eq':
      return isPrimitive(expected) ? (v) => v === expected : (v) => v !== MISSING && jsonEqual(v, expected);
    case 'ne':
    case 'neq': {
      const eq = compileOp(path, 'eq', expected);
      return (v) => !eq(v);
    }
    case 'in': {
      const list = expected as unknown[];
      if (list.every(isPrimitive)) {
        const set = new Set(list);
        return (v) => v !== MISSING && isPrimitive(v) && set.has(v);
      }
      return (v) => v !== MISSING && list.some((x) => jsonEqual(v, x));
    }
    case 'not_in': {
      const inList = compileOp(path, 'in', expected);
      return (v) => !inList(v);
    }
    case 'gt': {
      const n = expected as number;
      return (v) => typeof v === 'number' && v > n;
    }
    case 'gte': {
      const n = expected as number;
      return (v) => typeof v === 'number' && v >= n;
    }
    case 'lt': {
      const n = expected as number;
      return (v) => typeof v === 'number' && v < n;
    }
    case 'lte': {
      const n = expected as number;
      return (v) => typeof v === 'number' && v <= n;
    }
    case 'glob': {
      const match = compileGlob(expected as string);
      return (v) => typeof v === 'string' && match(v);
    }
    case 'regex': {
      const re = new RegExp(expected as string);
      return (v) => {
        if (typeof v !== 'string') return false;
        if (v.length > MAX_REGEX_INPUT) throw new UncheckableArgumentError(path);
        return re.test(v);
      };
    }
    case 'exists':
      return expected ? (v) => v !== MISSING : (v) => v === MISSING;
    case 'contains':
      return (v) => {
        if (typeof v === 'string') return typeof expected === 'string' && v.includes(expected);
        if (Array.isArray(v)) return v.some((x) => jsonEqual(x, expected));
        return false;
      };
  }
}

/** ANDs predicates into one closure; an empty list always holds. */
export function allOf(preds: readonly ArgsPredicate[]): ArgsPredicate {
  if (preds.length === 0) return () => true;
  if (preds.length === 1) return preds[0] as ArgsPredicate;
  if (preds.length === 2) {
    const [a, b] = preds as [ArgsPredicate, ArgsPredicate];
    return (args) => a(args) && b(args);
  }
  return (args) => {
    for (let i = 0; i < preds.length; i++) if (!(preds[i] as ArgsPredicate)(args)) return false;
    return true;
  };
}

/** Compiles an agent list (exact ids or globs) into a membership test. */
export function compileAgents(agents: readonly string[]): (agent: string) => boolean {
  const exact = new Set<string>();
  const globs: ((s: string) => boolean)[] = [];
  for (const a of agents) {
    if (a.includes('*') || a.includes('?')) globs.push(compileGlob(a));
    else exact.add(a);
  }
  if (globs.length === 0) return (agent) => exact.has(agent);
  return (agent) => exact.has(agent) || globs.some((g) => g(agent));
}

const OP_WORDS: Record<ConditionOp, string> = {
  eq: '=',
  ne: '!=',
  neq: '!=',
  in: 'in',
  not_in: 'not in',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  glob: 'matches glob',
  regex: 'matches regex',
  exists: 'exists',
  contains: 'contains',
};

/** Describes a condition for people, e.g. `amount > 10000` or `reason is present`. */
export function describeCondition(path: string, op: ConditionOp, value: unknown): string {
  if (op === 'exists') return `${path} is ${value ? 'present' : 'absent'}`;
  if (op === 'regex') return `${path} matches /${String(value)}/`;
  return `${path} ${OP_WORDS[op]} ${JSON.stringify(value)}`;
}
