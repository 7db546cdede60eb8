/** True when the text contains a glob wildcard (`*` or `?`). */
export function isGlob(text: string): boolean {
  return text.includes('*') || text.includes('?');
}

/**
 * Compiles a glob (`*` any run of characters, `?` exactly one) to a matcher.
 * The matcher is the classic greedy wildcard walk, O(text × pattern) at worst, so unlike a
 * regex translation no pattern can make it backtrack exponentially.
 */
export function compileGlob(pattern: string): (text: string) => boolean {
  if (pattern === '*') return () => true;
  if (!isGlob(pattern)) return (text) => text === pattern;
  const star = pattern.indexOf('*');
  // A single trailing star is by far the most common shape (`delete_*`): a prefix test.
  if (star === pattern.length - 1 && !pattern.includes('?')) {
    const prefix = pattern.slice(0, -1);
    return (text) => text.startsWith(prefix);
  }
  return (text) => globMatch(pattern, text);
}

function globMatch(p: string, t: string): boolean {
  let pi = 0;
  let ti = 0;
  let starP = -1;
  let starT = 0;
  while (ti < t.length) {
    const pc = p.charCodeAt(pi);
    if (pi < p.length && (pc === 63 /* ? */ || pc === t.charCodeAt(ti))) {
      pi++;
      ti++;
    } else if (pi < p.length && pc === 42 /* * */) {
      starP = pi++;
      starT = ti;
    } else if (starP >= 0) {
      pi = starP + 1;
      ti = ++starT;
    } else {
      return false;
    }
  }
  while (pi < p.length && p.charCodeAt(pi) === 42) pi++;
  return pi === p.length;
}

/**
 * Orders globs most specific first: more non-`*` characters, then the longer pattern, then plain
 * code-unit order of the pattern, so the winner never depends on the order of keys in the file.
 */
export function compareGlobSpecificity(a: string, b: string): number {
  const fixed = (s: string) => s.length - countStars(s);
  return fixed(b) - fixed(a) || b.length - a.length || (a < b ? -1 : a > b ? 1 : 0);
}

function countStars(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 42) n++;
  return n;
}
