// What the two direct-leg suites (test/integration/upstream-direct*.test.ts) share: a conformance upstream
// of one era behind a recording front, a connection to it, a session beside the connection for comparing
// the SDK client's requests with the leg's, and the ways a seen request is compared.
import assert from 'node:assert/strict';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { UpstreamSession, type SessionIdentity } from '../../src/upstream/upstream-session.js';
import { startUpstream, type UpstreamProcess } from './conformance-upstream.js';
import { FrontProxy, type SeenRequest } from './front-proxy.js';
import { CapturedLog, RecordingHooks, httpConfig } from '../fixtures/upstreams/harness.js';

/** The agent identity the comparison sessions announce: every capability Airlock relays. */
const IDENTITY = {
  clientInfo: { name: 'airlock', version: '0.1.0' },
  capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } },
} as SessionIdentity;

/** A result's text content, joined by lines. */
export const textOf = (result: { content?: unknown }): string =>
  ((result.content as { text?: string }[] | undefined) ?? []).map((c) => c.text ?? '').join('\n');

/** The JSON-RPC id of a seen request. */
export const idOf = (r: SeenRequest): unknown => r.body!['id'];

/** The request as sent, with the per-request id and progress token (both counters) set to 0. */
export function normalised(r: SeenRequest): string {
  const body = structuredClone(r.body!);
  body['id'] = 0;
  const meta = (body['params'] as { _meta?: Record<string, unknown> })._meta;
  if (meta && 'progressToken' in meta) meta['progressToken'] = 0;
  return JSON.stringify(body);
}

/** The named headers of a seen request, those it has. */
export const headersOf = (names: readonly string[]) => (r: SeenRequest) =>
  Object.fromEntries(names.filter((h) => h in r.headers).map((h) => [h, r.headers[h]]));

/** A conformance upstream of one era behind a recording front, and Airlock's connection to it. */
export class FrontedUpstream {
  private constructor(
    readonly upstream: UpstreamProcess,
    readonly front: FrontProxy,
    readonly conn: UpstreamConnection,
    /** What the connection reported to its owner. */
    readonly hooks: RecordingHooks,
    readonly log: CapturedLog,
  ) {}

  /** Starts the upstream, the front and the connection (with the front's configured headers). */
  static async start(era: 'modern' | 'legacy'): Promise<FrontedUpstream> {
    const upstream = await startUpstream(era);
    const front = await new FrontProxy(upstream.url).start();
    const config = httpConfig(front.url, { headers: { Authorization: 'Bearer t0k', 'X-Trace': 'abc' } });
    const hooks = new RecordingHooks();
    const log = new CapturedLog();
    const conn = new UpstreamConnection('up', config, hooks, log.logger, {
      reconnect: { initialMs: 20, maxMs: 100 },
    });
    const fronted = new FrontedUpstream(upstream, front, conn, hooks, log);
    await conn.start();
    assert.equal(conn.state, 'ready');
    assert.equal(conn.era, era);
    return fronted;
  }

  /**
   * Runs `body` with a second session on the same upstream (one that refuses any question), for sending
   * the same request through the SDK client and the direct leg; the session ends afterwards.
   */
  async withSession(body: (session: UpstreamSession) => Promise<void>): Promise<void> {
    const session = new UpstreamSession(this.conn.config, this.log.logger, IDENTITY, {
      onRequest: () => Promise.reject(new Error('no questions here')),
      onNotification: async () => {},
      onClose: () => {},
      onError: () => {},
    });
    try {
      await session.connect(10_000);
      await body(session);
    } finally {
      await session.end(false);
    }
  }

  async stop(): Promise<void> {
    await this.conn.close();
    await this.front.stop();
    await this.upstream.stop();
  }
}
