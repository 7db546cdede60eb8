import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { redactForDisplay } from '../../core/redact.js';
import type { ApprovalService } from '../../approval/approval-service.js';
import type { StoredRecord } from '../../approval/approval-store.js';
import type { TokenAuth } from '../auth.js';

/** Request bodies are small JSON documents; anything bigger is refused before parsing. */
const JSON_LIMIT = '64kb';

const approveBody = z.strictObject({ comment: z.string().max(3000).optional() }).prefault({});
const rejectBody = z.strictObject({ reason: z.string().trim().min(1, 'a reason is required').max(3000) });

/** The reviewer a request was authenticated as (set by {@link reviewerAuth}). */
export function reviewerOf(res: Response): string {
  return res.locals.reviewer as string;
}

/** Bearer-token authentication for reviewers; 401 with a clear message otherwise. */
export function reviewerAuth(auth: TokenAuth) {
  return (req: Request, res: Response, next: NextFunction) => {
    const who = auth.authenticate(req.headers.authorization);
    if (!who.ok) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="airlock"');
      return next(new AirlockError('UNAUTHORIZED', who.message));
    }
    res.locals.reviewer = who.id;
    next();
  };
}

/** What the API shows of a record: arguments as a redacted display copy. */
export function publicRecord(r: StoredRecord) {
  const { version: _v, delivered: _d, args, ...rest } = r;
  return { ...rest, args: redactForDisplay(args) };
}

/** `/api/requests`: read and decide approval requests. */
export function requestsRouter(approvals: ApprovalService): Router {
  const router = express.Router();
  router.use(express.json({ limit: JSON_LIMIT }));

  router.get('/requests', async (req, res) => {
    const status = typeof req.query.status === 'string' ? req.query.status : 'pending';
    if (status !== 'pending') throw new AirlockError('BAD_REQUEST', 'only status=pending is supported by this endpoint');
    const limit = Math.min(Number(req.query.limit ?? 200) || 200, 1000);
    res.json({ requests: (await approvals.pending(limit)).map(publicRecord) });
  });

  router.get('/requests/:id', async (req, res) => {
    const r = await approvals.get(String(req.params.id));
    if (!r) throw new AirlockError('NOT_FOUND', `Request ${req.params.id} not found`);
    res.json(publicRecord(r));
  });

  router.post('/requests/:id/approve', async (req, res) => {
    const body = parse(approveBody, req.body ?? {});
    const r = await approvals.decide(String(req.params.id), {
      reviewerId: reviewerOf(res),
      via: viaOf(req),
      decision: 'approve',
      ...(body.comment ? { comment: body.comment } : {}),
    });
    res.json(publicRecord(r));
  });

  router.post('/requests/:id/reject', async (req, res) => {
    const body = parse(rejectBody, req.body ?? {});
    const r = await approvals.decide(String(req.params.id), {
      reviewerId: reviewerOf(res),
      via: viaOf(req),
      decision: 'reject',
      reason: body.reason,
    });
    res.json(publicRecord(r));
  });

  return router;
}

/** The CLI and the console say who they are, so history records the surface; default is the API. */
function viaOf(req: Request): 'api' | 'cli' | 'console' {
  const v = req.headers['x-airlock-client'];
  return v === 'cli' || v === 'console' ? v : 'api';
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new AirlockError('BAD_REQUEST', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }
  return r.data;
}
