import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { isRequestId } from '../../core/approval/request-id.js';
import type { ApprovalService } from '../../approval/approval-service.js';
import type { HistoryStore } from '../../history/history-store.js';
import { isDecisionRecord } from '../../history/history-record.js';
import type { Logger } from '../../log.js';
import type { TokenAuth } from '../auth.js';
import { approveBody, clientHeader, rejectBody } from './api-schemas.js';
import { publicRecord } from './public-record.js';
import { parseListQuery } from './query-params.js';
import { exportHandler } from './requests-export.js';

/** Request bodies are small JSON documents; anything bigger is refused before parsing. */
const JSON_LIMIT = '64kb';

/** The reviewer a request was authenticated as (set by {@link reviewerAuth}). */
export function reviewerOf(res: Response): string {
  return res.locals.reviewer as string;
}

/** Bearer-token authentication for reviewers; 401 with a clear message otherwise. */
export function reviewerAuth(auth: TokenAuth) {
  return (req: Request, res: Response, next: NextFunction) => {
    // EventSource cannot send headers, so the live stream alone may carry the token in its query.
    const queryToken = req.method === 'GET' && req.path === '/events' ? req.query.token : undefined;
    const header =
      req.headers.authorization ?? (typeof queryToken === 'string' ? `Bearer ${queryToken}` : undefined);
    const who = auth.authenticate(header);
    if (!who.ok) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="airlock"');
      return next(new AirlockError('UNAUTHORIZED', who.message));
    }
    res.locals.reviewer = who.id;
    next();
  };
}

/** What the requests routes need. */
export interface RequestsRouterDeps {
  approvals: ApprovalService;
  history: HistoryStore;
  logger: Logger;
}

/** `/requests`: query the history, export it, read one request, approve or reject. */
export function requestsRouter(deps: RequestsRouterDeps): Router {
  const { approvals, history } = deps;
  const router = express.Router();
  router.use(express.json({ limit: JSON_LIMIT }));

  router.get('/requests', async (req, res) => {
    const q = parseListQuery(req.query as Record<string, unknown>);
    const page = await history.query(q.filter, { limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}) });
    res.json({
      requests: page.records.map(publicRecord),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    });
  });

  // Registered before /requests/:id, which would otherwise take "export" for an id.
  router.get('/requests/export', exportHandler(history, deps.logger));

  router.get('/requests/:id', async (req, res) => {
    const id = requestIdOf(req);
    const r = await history.get(id);
    if (!r) throw notFound(id);
    res.json(publicRecord(r));
  });

  router.post('/requests/:id/approve', async (req, res) => {
    const body = parse(approveBody, req.body ?? {});
    const id = await decidable(history, requestIdOf(req));
    const r = await approvals.decide(id, {
      reviewerId: reviewerOf(res),
      via: viaOf(req),
      decision: 'approve',
      ...(body.comment ? { comment: body.comment } : {}),
      ...(body.grant ? { grant: body.grant } : {}),
      ...(body.args ? { args: body.args } : {}),
    });
    res.json(publicRecord(r));
  });

  router.post('/requests/:id/reject', async (req, res) => {
    const body = parse(rejectBody, req.body ?? {});
    const id = await decidable(history, requestIdOf(req));
    const r = await approvals.decide(id, {
      reviewerId: reviewerOf(res),
      via: viaOf(req),
      decision: 'reject',
      reason: body.reason,
    });
    res.json(publicRecord(r));
  });

  return router;
}

/** Ids are checked for shape first: anything else cannot name a record (and never reaches a key name). */
function requestIdOf(req: Request): string {
  const id = String(req.params.id);
  if (!isRequestId(id)) throw notFound(id);
  return id;
}

/** A direct policy decision is history, not a request anyone can decide. */
async function decidable(history: HistoryStore, id: string): Promise<string> {
  const r = await history.get(id);
  if (r && isDecisionRecord(r)) {
    throw new AirlockError(
      'ALREADY_DECIDED',
      `Request ${id} was decided by policy (${r.status}); there is nothing to approve or reject.`,
    );
  }
  return id;
}

function notFound(id: string): AirlockError {
  return new AirlockError('NOT_FOUND', `Request ${id.length > 40 ? `${id.slice(0, 40)}…` : id} not found`);
}

/** The CLI and the console say who they are, so history records the surface; default is the API. */
function viaOf(req: Request): 'api' | 'cli' | 'console' {
  const r = clientHeader.safeParse(req.headers['x-airlock-client']);
  return r.success ? r.data : 'api';
}

/** Validates a body or query with its zod schema; BAD_REQUEST naming every problem. */
export function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new AirlockError(
      'BAD_REQUEST',
      r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
    );
  }
  return r.data;
}
