import { z } from 'zod';
import { DEFAULT_RETENTION_DAYS } from '../core/retention.js';

const serverCommon = {
  /** Prefix added to this server's tool names, to resolve name collisions. */
  toolPrefix: z.string().min(1).optional(),
  /** Milliseconds an upstream call may take before it fails with UPSTREAM_ERROR. @defaultValue 120000 */
  timeoutMs: z.number().int().positive().default(120_000),
};

const stdioServer = z
  .strictObject({
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    ...serverCommon,
  })
  .transform((s) => ({ kind: 'stdio' as const, ...s }));

const httpServer = z
  .strictObject({
    url: z.url(),
    headers: z.record(z.string(), z.string()).default({}),
    ...serverCommon,
  })
  .transform((s) => ({ kind: 'http' as const, ...s }));

const serverName = z.string().regex(/^[A-Za-z0-9_-]+$/, 'server names use letters, digits, _ and -');

/** The whole airlock.config.{json,yaml} file; every key has a default and unknown keys are errors. */
export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(7420),
    })
    .prefault({}),
  publicUrl: z.string().optional(),
  dataDir: z.string().default('.airlock'),
  redis: z
    .strictObject({
      /** External Redis (`redis://`, `rediss://`, `unix:///path`); unset: embedded redis-server. */
      url: z.string().optional(),
      /** Treat `url` as one seed node of a Redis Cluster. @defaultValue false */
      cluster: z.boolean().default(false),
      /** Key prefix; wrap it in braces (`{airlock}`) for Redis Cluster so all keys share one slot. */
      prefix: z.string().min(1).default('airlock'),
    })
    .prefault({}),
  policies: z.string().default('./policies'),
  servers: z.record(serverName, z.union([stdioServer, httpServer])).default({}),
  agents: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        token: z.string().min(16, 'agent tokens must be at least 16 characters').optional(),
        owner: z.string().optional(),
      }),
    )
    .default([]),
  reviewers: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        token: z.string().min(16, 'reviewer tokens must be at least 16 characters').optional(),
        slack: z.string().optional(),
      }),
    )
    .default([]),
  slack: z
    .strictObject({
      botToken: z.string().optional(),
      signingSecret: z.string().optional(),
      appToken: z.string().optional(),
      channel: z.string().optional(),
      apiUrl: z.string().default('https://slack.com/api/'),
    })
    .prefault({}),
  audit: z
    .strictObject({
      file: z.string().optional(),
    })
    .prefault({}),
  approvals: z
    .strictObject({
      /**
       * Milliseconds between two runs of the repair sweep on each replica (one replica at a time does the
       * work): it expires requests whose deadline job was lost and finishes approved calls whose release
       * was lost or whose job BullMQ gave up. @defaultValue 30000
       */
      sweepIntervalMs: z.number().int().min(100).default(30_000),
    })
    .prefault({}),
  history: z
    .strictObject({
      /** Days a finished request is kept. @defaultValue DEFAULT_RETENTION_DAYS (90) */
      retentionDays: z.number().positive().default(DEFAULT_RETENTION_DAYS),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .prefault({}),
});

/** Parsed, defaulted and frozen configuration. */
export type AirlockConfig = z.output<typeof configSchema>;
/** One upstream server's configuration. */
export type ServerConfig = AirlockConfig['servers'][string];
/** A stdio upstream's configuration. */
export type StdioServerConfig = Extract<ServerConfig, { kind: 'stdio' }>;
/** A Streamable HTTP upstream's configuration. */
export type HttpServerConfig = Extract<ServerConfig, { kind: 'http' }>;
