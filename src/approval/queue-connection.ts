import { Cluster, Redis } from 'ioredis';
import { parseRedisUrl } from '../redis/connection.js';

/**
 * A connection for BullMQ and pub/sub. These block on Redis (BZPOPMIN, SUBSCRIBE), so unlike the
 * fail-fast command connection they retry forever; requests that must fail closed go through the
 * approval store's fail-fast connection first.
 */
export function createQueueConnection(url: string, cluster: boolean, name: string): Redis | Cluster {
  const node = parseRedisUrl(url);
  const common = {
    maxRetriesPerRequest: null,
    connectionName: name,
    retryStrategy: (n: number) => Math.min(n * 200, 2000),
  };
  if (cluster) {
    return new Cluster([{ host: node.host ?? '127.0.0.1', port: node.port ?? 6379 }], {
      redisOptions: { ...common, username: node.username, password: node.password, tls: node.tls },
    });
  }
  const client = new Redis({ ...common, ...node });
  client.on('error', () => {
    // Reported by the fail-fast connection's health log; this one just reconnects.
  });
  return client;
}
