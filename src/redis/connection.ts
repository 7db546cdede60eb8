import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { AirlockError } from '../core/errors.js';
import type { Logger } from '../log.js';

/** Options of createRedis. */
export interface RedisConnectionOptions {
  /**
   * Where Redis is: `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS), or a unix socket as
   * `unix:///abs/path/redis.sock[?db=N&password=…]` (a bare absolute path works too).
   */
  url: string;
  /** Treat `url` as one seed node of a Redis Cluster (TCP only). */
  cluster: boolean;
  /** Sent as CLIENT SETNAME so `CLIENT LIST` shows which Airlock part holds the connection. */
  name?: string;
  logger: Logger;
  /** A command not answered within this many ms fails, so a frozen Redis fails closed. @defaultValue 2000 */
  commandTimeoutMs?: number;
  /** Time allowed to establish one TCP/socket connection. @defaultValue 5000 */
  connectTimeoutMs?: number;
}

/** An Airlock Redis connection: a single node or a cluster, both fail-fast. */
export type RedisClient = Redis | Cluster;

/** Reconnect delays grow to 2 s and never give up: the outage is reported per call, not by dying. */
function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 200, 2000);
}

function dbIndex(value: string, url: string): number {
  const db = Number(value);
  if (!Number.isInteger(db) || db < 0) {
    throw new AirlockError('CONFIG_INVALID', `redis.url names database "${value}", not a number: ${url}`);
  }
  return db;
}

/** Turns a URL into ioredis node options; unix sockets are spelled `unix:///path`. */
export function parseRedisUrl(url: string): RedisOptions {
  if (url.startsWith('/')) return { path: url };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AirlockError('CONFIG_INVALID', `redis.url is not a valid URL: ${url}`);
  }
  const db = parsed.searchParams.get('db');
  const auth: RedisOptions = {};
  if (parsed.username) auth.username = decodeURIComponent(parsed.username);
  if (parsed.password) auth.password = decodeURIComponent(parsed.password);
  switch (parsed.protocol) {
    case 'unix:': {
      if (!parsed.pathname || parsed.pathname === '/') {
        throw new AirlockError(
          'CONFIG_INVALID',
          `redis.url names no socket path: ${url} (use unix:///path/to/redis.sock)`,
        );
      }
      const password = parsed.searchParams.get('password');
      return {
        ...auth,
        ...(password ? { password } : {}),
        path: decodeURIComponent(parsed.pathname),
        ...(db ? { db: dbIndex(db, url) } : {}),
      };
    }
    case 'redis:':
    case 'rediss:': {
      const pathDb = parsed.pathname.replace(/^\//, '') || db;
      return {
        ...auth,
        host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
        port: parsed.port ? Number(parsed.port) : 6379,
        ...(pathDb ? { db: dbIndex(pathDb, url) } : {}),
        // node's tls.connect derives SNI from host itself (and skips it for IP addresses)
        ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
      };
    }
    default:
      throw new AirlockError(
        'CONFIG_INVALID',
        `redis.url has unsupported scheme ${parsed.protocol} (use redis://, rediss:// or unix:///path)`,
      );
  }
}

/**
 * Opens a fail-fast Redis connection. While Redis is unreachable every command is rejected at once
 * (no offline queue) and a command in flight when the link drops is not replayed (its effect may be
 * half-known, and rate-limit consumption or first-decision-wins writes must not run twice); meanwhile
 * the client keeps reconnecting in the background. Commands fail until the connection is ready, so
 * await checkRedis() before use. Blocking commands (BLPOP, XREAD BLOCK) need their own connection
 * because of the command timeout.
 */
export function createRedis(opts: RedisConnectionOptions): RedisClient {
  const node = parseRedisUrl(opts.url);
  const common: RedisOptions = {
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: reconnectDelay,
    ...(opts.name ? { connectionName: opts.name } : {}),
  };
  const client = opts.cluster ? createCluster(opts.url, node, common) : new Redis({ ...common, ...node });
  watchHealth(
    client,
    opts.logger.child({ redis: redactUrl(opts.url), ...(opts.name ? { conn: opts.name } : {}) }),
  );
  return client;
}

function createCluster(url: string, node: RedisOptions, common: RedisOptions): Cluster {
  if (node.path) {
    throw new AirlockError(
      'CONFIG_INVALID',
      `redis.cluster needs a TCP redis.url, not a unix socket: ${url}`,
    );
  }
  const { host, port, db, ...nodeAuth } = node;
  if (db) {
    throw new AirlockError('CONFIG_INVALID', `Redis Cluster has only database 0; remove the db from ${url}`);
  }
  const options: ClusterOptions = {
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelay,
    redisOptions: { ...common, ...nodeAuth },
  };
  return new Cluster([{ host: host ?? '127.0.0.1', port: port ?? 6379 }], options);
}

/** Logs each outage once when it starts and once when it ends, instead of one line per retry. */
function watchHealth(client: RedisClient, logger: Logger): void {
  let down = false;
  const outage = (why: string): void => {
    if (down) return;
    down = true;
    logger.warn({ why }, 'Redis unreachable; calls that need it fail until it is back');
  };
  client.on('error', (err: Error) => outage(err.message));
  // A dropped link may not raise 'error' (the server just closed it); 'reconnecting' also means it
  // was not closed on purpose, unlike 'close'.
  client.on('reconnecting', () => outage('connection lost'));
  client.on('ready', () => {
    if (down) logger.info('Redis reachable again');
    down = false;
  });
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@').replace(/([?&]password=)[^&]*/, '$1***');
}

/** Waits until the client is ready (it rejects commands before that); rejects on timeout or when closed. */
export function waitUntilReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError = '';
    const done = (err?: Error): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      client.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const unavailable = (why: string): AirlockError =>
      new AirlockError('REDIS_UNAVAILABLE', `Redis unavailable: ${why}`);
    const onReady = (): void => done();
    const onError = (err: Error): void => {
      lastError = err.message;
    };
    const onEnd = (): void => done(unavailable(`connection closed${lastError ? ` (${lastError})` : ''}`));
    const timer = setTimeout(
      () => done(unavailable(`not ready after ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}`)),
      timeoutMs,
    );
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('end', onEnd);
    if (client.status === 'end') onEnd();
  });
}

/**
 * Startup check: waits for the connection, PINGs, and warns unless `maxmemory-policy` is `noeviction`
 * (an evicting Redis could silently drop pending approvals and rate-limit logs). Managed Redis often
 * disables CONFIG; that is tolerated with a note.
 */
export async function checkRedis(redis: RedisClient, logger: Logger, timeoutMs = 10_000): Promise<void> {
  await waitUntilReady(redis, timeoutMs);
  try {
    await redis.ping();
  } catch (err) {
    throw new AirlockError(
      'REDIS_UNAVAILABLE',
      `Redis unavailable: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    const where = `${node.options.path ?? `${node.options.host}:${node.options.port}`}`;
    let policy: string | undefined;
    try {
      const reply = (await node.config('GET', 'maxmemory-policy')) as unknown;
      policy = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
    } catch (err) {
      logger.info(
        { redis: where, err: (err as Error).message },
        'Cannot read maxmemory-policy (CONFIG disabled?); make sure it is noeviction',
      );
      continue;
    }
    if (policy !== undefined && policy !== 'noeviction') {
      logger.warn(
        { redis: where, maxmemoryPolicy: policy },
        `Redis maxmemory-policy is ${policy}; set it to noeviction or pending approvals and rate-limit counters may be evicted`,
      );
    }
  }
}
