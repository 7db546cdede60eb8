// Building blocks of the OpenAPI document: references, zod-generated bodies and parameters, record shapes.
import { z } from 'zod';
import { GRANT_SCOPES } from '../../core/policy/types.js';
import { exportQuery, listQuery } from './api-schemas.js';

export type Json = Record<string, unknown>;

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const param = (name: string) => ({ $ref: `#/components/parameters/${name}` });
export const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/E${c}` }]));
export const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });

/** A zod schema in OpenAPI 3.1's dialect (JSON Schema 2020-12), as the client sends it. */
export function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input' });
  return rest;
}

/** The body a route validates with `schema`; routes read a missing body as `{}`, so `{}` failing means required. */
export function body(schema: z.ZodType) {
  return { required: !schema.safeParse({}).success, ...json(jsonSchema(schema)) };
}

export function parameter(name: string, where: 'query' | 'header', field: z.ZodType) {
  const { description, ...schema } = jsonSchema(field);
  return { name, in: where, ...(description === undefined ? {} : { description }), schema };
}

/** References to every parameter of a route's query schema, in its order. */
export const queryOf = (schema: z.ZodObject) => Object.keys(schema.shape).map(param);

export const queryParameters = Object.fromEntries(
  Object.entries({ ...listQuery.shape, ...exportQuery.shape }).map(([name, field]) => [
    name,
    parameter(name, 'query', field),
  ]),
);

export const str = { type: 'string' };
export const epochMs = { type: 'integer', description: 'Epoch milliseconds.' };
export const object = (description: string) => ({ type: 'object', description });
export const execution = { startedAt: epochMs, finishedAt: epochMs, isError: { type: 'boolean' } };

export const RECORD_REQUIRED = [
  'kind',
  'id',
  'createdAt',
  'server',
  'tool',
  'agent',
  'args',
  'rule',
  'status',
  'decisions',
];

/** A history record of one kind: the fields both kinds share, then the kind's own. */
export function recordSchema(kind: string, statuses: readonly string[], required: string[], own: Json) {
  return {
    type: 'object',
    required: [...RECORD_REQUIRED, ...required],
    properties: {
      kind: { const: kind },
      id: str,
      createdAt: epochMs,
      server: str,
      tool: str,
      agent: str,
      args: object('Display copy: secrets under secret-looking keys are redacted.'),
      argsHash: { type: 'string', description: 'sha256 of server, tool and canonical arguments (hex).' },
      rule: { type: 'string', examples: ['lab/start_vm'] },
      status: { type: 'string', enum: [...statuses] },
      reason: str,
      responseMs: {
        type: 'integer',
        description:
          'Ms from the call to its answer; for approval requests decidedAt − createdAt, once decided.',
      },
      decisions: { type: 'array', items: ref('Decision') },
      ...own,
    },
  };
}

/** An approve or reject: the same parameters and outcomes, each with its own body. */
export function decide(operationId: string, summary: string, schema: z.ZodType) {
  return {
    operationId,
    summary,
    parameters: [param('id'), param('client')],
    requestBody: body(schema),
    responses: { '200': json(ref('Record')), ...errors(400, 401, 403, 404, 409, 503) },
  };
}

export function errorResponse(description: string) {
  return { description, ...json(ref('Error')) };
}

/** The compiled approval rule of a request, with the grant options the approve action may offer. */
export const approvalRule = {
  type: 'object',
  description: 'The approval rule the request is held under, as compiled (durations in ms).',
  required: ['approvers', 'minApprovals', 'timeoutMs', 'waitMs', 'allowSelfApproval'],
  properties: {
    approvers: { type: 'array', items: str },
    channel: str,
    minApprovals: { type: 'integer' },
    timeoutMs: { type: 'integer' },
    waitMs: { type: 'integer' },
    onTimeout: str,
    allowSelfApproval: { type: 'boolean' },
    remindMs: { type: 'integer' },
    escalate: {
      type: 'array',
      items: {
        type: 'object',
        properties: { afterMs: { type: 'integer' }, approvers: { type: 'array', items: str }, channel: str },
      },
    },
    grants: {
      type: 'object',
      description:
        'The grants a reviewer may approve with (`grant` of the approve body); absent: approve once only.',
      required: ['max', 'maxMs', 'scopes'],
      properties: {
        max: { type: 'string', description: 'The longest grant as the policy writes it.', examples: ['8h'] },
        maxMs: { type: 'integer' },
        scopes: { type: 'array', items: { type: 'string', enum: [...GRANT_SCOPES] } },
      },
    },
  },
};
