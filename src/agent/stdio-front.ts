// `airlock stdio`'s protocol side: one agent on one newline-delimited JSON-RPC channel, in either era. The
// first message settles the era for the process's lifetime (design 1.5): `initialize` hands the channel to
// a 2025 session (the same AgentSession the HTTP endpoint uses), an enveloped request makes it a
// 2026-07-28 channel served by the same ModernDispatcher as `/mcp` — minus the header layer, which stdio
// does not have. A `server/discover` probe answers without pinning, so a client may still fall back.
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from '../log.js';
import type { RpcMessage } from '../upstream/types.js';
import type { AgentSession } from './agent-session.js';
import { ListenHub, type ListenHandle } from './listen-stream.js';
import type { ModernAnswer, ModernDispatcher } from './modern-dispatch.js';
import { classifyStdioMessage } from './wire/classify.js';
import { isJsonObject, validateModernRequest, type JsonObject, type ModernRequest } from './wire/envelope.js';
import { declaresTasks } from './task-methods.js';
import {
  errorResponse,
  invalidRequest,
  parseError,
  unsupportedProtocolVersion,
  WireErrorCode,
  type JsonRpcId,
  type WireError,
} from './wire/errors.js';
import { MODERN_PROTOCOL_VERSIONS } from './wire/supported-versions.js';

/** Longest line accepted on stdin, the same bound as an HTTP body. @defaultValue 4 MiB */
export const MAX_STDIO_LINE_BYTES = 4 * 1024 * 1024;

/** What the stdio front needs from the rest of Airlock. */
export interface StdioFrontOptions {
  /** The agent this process acts for (`--agent`). */
  agent: string;
  modern: ModernDispatcher;
  /** Opens the 2025 session when the first message is `initialize`. */
  createSession: (agent: string) => AgentSession;
  /** Serves `subscriptions/listen`; without it the method is unknown (-32601). */
  listens?: ListenHub;
  /** Writes one JSON-RPC message as one line on stdout. */
  write: (message: unknown) => void;
  logger: Logger;
}

/** A modern request in flight, so `notifications/cancelled` can stop it. */
interface OpenRequest {
  readonly controller: AbortController;
  /** Set when the channel closed rather than the client cancelling: a held call then stays pending. */
  disconnected: boolean;
  listen?: ListenHandle;
}

/** One stdio channel, both eras. */
export class StdioFront {
  private era: 'modern' | 'legacy' | undefined;
  private legacy: LineTransport | undefined;
  private session: AgentSession | undefined;
  private readonly open = new Map<string | number, OpenRequest>();
  private closed = false;
  /** Called once the 2025 session closed on its own (the SDK server ended it). */
  onclose?: () => void;

  constructor(private readonly options: StdioFrontOptions) {}

  /** One line read from stdin. Never throws: anything unusable is answered or dropped. */
  receive(line: string): void {
    if (this.closed || line.trim() === '') return;
    if (Buffer.byteLength(line, 'utf8') > MAX_STDIO_LINE_BYTES) {
      return this.reply(null, invalidRequest(`a message may not exceed ${MAX_STDIO_LINE_BYTES} bytes`));
    }
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return this.reply(null, parseError('the line is not valid JSON'));
    }
    const c = classifyStdioMessage(message, this.era);
    const id = idOf(message);
    switch (c.kind) {
      case 'legacy-handshake':
        this.era = 'legacy';
        this.legacy = this.openSession();
        return this.legacy.deliver(message as JSONRPCMessage);
      case 'legacy-session':
        return this.legacy?.deliver(message as JSONRPCMessage);
      case 'modern':
        return void this.serveModern(message as JsonObject, c.pins);
      case 'malformed-modern':
      case 'bad-request':
        if (id !== undefined) this.reply(id, c.error);
        else this.options.logger.debug({ error: c.error }, 'stdio message dropped');
        return;
    }
  }

  /**
   * The channel closed (stdin ended) or Airlock stops: open modern calls end as disconnected (a held
   * call's request stays pending for an identical retry), and the 2025 session closes.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.open.values()) {
      r.disconnected = true;
      r.controller.abort(new Error('the stdio channel closed'));
      r.listen?.close();
    }
    this.open.clear();
    await this.session?.close();
  }

  private openSession(): LineTransport {
    const transport = new LineTransport((m) => this.options.write(m));
    const session = this.options.createSession(this.options.agent);
    this.session = session;
    const prev = session.onclose;
    session.onclose = () => {
      prev?.();
      if (!this.closed) this.onclose?.();
    };
    session.connect(transport).catch((err: unknown) => {
      this.options.logger.error({ err }, 'stdio session failed to start');
      this.onclose?.();
    });
    return transport;
  }

  private async serveModern(message: JsonObject, pins: boolean): Promise<void> {
    if (!Object.hasOwn(message, 'id')) return this.modernNotification(message);
    const checked = validateModernRequest(message);
    const rawId = idOf(message) ?? null;
    if (!checked.ok) return this.reply(rawId, this.forEra(checked.error));
    if (pins) this.era = 'modern';
    const request = checked.value;
    const id = request.id as string | number;
    if (this.open.has(id)) {
      return this.reply(id, invalidRequest(`request id ${JSON.stringify(id)} is already in flight`));
    }
    const entry: OpenRequest = { controller: new AbortController(), disconnected: false };
    const signal = entry.controller.signal;
    this.open.set(id, entry);
    if (request.method === 'subscriptions/listen' && this.options.listens) {
      return this.serveListen(this.options.listens, id, request, entry);
    }
    const notify = (n: RpcMessage) => {
      // After a cancellation nothing more may be sent for the request.
      if (!signal.aborted && !this.closed) this.options.write({ jsonrpc: '2.0', ...n });
    };
    const ctx = {
      agent: this.options.agent,
      request,
      signal,
      notify,
      disconnected: () => entry.disconnected,
    };
    const { modern } = this.options;
    let answer: ModernAnswer;
    try {
      const problem = modern.precheck(ctx);
      answer = problem ? { error: problem } : await modern.handle(ctx);
    } finally {
      if (this.open.get(id) === entry) this.open.delete(id);
    }
    if (signal.aborted || this.closed) return;
    if ('error' in answer) return this.reply(id, answer.error);
    this.options.write({ jsonrpc: '2.0', id, result: answer.result });
  }

  private async serveListen(
    hub: ListenHub,
    id: string | number,
    request: ModernRequest,
    entry: OpenRequest,
  ): Promise<void> {
    const parsed = ListenHub.parseFilter(request.params, declaresTasks(request.envelope.clientCapabilities));
    if (!parsed.ok) {
      this.open.delete(id);
      return this.reply(id, parsed.error);
    }
    const sink = {
      notify: (m: unknown) => {
        if (!entry.controller.signal.aborted && !this.closed) this.options.write(m);
      },
      end: (response: unknown) => {
        if (this.open.get(id) === entry) this.open.delete(id);
        if (!entry.controller.signal.aborted) this.options.write(response);
      },
    };
    const handle = await hub.open(this.options.agent, id, parsed.filter, sink, entry.controller.signal);
    if (entry.controller.signal.aborted) return handle.close();
    entry.listen = handle;
  }

  /** Modern notifications: `notifications/cancelled` stops a request (or ends a listen stream). */
  private modernNotification(message: JsonObject): void {
    if (message['method'] !== 'notifications/cancelled') return;
    const params = message['params'];
    const requestId = isJsonObject(params) ? params['requestId'] : undefined;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const entry = this.open.get(requestId);
    if (!entry) return;
    this.open.delete(requestId);
    entry.controller.abort(new Error('cancelled by the client'));
    entry.listen?.close();
  }

  /** -32022 names only the modern revisions once the process is pinned to them: initialize is gone. */
  private forEra(error: WireError): WireError {
    if (error.code !== WireErrorCode.UnsupportedProtocolVersion || this.era !== 'modern') return error;
    const requested = (error.data as { requested?: unknown } | undefined)?.requested;
    return unsupportedProtocolVersion(String(requested), MODERN_PROTOCOL_VERSIONS);
  }

  private reply(id: JsonRpcId, error: WireError): void {
    if (!this.closed) this.options.write(errorResponse(id, error));
  }
}

/** The request id of a message, when it has a usable one. */
function idOf(message: unknown): string | number | undefined {
  if (!isJsonObject(message)) return undefined;
  const id = message['id'];
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

/** The 2025 session's transport: messages in from the front, out as lines. */
class LineTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private ended = false;

  constructor(private readonly out: (message: JSONRPCMessage) => void) {}

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.ended) this.out(message);
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.onclose?.();
  }

  /** Hands one inbound message to the session. */
  deliver(message: JSONRPCMessage): void {
    if (!this.ended) this.onmessage?.(message);
  }
}
