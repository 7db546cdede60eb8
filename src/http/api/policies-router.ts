import express, { type Router } from 'express';
import { AirlockError } from '../../core/errors.js';
import { explainCall, type PolicySource } from '../../policy/explain.js';
import type { PolicyFileInfo } from '../../policy/policy-store.js';
import { explainBody } from './api-schemas.js';

/** What the policy routes read: the PolicyStore in production. */
export interface PolicyView extends PolicySource {
  files(): PolicyFileInfo[];
}

/** `/policies`: the loaded policy files, and which rule decides a given call. */
export function policiesRouter(policies: PolicyView): Router {
  const router = express.Router();
  router.use(express.json({ limit: '64kb' }));

  router.get('/policies', (_req, res) => {
    res.json({ policies: policies.files() });
  });

  router.post('/policies/explain', (req, res) => {
    const r = explainBody.safeParse(req.body ?? {});
    if (!r.success) {
      throw new AirlockError(
        'BAD_REQUEST',
        r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
      );
    }
    res.json(explainCall(policies, r.data));
  });

  return router;
}
