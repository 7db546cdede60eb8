import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { AirlockError } from '../core/errors.js';
import { describeZodIssues } from '../core/zod-issues.js';
import { configSchema, type AirlockConfig } from './schema.js';
import { expandEnv } from './expand-env.js';

/** Config file names looked up in the working directory, in order. */
export const CONFIG_FILE_NAMES = ['airlock.config.json', 'airlock.config.yaml', 'airlock.config.yml'];

/** The package root (where `dist/`, `policies/` and `package.json` live). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The policies shipped with Airlock, for the demo lab. */
export const BUNDLED_POLICIES = join(PACKAGE_ROOT, 'policies');

/** A loaded config plus where it came from. */
export interface LoadedConfig {
  config: AirlockConfig;
  /** Absolute path of the file, or `undefined` for the built-in demo config. */
  file: string | undefined;
}

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Explicit `--config` path. */
  file?: string;
  /** Directory searched for a config file. @defaultValue process.cwd() */
  cwd?: string;
  /** Use the built-in demo config when no file is found. @defaultValue false */
  demo?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Finds, reads, expands, validates and freezes the configuration. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let file = options.file ? resolve(cwd, options.file) : undefined;
  if (file && !existsSync(file)) throw new AirlockError('CONFIG_INVALID', `Config file not found: ${file}`);
  file ??= CONFIG_FILE_NAMES.map((n) => join(cwd, n)).find((p) => existsSync(p));
  if (!file) {
    if (!options.demo) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `No config file found in ${cwd} (looked for ${CONFIG_FILE_NAMES.join(', ')}); pass --config FILE`,
      );
    }
    return { config: parseConfig(demoConfig(), cwd, env), file: undefined };
  }
  const text = readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new AirlockError('CONFIG_INVALID', `${file}: ${(err as Error).message}`);
  }
  try {
    return { config: parseConfig(raw ?? {}, dirname(file), env), file };
  } catch (err) {
    if (err instanceof AirlockError) throw new AirlockError(err.code, `${file}: ${err.message}`, err.details);
    throw err;
  }
}

/** Validates a raw config document; relative paths are resolved against `baseDir`. */
export function parseConfig(
  raw: unknown,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): AirlockConfig {
  const expanded = expandEnv(raw, env);
  const result = configSchema.safeParse(expanded);
  if (!result.success) {
    const issues = describeZodIssues(result.error.issues, expanded);
    throw new AirlockError('CONFIG_INVALID', issues.map((i) => `${i.path}: ${i.message}`).join('\n'), {
      issues,
    });
  }
  const c = result.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const dataDir = abs(c.dataDir);
  const config: AirlockConfig = {
    ...c,
    dataDir,
    policies: abs(c.policies),
    audit: { ...c.audit, file: abs(c.audit.file ?? join(dataDir, 'audit.jsonl')) },
    servers: Object.fromEntries(
      Object.entries(c.servers).map(([name, s]) => [
        name,
        s.kind === 'stdio' ? { ...s, cwd: abs(s.cwd ?? '.') } : s,
      ]),
    ),
  };
  checkConfig(config);
  return deepFreeze(config);
}

/** Cross-field rules zod cannot express per key. */
function checkConfig(c: AirlockConfig): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  c.agents.forEach((a, i) => {
    if (seen.has(a.id)) problems.push(`$.agents[${i}].id: duplicate agent id "${a.id}"`);
    seen.add(a.id);
  });
  const reviewers = new Set<string>();
  c.reviewers.forEach((r, i) => {
    if (reviewers.has(r.id)) problems.push(`$.reviewers[${i}].id: duplicate reviewer id "${r.id}"`);
    reviewers.add(r.id);
  });
  const tokens = new Map<string, string>();
  [
    ...c.agents.map((a, i) => [a.token, `$.agents[${i}].token`]),
    ...c.reviewers.map((r, i) => [r.token, `$.reviewers[${i}].token`]),
  ]
    .filter((x): x is [string, string] => Boolean(x[0]))
    .forEach(([token, path]) => {
      const other = tokens.get(token);
      if (other) problems.push(`${path}: same token as ${other}; every agent and reviewer needs its own`);
      tokens.set(token, path);
    });
  if (!isLoopback(c.listen.host)) {
    if (!c.agents.some((a) => a.token)) {
      problems.push(`$.agents: listening on ${c.listen.host} (not loopback) requires agent tokens`);
    }
    if (!c.reviewers.some((r) => r.token)) {
      problems.push(`$.reviewers: listening on ${c.listen.host} (not loopback) requires reviewer tokens`);
    }
  }
  const slack = c.slack;
  if (slack.botToken && !slack.appToken && !slack.signingSecret) {
    problems.push('$.slack.signingSecret: required for HTTP mode (set it, or set appToken for Socket Mode)');
  }
  if (slack.botToken && !slack.channel) problems.push('$.slack.channel: required when slack.botToken is set');
  if (problems.length) throw new AirlockError('CONFIG_INVALID', problems.join('\n'));
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The config `npm start` runs with when no config file exists: the demo lab as upstream. */
export function demoConfig(): Record<string, unknown> {
  return {
    policies: BUNDLED_POLICIES,
    servers: {
      lab: { command: process.execPath, args: [join(PACKAGE_ROOT, 'dist', 'demo', 'lab-server.js')] },
    },
  };
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
