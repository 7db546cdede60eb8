import { Router } from 'express';
import type { Cluster, Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { UpstreamPool } from '../upstream/upstream-pool.js';

/** What the health endpoints look at. */
export interface HealthSources {
  metrics: Registry;
  redis: Redis | Cluster;
  upstreams: Pick<UpstreamPool, 'list'>;
}

/**
 * `/healthz` (the process answers), `/readyz` (Redis answers and every upstream is ready; 503 otherwise,
 * so a load balancer stops sending agents where their calls would fail) and `/metrics` (Prometheus).
 */
export function healthRouter(s: HealthSources): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', s.metrics.contentType);
    res.send(await s.metrics.metrics());
  });
  router.get('/readyz', async (_req, res) => {
    const redisOk = await s.redis
      .ping()
      .then(() => true)
      .catch(() => false);
    const servers = Object.fromEntries(s.upstreams.list().map((u) => [u.name, u.state]));
    const ready = redisOk && Object.values(servers).every((state) => state === 'ready');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', redis: redisOk, servers });
  });
  return router;
}
