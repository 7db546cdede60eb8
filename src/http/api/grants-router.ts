import express, { type Router } from 'express';
import type { GrantService } from '../../grants/grant-service.js';
import { grantsQuery } from './api-schemas.js';
import { parse, reviewerOf } from './requests-router.js';

/** `/grants`: the active grants, and revoking one (which holds on every replica at once). */
export function grantsRouter(grants: GrantService): Router {
  const router = express.Router();

  router.get('/grants', async (req, res) => {
    const q = parse(grantsQuery, req.query);
    const list = await grants.list({
      ...(q.agent ? { agent: q.agent } : {}),
      ...(q.server ? { server: q.server } : {}),
      ...(q.tool ? { tool: q.tool } : {}),
    });
    res.json({ grants: list });
  });

  router.delete('/grants/:grantId', async (req, res) => {
    const grant = await grants.revoke(String(req.params.grantId), reviewerOf(res));
    res.json({ revoked: grant });
  });

  return router;
}
