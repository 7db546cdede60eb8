// The 2025-era half of /mcp with sessions shared through Redis: any replica serves any request of a
// session. Each request gets a fresh SDK server and a stateless Streamable HTTP transport, restored from
// the session record; what a request leaves behind (log level, subscriptions) goes back to the record.
// Messages that belong to a request open on another replica (the agent's answers to relayed requests,
// cancellations) and notifications for a GET stream held elsewhere travel over the replica bus.
// The hot path, a session's `tools/call` and `tools/list`, skips the SDK (session-fast-call.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  isJSONRPCRequest,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../log.js';
import type { ReplicaBus, SessionBusMessage } from '../redis/bus.js';
import type { AgentMethods } from './agent-methods.js';
import type { AgentSession, SessionRestore } from './agent-session.js';
import { answerToolList, FastSessionCall } from './session-fast-call.js';
import type { SessionRegistry } from './session-registry.js';
import type { SessionRecord, SessionStore } from './session-store.js';
import { declaresTasks } from './task-methods.js';
import { sendEmpty, sendJson } from './wire/json-answer.js';
import { sessionFastRequest, type SessionFastRequest } from './wire/session-fast-request.js';

/** Creates the per-request session object; `restore` is absent for the initialize request. */
export type CreateSharedSession = (agent: string, id: string, restore?: SessionRestore) => AgentSession;

/** One request of a session open on this replica, SDK-served or on the fast path. */
interface Live {
  /** A message the agent posted for a request open here: an answer to a relayed request, a cancellation. */
  receive(message: Rpc): void;
  /** A notification for the session's GET stream, which this request may be. */
  notify(message: Rpc): void;
  /** Ends the request: its session was deleted, or Airlock stops. */
  end(): void;
}

/** What the fast path needs: the gateway's methods and the registry its calls are found through. */
export interface FastPathDeps {
  methods: AgentMethods;
  registry: SessionRegistry;
}

type Rpc = Record<string, unknown>;

/** Legacy sessions, shared through Redis; see the file comment. */
export class LegacySessions {
  private readonly live = new Map<string, { entries: Set<Live>; off: () => void }>();

  constructor(
    private readonly store: SessionStore,
    private readonly bus: ReplicaBus,
    private readonly create: CreateSharedSession,
    private readonly maxBodyBytes: number,
    private readonly logger: Logger,
    /** Without it every request takes the SDK path. */
    private readonly fast?: FastPathDeps,
  ) {}

  /** Number of this replica's open session requests (GET streams and calls). */
  count(): number {
    let n = 0;
    for (const l of this.live.values()) n += l.entries.size;
    return n;
  }

  /** `initialize`: records the session, then serves the handshake with its id on the response. */
  async open(agent: string, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const init = (Array.isArray(body) ? body : [body]).find((m) => (m as Rpc)?.method === 'initialize') as
      { params?: Rpc } | undefined;
    const params = init?.params ?? {};
    const requested = String(params['protocolVersion'] ?? '');
    const capabilities = (params['capabilities'] as Rpc | undefined) ?? {};
    const record = await this.store.create({
      agent,
      // The SDK server answers with the same choice: the client's revision when supported, else the latest.
      protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION,
      clientCapabilities: capabilities,
      clientInfo: (params['clientInfo'] as Rpc | undefined) ?? {},
      // Decided once, at initialize: every later request of the session, on any replica, reads it here.
      ...(declaresTasks(capabilities) && { tasks: true }),
    });
    await this.run(this.create(agent, record.id), record.id, req, res, body);
  }

  /**
   * Any later request of session `id`. The record must exist and belong to the agent whose token came
   * with the request; otherwise 404, as for a session that never was.
   */
  async serve(
    agent: string,
    id: string,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ): Promise<void> {
    const record = await this.store.touch(id, agent);
    if (!record) return notFound(res);
    if (req.method === 'DELETE') {
      await this.store.delete(id);
      await this.bus.publish({ session: id, kind: 'closed' });
      sendEmpty(res, 200);
      return;
    }
    // Before the routing below: a request the fast path takes has nothing for another replica.
    const fast = req.method === 'POST' ? this.fast : undefined;
    const request = fast && sessionFastRequest(req.headers, body);
    if (fast && request) return this.serveFast(fast, agent, record, request, res);
    const messages = (Array.isArray(body) ? body : [body]) as Rpc[];
    if (req.method === 'POST' && !messages.some((m) => isJSONRPCRequest(m))) {
      // Answers and cancellations belong to a request that may be open on another replica.
      const routed = messages.filter((m) => !('method' in m) || m['method'] === 'notifications/cancelled');
      if (routed.length) await this.bus.publish({ session: id, kind: 'in', messages: routed });
      if (routed.length === messages.length) {
        sendEmpty(res, 202);
        return;
      }
    }
    const restore: SessionRestore = {
      id,
      clientCapabilities: record.clientCapabilities,
      clientInfo: record.clientInfo,
      ...(record.logLevel ? { logLevel: record.logLevel } : {}),
      tasks: record.tasks === true,
    };
    await this.run(this.create(agent, id, restore), id, req, res, body);
  }

  /** Ends every request of this replica. */
  async close(): Promise<void> {
    for (const l of [...this.live.values()]) for (const e of [...l.entries]) e.end();
    for (const l of this.live.values()) l.off();
    this.live.clear();
  }

  /**
   * A tools/list or tools/call the fast path answers (see wire/session-fast-request.ts). Not async: a
   * held call is kept by its FastSessionCall alone, not also by this frame.
   */
  private serveFast(
    deps: FastPathDeps,
    agent: string,
    record: SessionRecord,
    request: SessionFastRequest,
    res: ServerResponse,
  ): Promise<void> {
    if (request.method === 'tools/list') {
      answerToolList(deps.methods, agent, record, request, res);
      return Promise.resolve();
    }
    const call = new FastSessionCall(deps.methods, agent, record, request, res);
    const id = record.id;
    call.onclose = () => this.untrack(id, call);
    this.track(id, call);
    deps.registry.add(call);
    return call.run();
  }

  private async run(
    session: AgentSession,
    id: string,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ) {
    // Stateless: the session is checked above and its id set here; the transport keeps nothing between requests.
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      maxRequestBodySize: this.maxBodyBytes,
    });
    const entry: Live = {
      receive: (message) => transport.onmessage?.(message as never),
      // `out` goes where the SDK sends unrelated notifications: the GET stream, if this request is it.
      notify: (message) => session.notify(message as { method: string }),
      end: () => void transport.close(),
    };
    this.track(id, entry);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.untrack(id, entry);
      void transport.close();
      void session.close();
    };
    res.on('close', end);
    transport.onclose = end;
    res.setHeader('Mcp-Session-Id', id);
    try {
      await session.connect(transport);
      await transport.handleRequest(req, res, body);
    } catch (err) {
      end();
      throw err;
    }
  }

  private track(id: string, entry: Live): void {
    let l = this.live.get(id);
    if (!l) {
      const entries = new Set<Live>();
      l = { entries, off: this.bus.on(id, (m) => this.deliver(entries, m)) };
      this.live.set(id, l);
    }
    l.entries.add(entry);
  }

  private untrack(id: string, entry: Live): void {
    const l = this.live.get(id);
    if (!l?.entries.delete(entry) || l.entries.size > 0) return;
    l.off();
    this.live.delete(id);
  }

  private deliver(entries: Set<Live>, m: SessionBusMessage): void {
    for (const e of [...entries]) {
      if (m.kind === 'closed') {
        e.end();
        continue;
      }
      for (const message of m.messages ?? []) {
        if (m.kind === 'out') e.notify(message);
        else e.receive(message);
      }
    }
    if (m.kind !== 'closed') return;
    this.logger.debug({ session: m.session }, 'session deleted; its streams on this replica end');
  }
}

function notFound(res: ServerResponse): void {
  if (!res.headersSent) {
    sendJson(res, 404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
  }
}
