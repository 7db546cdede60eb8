import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { AirlockError } from '../../core/errors.js';
import type { ApprovalService } from '../../approval/approval-service.js';
import type { HistoryStore } from '../../history/history-store.js';
import type { RequestEvents } from '../../history/request-events.js';
import type { Logger } from '../../log.js';
import { requestsRouter } from './requests-router.js';
import { policiesRouter, type PolicyView } from './policies-router.js';
import { eventsRouter } from './events-router.js';
import { grantsRouter } from './grants-router.js';
import type { GrantService } from '../../grants/grant-service.js';
import { OPENAPI_DOCUMENT } from './openapi.js';

/** Everything the reviewer API reads and drives. */
export interface ApiDeps {
  approvals: ApprovalService;
  grants: GrantService;
  history: HistoryStore;
  events: RequestEvents;
  policies: PolicyView;
  logger: Logger;
}

/** The reviewer API (mounted at `/api` behind reviewerAuth); described by `GET /api/openapi.json`. */
export function apiRouter(deps: ApiDeps): Router {
  const router = express.Router();
  router.use(requestsRouter(deps));
  router.use(policiesRouter(deps.policies));
  router.use(grantsRouter(deps.grants));
  router.use(eventsRouter(deps.events, deps.logger));
  router.get('/openapi.json', (_req, res) => void res.json(OPENAPI_DOCUMENT));
  return router;
}

/** A JSON 404 for unknown `/api` routes; mount it after every router under `/api`. */
export function apiNotFound() {
  return (req: Request, _res: Response, next: NextFunction) => {
    next(
      new AirlockError(
        'NOT_FOUND',
        `No API route ${req.method} ${req.path.slice(0, 100)}; see /api/openapi.json`,
      ),
    );
  };
}
