import { REQUEST_ID_PATTERN } from '../../core/approval/request-id.js';
import { APPROVAL_STATUSES, DECISION_VIAS, REVIEWER_VOTES } from '../../core/approval/types.js';
import { SHADOW_WOULD } from '../../core/policy/shadow.js';
import { DIRECT_STATUSES, HISTORY_STATUSES } from '../../history/history-record.js';
import { MATCHED_BY } from '../../policy/explain.js';
import {
  approveBody,
  clientHeader,
  explainBody,
  exportQuery,
  grantsQuery,
  listQuery,
  rejectBody,
} from './api-schemas.js';
import { GRANT_ID_PATTERN } from '../../core/grants/grant.js';
import { GRANT_SCOPES } from '../../core/policy/types.js';
import {
  ref,
  param,
  errors,
  json,
  body,
  parameter,
  queryOf,
  queryParameters,
  str,
  epochMs,
  object,
  execution,
  recordSchema,
  decide,
  errorResponse,
  approvalRule,
} from './openapi-parts.js';

/**
 * The OpenAPI 3.1 description of `/api`. Bodies and query parameters are generated from the zod schemas
 * the routes validate with, enums from the shared const arrays; responses are described here.
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
        parameters: queryOf(listQuery),
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
        parameters: queryOf(exportQuery),
        responses: {
          '200': {
            description: 'The export, as an attachment.',
            content: {
              'text/csv': { schema: str },
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
      post: decide(
        'approveRequest',
        'Approve a pending request; first decision wins across replicas.',
        approveBody,
      ),
    },
    '/requests/{id}/reject': {
      post: decide('rejectRequest', 'Reject a pending request with a reason the agent will see.', rejectBody),
    },
    '/grants': {
      get: {
        operationId: 'listGrants',
        summary:
          'Active grants (approvals that let matching calls run without a new request), soonest to expire first.',
        parameters: queryOf(grantsQuery),
        responses: {
          '200': json({
            type: 'object',
            required: ['grants'],
            properties: { grants: { type: 'array', items: ref('Grant') } },
          }),
          ...errors(400, 401, 503),
        },
      },
    },
    '/grants/{grantId}': {
      delete: {
        operationId: 'revokeGrant',
        summary: 'Revoke a grant; the next matching call is held for approval again, on every replica.',
        parameters: [param('grantId')],
        responses: {
          '200': json({ type: 'object', required: ['revoked'], properties: { revoked: ref('Grant') } }),
          ...errors(401, 404, 503),
        },
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
        requestBody: body(explainBody),
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
            content: { 'text/event-stream': { schema: str } },
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
      ...queryParameters,
      id: {
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: REQUEST_ID_PATTERN.source },
      },
      client: parameter('X-Airlock-Client', 'header', clientHeader),
      grantId: {
        name: 'grantId',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: GRANT_ID_PATTERN.source },
      },
    },
    responses: {
      E400: errorResponse(
        "Invalid parameter or body (`code` BAD_REQUEST; `field` names the parameter), or a grant the rule does not offer (GRANT_NOT_ALLOWED), or an edit the rule does not allow (EDIT_NOT_ALLOWED) or that fails the tool's input schema (EDIT_INVALID; `field` is the JSON path).",
      ),
      E401: errorResponse('Missing or invalid reviewer token (UNAUTHORIZED).'),
      E403: errorResponse(
        'Not an approver of this request (NOT_AN_APPROVER), or self-approval (SELF_APPROVAL).',
      ),
      E404: errorResponse('No such request or grant (NOT_FOUND).'),
      E409: errorResponse(
        'Already decided, expired, or a direct policy decision (ALREADY_DECIDED, APPROVAL_EXPIRED); or edited arguments the policy refuses (EDIT_REFUSED; the request stays pending).',
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
            properties: { code: str, message: str, field: str },
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
          display: str,
          via: { type: 'string', enum: [...DECISION_VIAS] },
          at: epochMs,
          decision: { type: 'string', enum: [...REVIEWER_VOTES] },
          reason: str,
          comment: str,
          editedHash: {
            type: 'string',
            description: 'sha256 of the edited arguments this vote approved instead of the agent’s.',
          },
          grant: {
            type: 'object',
            description: 'The grant this approving vote asked for.',
            properties: {
              durationMs: { type: 'integer' },
              scope: { type: 'string', enum: [...GRANT_SCOPES] },
            },
          },
        },
      },
      Record: {
        description: 'A history record; `kind` tells an approval request from a direct policy decision.',
        oneOf: [ref('ApprovalRecord'), ref('DirectRecord')],
        discriminator: { propertyName: 'kind' },
      },
      ApprovalRecord: recordSchema('approval', APPROVAL_STATUSES, ['expiresAt', 'argsHash', 'approval'], {
        expiresAt: epochMs,
        agentOwner: str,
        clientCapabilities: {
          type: 'object',
          description:
            "What the agent declared it can answer when it made the call (`elicitation`, `sampling`, `roots`): once approved, the call's tool may ask it only these, through the call's task. Absent: nothing.",
        },
        inputRequired: { const: true, description: "The agent's request takes `input_required` answers." },
        approval: ref('ApprovalRule'),
        decidedAt: epochMs,
        decidedBy: str,
        slack: { type: 'object', properties: { channel: str, ts: str } },
        execution: { type: 'object', properties: { ...execution, summary: str } },
        grant: {
          type: 'object',
          description: 'The grant the approval made (every approving vote asked for one); see `/grants`.',
          properties: {
            id: str,
            durationMs: { type: 'integer' },
            scope: { type: 'string', enum: [...GRANT_SCOPES] },
            expiresAt: epochMs,
          },
        },
        edited: {
          type: 'object',
          description:
            'Set when a reviewer approved with changed arguments: `args` and `argsHash` are then what ran; the agent sent `originalArgs` (display copy) with `originalHash`.',
          required: ['by', 'via', 'at', 'originalArgs', 'originalHash', 'rule'],
          properties: {
            by: str,
            display: str,
            via: { type: 'string', enum: [...DECISION_VIAS] },
            at: epochMs,
            originalArgs: object('Display copy of the arguments the agent sent, redacted like `args`.'),
            originalHash: { type: 'string', description: 'sha256 of the original call (hex).' },
            rule: { type: 'string', description: 'The rule that decided for the edited arguments.' },
          },
        },
      }),
      DirectRecord: recordSchema('direct', DIRECT_STATUSES, ['responseMs'], {
        server: { type: 'string', description: 'Empty when the tool was unknown.' },
        args: object(
          'Redacted display copy, at most 16 KB of JSON; larger ones become {"[truncated]": "<JSON prefix>…"}.',
        ),
        argsTruncated: { type: 'boolean' },
        rule: {
          type: 'string',
          description: 'Empty when no rule applied (unknown tool, invalid arguments).',
        },
        code: { type: 'string', description: 'Error code of a refusal or failure, e.g. POLICY_DENIED.' },
        counter: str,
        retryAfter: { type: 'integer', description: 'Seconds (rate limited).' },
        grant: { type: 'string', description: 'Allowed under this grant (`gr_…`) instead of a new request.' },
        decisions: { type: 'array', maxItems: 0, items: ref('Decision') },
        shadow: {
          type: 'object',
          description:
            'An allowed call that ran only because its policy is in shadow mode: what enforcement would have done.',
          required: ['would', 'rule'],
          properties: { would: { type: 'string', enum: [...SHADOW_WOULD] }, rule: str, reason: str },
        },
        execution: {
          type: 'object',
          description: 'Allowed calls: the upstream call.',
          properties: execution,
        },
      }),
      ApprovalRule: approvalRule,
      Grant: {
        type: 'object',
        required: [
          'id',
          'agent',
          'server',
          'tool',
          'scope',
          'grantedBy',
          'requestId',
          'createdAt',
          'expiresAt',
          'uses',
        ],
        properties: {
          id: { type: 'string', pattern: GRANT_ID_PATTERN.source },
          agent: str,
          server: str,
          tool: str,
          scope: { type: 'string', enum: [...GRANT_SCOPES] },
          argsHash: {
            type: 'string',
            description: 'Scope `exact` only: the arguments it covers, as hashed.',
          },
          grantedBy: { type: 'array', items: str, description: 'Every approver whose vote asked for it.' },
          requestId: str,
          rule: str,
          createdAt: epochMs,
          expiresAt: epochMs,
          uses: { type: 'integer', description: 'Calls that ran under it.' },
        },
      },
      PolicyFile: {
        type: 'object',
        required: ['server', 'file', 'sha256', 'policy'],
        properties: { server: str, file: str, sha256: str, policy: object('The file content as parsed.') },
      },
      Explanation: {
        type: 'object',
        required: ['server', 'tool', 'agent', 'args', 'decision', 'matchedBy', 'verdict'],
        properties: {
          server: str,
          tool: str,
          agent: str,
          args: { type: 'object' },
          decision: object(
            '`action` (allow, deny, require_approval), `rule`, `reason`, `limits`, `approval`, `mode` ("shadow" when nothing is enforced).',
          ),
          file: str,
          matchedKey: str,
          matchedBy: { type: 'string', enum: [...MATCHED_BY] },
          verdict: {
            type: 'string',
            examples: ['would be denied by lab/delete_*, shadow mode: allowed'],
          },
        },
      },
    },
  },
};
