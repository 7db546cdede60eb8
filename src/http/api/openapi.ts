import { HISTORY_STATUSES } from '../../history/history-record.js';
import { DEFAULT_LIMIT, MAX_FILTER_CHARS, MAX_LIMIT } from './api-schemas.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const param = (name: string) => ({ $ref: `#/components/parameters/${name}` });
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/E${c}` }]));
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });

const filterParams = ['status', 'server', 'tool', 'agent', 'since', 'until'].map(param);

const epochMs = { type: 'integer', description: 'Epoch milliseconds.' };

/**
 * The OpenAPI 3.1 description of `/api`, written by hand next to the routes it describes; a test fails
 * when a route exists that it does not list.
 */
export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Airlock reviewer API',
    version: '1',
    description:
      'Decision history, approvals, policies and live events of an Airlock gateway. Every route needs a ' +
      'reviewer token as `Authorization: Bearer <token>`. Errors are `{"error": {"code", "message", ...details}}`.',
  },
  servers: [{ url: '/api' }],
  security: [{ bearerAuth: [] }],
  paths: {
    '/requests': {
      get: {
        operationId: 'listRequests',
        summary: 'Query the history (approval requests and direct policy decisions), newest first.',
        description:
          'All given filters must hold. Pages are cursor-based: pass `nextCursor` back as `cursor` for the next ' +
          'page; there is no more when it is absent. A page can hold fewer than `limit` records (even none) and ' +
          'still carry a `nextCursor` when the filters match little of what had to be examined; keep following it. ' +
          'Records created while paging are newer than the cursor, so paging never repeats or skips a record.',
        parameters: [...filterParams, param('limit'), param('cursor')],
        responses: {
          '200': json({
            type: 'object',
            required: ['requests'],
            properties: {
              requests: { type: 'array', items: ref('Record') },
              nextCursor: { type: 'string', description: 'Opaque; absent on the last page.' },
            },
          }),
          ...errors(400, 401, 503),
        },
      },
    },
    '/requests/export': {
      get: {
        operationId: 'exportRequests',
        summary: 'Every record matching the filters, newest first, streamed as CSV or a JSON array.',
        description:
          'Streamed page by page; the download is cut off (incomplete transfer) if the server fails midway. ' +
          'CSV follows RFC 4180 (CRLF lines, quoted cells) and prefixes cells that begin with = + - @ tab or CR ' +
          "with ' so spreadsheets do not evaluate them.",
        parameters: [...filterParams, param('format')],
        responses: {
          '200': {
            description: 'The export, as an attachment.',
            content: {
              'text/csv': { schema: { type: 'string' } },
              'application/json': { schema: { type: 'array', items: ref('Record') } },
            },
          },
          ...errors(400, 401, 503),
        },
      },
    },
    '/requests/{id}': {
      get: {
        operationId: 'getRequest',
        summary: 'One record with its decisions and execution.',
        parameters: [param('id')],
        responses: { '200': json(ref('Record')), ...errors(401, 404, 503) },
      },
    },
    '/requests/{id}/approve': {
      post: {
        operationId: 'approveRequest',
        summary: 'Approve a pending request; first decision wins across replicas.',
        parameters: [param('id'), param('client')],
        requestBody: json({
          type: 'object',
          additionalProperties: false,
          properties: { comment: { type: 'string', maxLength: 3000 } },
        }),
        responses: { '200': json(ref('Record')), ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    '/requests/{id}/reject': {
      post: {
        operationId: 'rejectRequest',
        summary: 'Reject a pending request with a reason the agent will see.',
        parameters: [param('id'), param('client')],
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            additionalProperties: false,
            required: ['reason'],
            properties: { reason: { type: 'string', minLength: 1, maxLength: 3000 } },
          }),
        },
        responses: { '200': json(ref('Record')), ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    '/policies': {
      get: {
        operationId: 'listPolicies',
        summary: 'The policy files in force, one per upstream server that has one.',
        responses: {
          '200': json({
            type: 'object',
            required: ['policies'],
            properties: { policies: { type: 'array', items: ref('PolicyFile') } },
          }),
          ...errors(401),
        },
      },
    },
    '/policies/explain': {
      post: {
        operationId: 'explainPolicy',
        summary: 'Which rule decides a call, and what it decides.',
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            additionalProperties: false,
            required: ['server', 'tool'],
            properties: {
              server: { type: 'string', minLength: 1, maxLength: 200 },
              tool: { type: 'string', minLength: 1, maxLength: 200 },
              args: { type: 'object', default: {} },
              agent: { type: 'string', minLength: 1, maxLength: 200, description: 'Default `anonymous`.' },
            },
          }),
        },
        responses: { '200': json(ref('Explanation')), ...errors(400, 401) },
      },
    },
    '/events': {
      get: {
        operationId: 'requestEvents',
        summary: 'Server-Sent Events: one `request` event per change to any request, on any replica.',
        description:
          'Each change is `event: request` with data `{"id": "ar_…", "status": "…"}` (the status at the time it is ' +
          'sent). The stream starts with a `: connected` comment once the subscription is live, and carries a ' +
          '`: heartbeat` comment every 15 s. Events are not replayed: after a reconnect, re-read what you show.',
        responses: {
          '200': {
            description: 'An endless event stream.',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...errors(401, 503),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document.',
        responses: { '200': json({ type: 'object' }), ...errors(401) },
      },
    },
  },
  components: {
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', description: 'A reviewer token from the config.' },
    },
    parameters: {
      status: {
        name: 'status',
        in: 'query',
        description: 'One status or a comma-separated list (any of them). May also be repeated.',
        schema: { type: 'string', maxLength: MAX_FILTER_CHARS, examples: ['pending', 'denied,rate_limited'] },
      },
      server: {
        name: 'server',
        in: 'query',
        description: 'Exact upstream server name.',
        schema: filterString(),
      },
      tool: {
        name: 'tool',
        in: 'query',
        description: 'Exact tool name (as the upstream names it).',
        schema: filterString(),
      },
      agent: { name: 'agent', in: 'query', description: 'Exact agent id.', schema: filterString() },
      since: {
        name: 'since',
        in: 'query',
        description:
          'Oldest createdAt included: epoch ms, ISO-8601 date (UTC midnight) or date-time with zone.',
        schema: { type: 'string', examples: ['1735689600000', '2025-01-01', '2025-01-01T09:00:00Z'] },
      },
      until: {
        name: 'until',
        in: 'query',
        description: 'Newest createdAt included; same formats as `since`.',
        schema: { type: 'string' },
      },
      limit: {
        name: 'limit',
        in: 'query',
        description: 'Records per page.',
        schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
      },
      cursor: {
        name: 'cursor',
        in: 'query',
        description: '`nextCursor` of the previous page, unchanged.',
        schema: { type: 'string' },
      },
      format: {
        name: 'format',
        in: 'query',
        schema: { type: 'string', enum: ['json', 'csv'], default: 'json' },
      },
      id: {
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: '^ar_[A-Za-z0-9_-]{20}$' },
      },
      client: {
        name: 'X-Airlock-Client',
        in: 'header',
        description: 'The surface deciding, recorded in history as `via`.',
        schema: { type: 'string', enum: ['api', 'cli', 'console'], default: 'api' },
      },
    },
    responses: {
      E400: errorResponse('Invalid parameter or body (`code` BAD_REQUEST; `field` names the parameter).'),
      E401: errorResponse('Missing or invalid reviewer token (UNAUTHORIZED).'),
      E403: errorResponse(
        'Not an approver of this request (NOT_AN_APPROVER), or self-approval (SELF_APPROVAL).',
      ),
      E404: errorResponse('No such request (NOT_FOUND).'),
      E409: errorResponse(
        'Already decided, expired, or a direct policy decision (ALREADY_DECIDED, APPROVAL_EXPIRED).',
      ),
      E503: errorResponse('Redis unavailable (REDIS_UNAVAILABLE, QUEUE_UNAVAILABLE); retry later.'),
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
            additionalProperties: true,
          },
        },
      },
      Status: { type: 'string', enum: [...HISTORY_STATUSES] },
      Decision: {
        type: 'object',
        required: ['by', 'via', 'at', 'decision'],
        properties: {
          by: {
            type: 'string',
            description: 'Reviewer id, or `slack:<U…>` for a Slack user not in the config.',
          },
          display: { type: 'string' },
          via: { type: 'string', enum: ['slack', 'console', 'cli', 'api'] },
          at: epochMs,
          decision: { type: 'string', enum: ['approve', 'reject'] },
          reason: { type: 'string' },
          comment: { type: 'string' },
        },
      },
      Record: {
        description: 'A history record; `kind` tells an approval request from a direct policy decision.',
        oneOf: [ref('ApprovalRecord'), ref('DirectRecord')],
        discriminator: { propertyName: 'kind' },
      },
      ApprovalRecord: {
        type: 'object',
        required: [
          'kind',
          'id',
          'createdAt',
          'expiresAt',
          'server',
          'tool',
          'agent',
          'args',
          'argsHash',
          'rule',
          'status',
          'decisions',
          'approval',
        ],
        properties: {
          kind: { const: 'approval' },
          id: { type: 'string' },
          createdAt: epochMs,
          expiresAt: epochMs,
          server: { type: 'string' },
          tool: { type: 'string' },
          agent: { type: 'string' },
          agentOwner: { type: 'string' },
          args: {
            type: 'object',
            description: 'Display copy: secrets under secret-looking keys are redacted.',
          },
          argsHash: { type: 'string', description: 'sha256 of server, tool and canonical arguments (hex).' },
          rule: { type: 'string', examples: ['lab/start_vm'] },
          approval: {
            type: 'object',
            description: 'The approval rule: approvers, minApprovals, timeoutMs, waitMs, …',
          },
          status: {
            type: 'string',
            enum: [
              'pending',
              'approved',
              'rejected',
              'expired',
              'cancelled',
              'executing',
              'executed',
              'failed',
            ],
          },
          decisions: { type: 'array', items: ref('Decision') },
          decidedAt: epochMs,
          decidedBy: { type: 'string' },
          reason: { type: 'string' },
          responseMs: { type: 'integer', description: 'decidedAt − createdAt, once decided.' },
          slack: { type: 'object', properties: { channel: { type: 'string' }, ts: { type: 'string' } } },
          execution: {
            type: 'object',
            properties: {
              startedAt: epochMs,
              finishedAt: epochMs,
              isError: { type: 'boolean' },
              summary: { type: 'string' },
            },
          },
        },
      },
      DirectRecord: {
        type: 'object',
        required: [
          'kind',
          'id',
          'createdAt',
          'server',
          'tool',
          'agent',
          'args',
          'rule',
          'status',
          'responseMs',
          'decisions',
        ],
        properties: {
          kind: { const: 'direct' },
          id: { type: 'string' },
          createdAt: epochMs,
          server: { type: 'string', description: 'Empty when the tool was unknown.' },
          tool: { type: 'string' },
          agent: { type: 'string' },
          args: {
            type: 'object',
            description:
              'Redacted display copy, at most 16 KB of JSON; larger ones become {"[truncated]": "<JSON prefix>…"}.',
          },
          argsTruncated: { type: 'boolean' },
          argsHash: { type: 'string' },
          rule: {
            type: 'string',
            description: 'Empty when no rule applied (unknown tool, invalid arguments).',
          },
          status: { type: 'string', enum: ['allowed', 'denied', 'rate_limited', 'invalid', 'error'] },
          code: { type: 'string', description: 'Error code of a refusal or failure, e.g. POLICY_DENIED.' },
          reason: { type: 'string' },
          counter: { type: 'string' },
          retryAfter: { type: 'integer', description: 'Seconds (rate limited).' },
          responseMs: { type: 'integer' },
          decisions: { type: 'array', maxItems: 0, items: ref('Decision') },
          execution: {
            type: 'object',
            description: 'Allowed calls: the upstream call.',
            properties: { startedAt: epochMs, finishedAt: epochMs, isError: { type: 'boolean' } },
          },
        },
      },
      PolicyFile: {
        type: 'object',
        required: ['server', 'file', 'sha256', 'policy'],
        properties: {
          server: { type: 'string' },
          file: { type: 'string' },
          sha256: { type: 'string' },
          policy: { type: 'object', description: 'The file content as parsed.' },
        },
      },
      Explanation: {
        type: 'object',
        required: ['server', 'tool', 'agent', 'args', 'decision', 'matchedBy'],
        properties: {
          server: { type: 'string' },
          tool: { type: 'string' },
          agent: { type: 'string' },
          args: { type: 'object' },
          decision: {
            type: 'object',
            description: '`action` (allow, deny, require_approval), `rule`, `reason`, `limits`, `approval`.',
          },
          file: { type: 'string' },
          matchedKey: { type: 'string' },
          matchedBy: { type: 'string', enum: ['exact', 'glob', 'default', 'hide', 'no policy'] },
        },
      },
    },
  },
} as const;

function filterString() {
  return { type: 'string', maxLength: MAX_FILTER_CHARS, description: 'Compared literally (no wildcards).' };
}

function errorResponse(description: string) {
  return { description, ...json(ref('Error')) };
}
