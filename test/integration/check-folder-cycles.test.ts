import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../scripts/check-folder-cycles.mjs', import.meta.url));

/** Writes a source tree (path → text) to a temp dir and runs the check on it. */
function check(files: Record<string, string>): { status: number | null; stderr: string } {
  const root = mkdtempSync(join(tmpdir(), 'airlock-cycles-'));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    const run = spawnSync(process.execPath, [script, root], { cwd: root, encoding: 'utf8' });
    return { status: run.status, stderr: run.stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('folders importing each other in a circle of three fail, with one import per edge', () => {
  const { status, stderr } = check({
    'a/one.ts': "import type { B } from '../b/two.js';\nexport type A = B;\n",
    'b/two.ts': "export { c } from '../c/three.js';\nexport type B = string;\n",
    'c/three.ts': "// import { nothing } from '../d/four.js';\nimport '../a/one.js';\nexport const c = 1;\n",
    'd/four.ts': "import { c } from '../c/three.js';\nexport const d = c;\n",
    'app.ts': "import { d } from './d/four.js';\nconsole.log(d);\n",
  });
  assert.equal(status, 1, stderr);
  assert.match(stderr, /a\/ -> b\/ -> c\/ -> a\//);
  assert.match(stderr, /a\/ -> b\/: a\/one\.ts imports '\.\.\/b\/two\.js'/);
  assert.match(stderr, /b\/ -> c\/: b\/two\.ts imports '\.\.\/c\/three\.js'/);
  assert.match(stderr, /c\/ -> a\/: c\/three\.ts imports '\.\.\/a\/one\.js'/);
  // d/ only imports into the cycle, and the commented-out import is no edge.
  assert.doesNotMatch(stderr, /d\//);
  assert.match(stderr, /1 folder cycle/);
});

test('every cycle of a tangle is printed, and a tree without cycles passes', () => {
  const tangle = check({
    'a/x.ts': "import '../b/x.js';\nimport '../c/x.js';\n",
    'b/x.ts': "import '../a/x.js';\n",
    'c/x.ts': "const lazy = () => import('../a/x.js');\nexport { lazy };\n",
  });
  assert.equal(tangle.status, 1, tangle.stderr);
  assert.match(tangle.stderr, /a\/ -> b\/ -> a\//);
  assert.match(tangle.stderr, /a\/ -> c\/ -> a\//);
  assert.match(tangle.stderr, /2 folder cycle/);

  const clean = check({
    'core/x.ts': 'export const x = 1;\n',
    'redis/y.ts': "import { x } from '../core/x.js';\nimport { z } from './z.js';\nexport const y = x + z;\n",
    'redis/z.ts': "import { y } from './y.js';\nexport const z = 2;\nexport { y };\n",
    'app.ts': "import { y } from './redis/y.js';\nimport pino from 'pino';\nconsole.log(y, pino);\n",
  });
  assert.equal(clean.status, 0, clean.stderr);
  assert.equal(clean.stderr, '');
});
