import { z } from 'zod';
import { DECISION_VIAS } from '../../core/approval/types.js';
import { GRANT_SCOPES } from '../../core/policy/types.js';

/** Records per page when `limit` is not given. */
export const DEFAULT_LIMIT = 50;
/** Largest `limit` accepted. */
export const MAX_LIMIT = 500;
/** Longest query value accepted; names in history are shorter. */
export const MAX_FILTER_CHARS = 256;
/** Values of the `shadow` history filter. */
export const SHADOW_FILTER_VALUES = ['true', 'false'] as const;
/** Formats of `GET /requests/export`. */
export const EXPORT_FORMATS = ['csv', 'json'] as const;

/** The grant an approval may carry; the rule's `approval.grants` decides whether it is allowed. */
export const grantRequest = z
  .strictObject({
    for: z
      .string()
      .min(1)
      .max(64)
      .meta({
        description: "How long, e.g. `30m`, `1h`; at most the rule's `grants.max`.",
        examples: ['1h'],
      }),
    scope: z
      .enum(GRANT_SCOPES)
      .optional()
      .meta({ description: '`exact`: the same arguments; `tool`: any arguments. Default `exact`.' }),
  })
  .meta({
    description: "Let the agent's matching calls run without a new request for a while.",
    examples: [{ for: '1h', scope: 'exact' }],
  });

/** Body of `POST /requests/:id/approve`; an absent body is an empty one. */
export const approveBody = z
  .strictObject({
    comment: z.string().max(3000).optional(),
    grant: grantRequest.optional(),
    args: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({
        description:
          'Approve with these arguments instead of the agent\'s (the rule must set `approval.allow_edit`). They are checked against the tool\'s input schema and the policy again; `"[REDACTED]"` under a secret-looking key keeps the original value.',
        examples: [{ vm_name: 'web-1', duration: 30 }],
      }),
  })
  .prefault({});

/** Body of `POST /requests/:id/reject`. */
export const rejectBody = z.strictObject({
  reason: z.string().trim().min(1, 'a reason is required').max(3000),
});

/** Body of `POST /policies/explain`. */
export const explainBody = z.strictObject({
  server: z.string().min(1).max(200),
  tool: z.string().min(1).max(200),
  args: z.record(z.string(), z.unknown()).default({}),
  agent: z.string().min(1).max(200).optional().meta({ description: 'Default `anonymous`.' }),
});

const text = (description: string, examples?: string[]) =>
  z
    .string()
    .max(MAX_FILTER_CHARS)
    .optional()
    .meta({ description, ...(examples ? { examples } : {}) });

const literal = (what: string) => text(`Exact ${what}, compared literally (no wildcards).`);

/**
 * The history filters of `GET /requests` and `GET /requests/export`, as query strings. The parser accepts
 * exactly these names (plus each route's own) and reads limits and defaults from here.
 */
export const filterQuery = z.strictObject({
  status: text('One status or a comma-separated list (any of them). May also be repeated.', [
    'pending',
    'denied,rate_limited',
  ]),
  server: literal('upstream server name'),
  tool: literal('tool name (as the upstream names it)'),
  agent: literal('agent id'),
  since: text('Oldest createdAt included: epoch ms, ISO-8601 date (UTC midnight) or date-time with zone.', [
    '1735689600000',
    '2025-01-01',
    '2025-01-01T09:00:00Z',
  ]),
  until: text('Newest createdAt included; same formats as `since`.', ['2025-01-31T23:59:59Z']),
  shadow: z.enum(SHADOW_FILTER_VALUES).optional().meta({
    description:
      '`true`: only calls that ran because their policy is in shadow mode (records with `shadow`); `false`: none of them.',
  }),
});

/** The query of `GET /grants`: active grants, narrowed by these exact names. */
export const grantsQuery = z.strictObject({
  agent: literal('agent id'),
  server: literal('upstream server name'),
  tool: literal('tool name (as the upstream names it)'),
});

/** The query of `GET /requests`: the filters and a page. */
export const listQuery = filterQuery.extend({
  limit: z.int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT).meta({ description: 'Records per page.' }),
  cursor: text('`nextCursor` of the previous page, unchanged.'),
});

/** The query of `GET /requests/export`: the filters and a format. */
export const exportQuery = filterQuery.extend({ format: z.enum(EXPORT_FORMATS).default('json') });

/** The `X-Airlock-Client` header: the surface deciding, recorded in history as `via`. */
export const clientHeader = z
  .enum(DECISION_VIAS)
  .exclude(['slack'])
  .default('api')
  .meta({ description: 'The surface deciding, recorded in history as `via`.' });
