import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander } from 'ioredis';
import { AirlockError } from '../core/errors.js';
import type { RedisClient } from './connection.js';

/**
 * Every Lua script, named by its file in `scripts/`. A `-N` ending fixes the script's number of keys
 * at N; a script without one takes a variable number, which each call then sends.
 */
export const SCRIPT_NAMES = [
  'check-rate-limits',
  'compare-and-set',
  'create-or-attach',
  'answer-task-1',
  'create-task',
  'heartbeat-task-1',
  'release-lock-1',
  'transition-task-1',
  'trim-index-2',
  'trim-records-2',
  'touch-session-2',
  'use-grant-1',
  'write-decisions',
] as const;

/** The name of one script file, without `.lua`. */
export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** A value a script takes as ARGV. */
export type ScriptArg = string | number;

interface Script {
  /** The method defineCommand adds, e.g. `trimIndex` for `trim-index-2.lua`. */
  command: string;
  numberOfKeys: number | undefined;
  lua: string;
}

// Beside this module both in src/ (tsx) and in dist/ (the build copies them), so one path serves both.
const SCRIPTS_DIR = new URL('./scripts/', import.meta.url);

let scripts: ReadonlyMap<ScriptName, Script> | undefined;

/** Reads the script files once, on first use, so a missing file fails the first store constructed. */
function definitions(): ReadonlyMap<ScriptName, Script> {
  if (scripts) return scripts;
  const read = new Map<ScriptName, Script>();
  for (const name of SCRIPT_NAMES) {
    const file = new URL(`${name}.lua`, SCRIPTS_DIR);
    let lua: string;
    try {
      lua = readFileSync(file, 'utf8');
    } catch (err) {
      throw new AirlockError(
        'INTERNAL',
        `Lua script ${fileURLToPath(file)} is missing (a build that did not copy src/redis/scripts?)`,
        {},
        { cause: err },
      );
    }
    const [, base = name, keys] = /^(.*?)(?:-(\d+))?$/.exec(name) ?? [];
    const command = base.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    read.set(name, { command, numberOfKeys: keys === undefined ? undefined : Number(keys), lua });
  }
  scripts = read;
  return read;
}

const loaded = new WeakSet<RedisClient>();

/**
 * Defines every script as a command on `redis`, once per connection. Calls then send EVALSHA, and
 * ioredis resends a script the server no longer has (a restart or failover empties its cache), also
 * inside pipelines; pipelines made after this carry the commands too.
 */
export function loadScripts(redis: RedisClient): void {
  if (loaded.has(redis)) return;
  for (const { command, numberOfKeys, lua } of definitions().values()) {
    if (command in redis) {
      throw new AirlockError('INTERNAL', `Lua script command ${command} would shadow an ioredis method`);
    }
    redis.defineCommand(command, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
  }
  loaded.add(redis);
}

/** The arguments of one script command: the key count first when the script's file does not fix it. */
function commandArgs(name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): ScriptArg[] {
  const { numberOfKeys } = definitions().get(name)!;
  if (numberOfKeys === undefined) return [keys.length, ...keys, ...args];
  if (keys.length !== numberOfKeys) {
    throw new AirlockError('INTERNAL', `Lua script ${name} takes ${numberOfKeys} keys, not ${keys.length}`);
  }
  return [...keys, ...args];
}

type ScriptCommand<R> = (...args: ScriptArg[]) => R;

/** Runs one script on `redis` (loading the scripts there first if needed) and returns its reply. */
export function runScript(
  redis: RedisClient,
  name: ScriptName,
  keys: readonly string[],
  args: readonly ScriptArg[],
): Promise<unknown> {
  loadScripts(redis);
  const argv = commandArgs(name, keys, args);
  const command = (redis as unknown as Record<string, ScriptCommand<Promise<unknown>>>)[
    definitions().get(name)!.command
  ]!;
  return command.apply(redis, argv);
}

/** A pipeline on `redis` that can queue scripts with {@link queueScript}. */
export function scriptPipeline(redis: RedisClient): ChainableCommander {
  loadScripts(redis);
  return redis.pipeline();
}

/** Queues one script run on a pipeline from {@link scriptPipeline}; its reply comes with `exec()`. */
export function queueScript(
  pipeline: ChainableCommander,
  name: ScriptName,
  keys: readonly string[],
  args: readonly ScriptArg[],
): void {
  const argv = commandArgs(name, keys, args);
  const command = (pipeline as unknown as Record<string, ScriptCommand<unknown> | undefined>)[
    definitions().get(name)!.command
  ];
  if (!command) throw new AirlockError('INTERNAL', `Pipeline was not made by scriptPipeline: no ${name}`);
  command.apply(pipeline, argv);
}
