import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { AirlockError } from '../../src/core/errors.js';
import { apiRouter } from '../../src/http/api/api-router.js';
import {
  approveBody,
  explainBody,
  exportQuery,
  listQuery,
  rejectBody,
} from '../../src/http/api/api-schemas.js';
import { OPENAPI_DOCUMENT } from '../../src/http/api/openapi.js';
import { HISTORY_STATUSES } from '../../src/history/history-record.js';
import { silentLogger } from '../../src/log.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every (method, path) the router serves, through nested routers. */
function routesOf(router: Router): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods))
          if (on) out.push(`${method.toUpperCase()} ${layer.route.path}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((router as unknown as { stack: Layer[] }).stack);
  return out.sort();
}

// Routes never touch these at construction time.
const router = apiRouter({
  approvals: undefined as never,
  grants: undefined as never,
  history: undefined as never,
  events: undefined as never,
  policies: { files: () => [], get: () => undefined },
  logger: silentLogger,
});

test('every API route is in the OpenAPI document, and the document lists no route that does not exist', () => {
  const served = routesOf(router);
  const documented = Object.entries(OPENAPI_DOCUMENT.paths)
    .flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    )
    .sort();
  assert.ok(served.length >= 9);
  assert.deepEqual(documented, served);
});

test('the OpenAPI document is 3.1, its references resolve, and its status list matches the code', () => {
  assert.equal(OPENAPI_DOCUMENT.openapi, '3.1.0');
  const text = JSON.stringify(OPENAPI_DOCUMENT);
  for (const [, kind, name] of text.matchAll(/"#\/components\/(\w+)\/(\w+)"/g)) {
    const section = (OPENAPI_DOCUMENT.components as Record<string, Record<string, unknown>>)[kind!];
    assert.ok(section?.[name!], `#/components/${kind}/${name} exists`);
  }
  assert.deepEqual(OPENAPI_DOCUMENT.components.schemas.Status.enum, [...HISTORY_STATUSES]);
  for (const [path, ops] of Object.entries(OPENAPI_DOCUMENT.paths)) {
    for (const [method, op] of Object.entries(
      ops as Record<string, { responses: Record<string, unknown>; operationId: string }>,
    )) {
      assert.ok(op.operationId, `${method} ${path} has an operationId`);
      assert.ok(op.responses['200'], `${method} ${path} documents success`);
      if (path !== '/openapi.json') assert.ok(op.responses['401'], `${method} ${path} documents 401`);
    }
  }
});

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  minLength?: number;
  examples?: unknown[];
  default?: unknown;
  enum?: unknown[];
};
type Parameter = { name: string; in: string; schema: Schema };
type Operation = {
  parameters?: ({ $ref: string } | Parameter)[];
  requestBody?: { required?: boolean; content: { 'application/json': { schema: Schema } } };
};

const doc = OPENAPI_DOCUMENT as unknown as {
  paths: Record<string, Record<string, Operation>>;
  components: { parameters: Record<string, Parameter> };
};

/** Any value the documented schema allows: what a client reading only the document would send. */
function sample(schema: Schema): unknown {
  if (schema.examples) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.enum) return schema.enum[0];
  if (schema.type === 'object') return {};
  return 'x'.repeat(schema.minLength ?? 0); // '' is how a query value is left out
}

function queryParameters(op: Operation) {
  return (op.parameters ?? [])
    .map((p) => ('$ref' in p ? doc.components.parameters[p.$ref.split('/').pop()!]! : p))
    .filter((p) => p.in === 'query');
}

// The real routers with no stores behind them: validation runs first, so a valid input gets as far as
// the missing store (a 500 here), and only an invalid one is a BAD_REQUEST.
let server: Server;
let base: string;
before(async () => {
  const app = express();
  app.use(router);
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err instanceof AirlockError && err.code === 'BAD_REQUEST' ? 400 : 500).end();
  });
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const ID = `ar_${'a'.repeat(20)}`;
const urlOf = (path: string) => `${base}${path.replace('{id}', ID)}`;

test('each documented body is the zod schema its route validates: documented fields pass, others are refused', async () => {
  const validators: Record<string, z.ZodType> = {
    'POST /requests/{id}/approve': approveBody,
    'POST /requests/{id}/reject': rejectBody,
    'POST /policies/explain': explainBody,
  };
  const withBody = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => op.requestBody)
      .map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as const),
  );
  assert.deepEqual(
    withBody.map(([route]) => route.replace(/\{(\w+)\}/g, ':$1')).sort(),
    routesOf(router).filter((r) => r.startsWith('POST ')),
    'every POST route documents its body',
  );
  for (const [route, op] of withBody) {
    const schema = op.requestBody!.content['application/json'].schema;
    const fields = z.toJSONSchema(validators[route]!, { io: 'input' }) as Schema;
    assert.deepEqual(Object.keys(schema.properties ?? {}), Object.keys(fields.properties ?? {}), route);
    const post = (body: unknown) =>
      fetch(urlOf(route.slice('POST '.length)), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const valid = Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, sample(v)]));
    assert.notEqual((await post(valid)).status, 400, `${route} accepts ${JSON.stringify(valid)}`);
    assert.equal((await post({ ...valid, undocumented: 'x' })).status, 400, `${route} refuses others`);
    assert.equal(op.requestBody!.required ?? false, (await post({})).status === 400, `${route} required`);
  }
});

test('documented query parameters are the ones the list and export routes accept', async () => {
  for (const [path, schema] of [
    ['/requests', listQuery],
    ['/requests/export', exportQuery],
  ] as const) {
    const params = queryParameters(doc.paths[path]!.get!);
    assert.deepEqual(
      params.map((p) => p.name),
      Object.keys(schema.shape),
    );
    for (const p of params) {
      const query = new URLSearchParams({ [p.name]: String(sample(p.schema)) });
      assert.notEqual((await fetch(`${urlOf(path)}?${query}`)).status, 400, `${path}?${query}`);
    }
    assert.equal((await fetch(`${urlOf(path)}?undocumented=1`)).status, 400, `${path} refuses others`);
  }
});
