import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Router } from 'express';
import { apiRouter } from '../../src/http/api/api-router.js';
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
