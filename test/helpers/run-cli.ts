import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './airlock-harness.js';

/** The compiled CLI; the tests run it as users do (`npm test` builds first). */
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** What one CLI run printed and how it exited. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@link runCli}. */
export interface RunCliOptions {
  /** @defaultValue a fresh empty temp dir, so no stray airlock.config.json is picked up */
  cwd?: string;
  /** Added to an environment without AIRLOCK_URL / AIRLOCK_TOKEN / NO_COLOR. */
  env?: Record<string, string>;
}

/**
 * Runs `node dist/cli/main.js ...args` without blocking this process's event loop (an in-process
 * gateway has to keep answering the CLI), and resolves with its exit code and output whatever it is.
 */
export function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.build.json)`);
  const { AIRLOCK_URL: _u, AIRLOCK_TOKEN: _t, NO_COLOR: _n, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd: options.cwd ?? mkdtempSync(join(tmpdir(), 'airlock-cli-')),
        env: { ...env, ...options.env },
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
