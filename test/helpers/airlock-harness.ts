import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parseConfig } from '../../src/config/load-config.js';
import { startAirlock, type Airlock } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { after, before } from 'node:test';
import { freshPrefix, startRedis, type TestRedis } from './redis.js';

/** Repository root, for paths to the demo lab and fixtures. */
export const ROOT = resolve(import.meta.dirname, '..', '..');

/** Command that runs the demo lab server: compiled when built (npm test builds), else through tsx. */
export function labServerCommand(): { command: string; args: string[] } {
  const built = join(ROOT, 'dist', 'demo', 'lab-server.js');
  if (existsSync(built)) return { command: process.execPath, args: [built] };
  return {
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), join(ROOT, 'src', 'demo', 'lab-server.ts')],
  };
}

/** Options for {@link startTestAirlock}. */
export interface TestAirlockOptions {
  redisUrl: string;
  prefix?: string;
  /** Policy documents by server name, written to a temp dir; or a directory path. @defaultValue the repo's policies/ */
  policies?: Record<string, unknown> | string;
  /** Raw config merged over the defaults (servers default to the demo lab as "lab"). */
  config?: Record<string, unknown>;
}

/** An in-process Airlock for tests. */
export interface TestAirlock {
  airlock: Airlock;
  url: string;
  prefix: string;
  dataDir: string;
  /** Connects an MCP SDK Client over Streamable HTTP. */
  connect(options?: { token?: string; name?: string }): Promise<Client>;
  stop(): Promise<void>;
}

/** Starts Airlock on a free port against the given Redis, with the demo lab as upstream. */
export async function startTestAirlock(options: TestAirlockOptions): Promise<TestAirlock> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-test-'));
  let policies = join(ROOT, 'policies');
  if (typeof options.policies === 'string') policies = options.policies;
  else if (options.policies) {
    policies = join(dataDir, 'policies');
    (await import('node:fs')).mkdirSync(policies);
    for (const [server, doc] of Object.entries(options.policies)) {
      writeFileSync(join(policies, `${server}.json`), JSON.stringify(doc, null, 2));
    }
  }
  const prefix = options.prefix ?? freshPrefix('al');
  const raw = {
    listen: { host: '127.0.0.1', port: 0 },
    dataDir,
    redis: { url: options.redisUrl, prefix },
    policies,
    servers: { lab: labServerCommand() },
    log: { level: 'silent' },
    ...options.config,
  };
  const config = parseConfig(raw, dataDir, process.env);
  const logger = createLogger(process.env.AIRLOCK_TEST_LOG ?? 'silent');
  const airlock = await startAirlock(config, { logger });
  const clients: Client[] = [];
  return {
    airlock,
    url: airlock.url!,
    prefix,
    dataDir,
    connect: async (o = {}) => {
      const client = new Client({ name: o.name ?? 'test-agent', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(`${airlock.url}/mcp`), {
        requestInit: o.token ? { headers: { Authorization: `Bearer ${o.token}` } } : {},
      });
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    stop: async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
      await airlock.stop();
    },
  };
}

/** Two agents (ci-bot, ops-bot) and one reviewer (alice) with these tokens: the people most suites need. */
export const AGENT_TOKEN = 'agent-token-0123456789abcdef';
export const OTHER_AGENT_TOKEN = 'other-token-0123456789abcdef';
export const ALICE_TOKEN = 'alice-token-0123456789abcdef';
export const TWO_AGENTS_AND_ALICE = {
  agents: [
    { id: 'ci-bot', token: AGENT_TOKEN },
    { id: 'ops-bot', token: OTHER_AGENT_TOKEN },
  ],
  reviewers: [{ id: 'alice', token: ALICE_TOKEN }],
};

/** Two replicas of one Airlock (same Redis, same prefix), started before a file's tests. */
export interface AirlockPair {
  readonly redis: TestRedis;
  readonly a: TestAirlock;
  readonly b: TestAirlock;
}

/**
 * Registers the file's hooks: a Redis and two replicas on it with `config` and `policies` before the
 * tests (then `onStarted`); after them `beforeStop` (close the file's own clients and streams), the replicas, the Redis.
 */
export function useAirlockPair(o: {
  config: Record<string, unknown>;
  policies: Record<string, unknown>;
  /** Runs once both replicas are up (hook their events here). */
  onStarted?: (pair: AirlockPair) => void;
  beforeStop?: () => Promise<void> | void;
}): AirlockPair {
  let started: { redis: TestRedis; a?: TestAirlock; b?: TestAirlock } | undefined;
  before(async () => {
    const redis = await startRedis();
    started = { redis };
    started.a = await startTestAirlock({ redisUrl: redis.url, config: o.config, policies: o.policies });
    started.b = await startTestAirlock({
      redisUrl: redis.url,
      prefix: started.a.prefix,
      config: o.config,
      policies: o.policies,
    });
    o.onStarted?.(pair);
  });
  after(async () => {
    await o.beforeStop?.();
    await Promise.all([started?.a?.stop().catch(() => {}), started?.b?.stop().catch(() => {})]);
    await started?.redis.stop();
  });
  const get = <K extends keyof AirlockPair>(key: K): AirlockPair[K] => {
    const value = started?.[key];
    if (!value) throw new Error('the replicas of this file are not started yet');
    return value as AirlockPair[K];
  };
  const pair: AirlockPair = {
    get redis() {
      return get('redis');
    },
    get a() {
      return get('a');
    },
    get b() {
      return get('b');
    },
  };
  return pair;
}
