// Fails when the top-level folders of src/ import each other in a circle, even through `import type`
// or `export … from`: madge reports file cycles only, and folders are what the architecture is drawn in.
// Usage: node scripts/check-folder-cycles.mjs [root]   (root defaults to src)
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const root = resolve(process.argv[2] ?? 'src');
const SOURCE = /\.(?:[cm]?ts|tsx|[cm]?js)$/;

/** Every source file under `dir`, sorted so the output is stable. */
function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (SOURCE.test(entry.name)) out.push(path);
  }
  return out.sort();
}

/** The node a path under root belongs to: its top-level folder (`agent/`), or itself for root files. */
function nodeOf(path) {
  const parts = relative(root, path).split(sep);
  return parts.length > 1 ? `${parts[0]}/` : parts[0].replace(/\.[cm]?js$/, '.ts');
}

// edges: from node → to node → the first import seen that makes the edge, as an example.
const edges = new Map();
for (const file of sourceFiles(root)) {
  // The compiler's own scanner: it sees type-only imports, re-exports and import() and skips comments.
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  for (const { fileName: specifier } of importedFiles) {
    if (!specifier.startsWith('.')) continue;
    const target = resolve(dirname(file), specifier);
    if (relative(root, target).startsWith('..')) continue;
    const from = nodeOf(file);
    const to = nodeOf(target);
    if (from === to) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    const out = edges.get(from);
    if (!out.has(to)) out.set(to, `${relative(process.cwd(), file)} imports '${specifier}'`);
  }
}

/** Tarjan's strongly connected components: each one with several nodes holds at least one cycle. */
function components() {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(new Set(component));
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** The shortest path from `start` to `goal` inside `members` (breadth first), both ends included. */
function shortestPath(start, goal, members) {
  const cameFrom = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    if (v === goal) break;
    for (const w of [...(edges.get(v)?.keys() ?? [])].sort()) {
      if (!members.has(w) || cameFrom.has(w)) continue;
      cameFrom.set(w, v);
      queue.push(w);
    }
  }
  const path = [];
  for (let v = goal; v !== undefined; v = cameFrom.get(v)) path.unshift(v);
  return path;
}

// One cycle through every edge inside a component, so each edge that could be cut is shown once.
const cycles = new Map();
for (const members of components()) {
  for (const from of members) {
    for (const to of edges.get(from).keys()) {
      if (!members.has(to)) continue;
      const cycle = [from, ...shortestPath(to, from, members).slice(0, -1)];
      const first = cycle.indexOf([...cycle].sort()[0]);
      const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
      cycles.set(rotated.join(' -> '), rotated);
    }
  }
}

if (!cycles.size) process.exit(0);
for (const [name, cycle] of [...cycles].sort(([a], [b]) => a.localeCompare(b))) {
  console.error(
    `Import cycle between folders of ${relative(process.cwd(), root) || '.'}: ${name} -> ${cycle[0]}`,
  );
  cycle.forEach((from, i) => {
    const to = cycle[(i + 1) % cycle.length];
    console.error(`  ${from} -> ${to}: ${edges.get(from).get(to)}`);
  });
}
console.error(
  `${cycles.size} folder cycle(s); move what both sides need to where it belongs, or invert one edge.`,
);
process.exit(1);
