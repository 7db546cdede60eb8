import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyInboundRequest,
  isLegacyRequest,
  type InboundClassificationOutcome,
} from '@modelcontextprotocol/server';
import type { InboundHttpRequest } from '../../src/agent/wire/classify.js';
import { cases, ours } from '../helpers/wire-requests.js';

/** What each SDK outcome must map to here; the SDK does not look at sessions, Airlock requires one. */
function agrees(
  sdk: InboundClassificationOutcome,
  request: InboundHttpRequest,
  got: ReturnType<typeof ours>,
): void {
  const hasSession = Object.keys(request.headers).some((h) => h.toLowerCase() === 'mcp-session-id');
  if (sdk.kind === 'modern') {
    assert.equal(got.kind, 'modern');
    return;
  }
  if (sdk.kind === 'legacy') {
    if (sdk.reason === 'initialize') assert.equal(got.kind, 'legacy-handshake');
    else if (sdk.reason === 'http-method') {
      const method = request.method.toUpperCase();
      assert.equal(got.kind, method === 'GET' || method === 'DELETE' ? 'legacy-session' : 'bad-request');
    } else assert.equal(got.kind, hasSession ? 'legacy-session' : 'bad-request', `legacy ${sdk.reason}`);
    return;
  }
  // A rejection: we must end with the same code; the era we put it in only tells where it is checked.
  assert.notEqual(got.kind, 'legacy-session');
  assert.notEqual(got.kind, 'legacy-handshake');
  assert.equal(got.code, sdk.code, `SDK ${sdk.cell}`);
}

describe('era classification agrees with @modelcontextprotocol/server 2.4.0', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const headers: Record<string, string> = Object.fromEntries(
        Object.entries(c.request.headers).map(([k, v]) => [k.toLowerCase(), String(v)]),
      );
      const sdk = classifyInboundRequest({
        httpMethod: c.request.method,
        protocolVersionHeader: headers['mcp-protocol-version'],
        mcpMethodHeader: headers['mcp-method'],
        mcpNameHeader: headers['mcp-name'],
        body: c.request.body,
      });
      agrees(sdk, c.request, ours(c.request));
      // The SDK's own predicate: legacy exactly when we route to a 2025 path (or refuse a session-less one).
      if (c.request.method === 'POST' && c.request.body !== undefined) {
        const web = new Request('http://127.0.0.1/mcp', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(c.request.body),
        });
        const legacy = await isLegacyRequest(web, c.request.body);
        const got = ours(c.request);
        const oursLegacy =
          got.kind === 'legacy-handshake' ||
          got.kind === 'legacy-session' ||
          (got.kind === 'bad-request' && got.code === -32000);
        assert.equal(oursLegacy, legacy);
      }
    });
  }
});
