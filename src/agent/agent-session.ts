import { randomInt, randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  ResultSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { RpcMessage } from '../upstream/types.js';
import type { Logger } from '../log.js';
import type { AgentMethods } from './agent-methods.js';
import { AIRLOCK_VERSION } from '../version.js';
import { declaresTasks, tasksCapability } from './task-methods.js';
import { setTaskMethods, setToolCallHandler } from './session-sdk-seams.js';
import { LOG_LEVELS, type LogLevel } from './wire/envelope.js';
import { sessionToolCall } from './session-tool-call.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** One agent's open call, so requests the upstream sends back can reach the right agent. */
interface InFlight {
  server: string;
  extra: Extra;
  startedAt: number;
}

/** Where a session shared between replicas keeps what its requests change (src/agent/session-store.ts). */
export interface SessionPersistence {
  setLogLevel(level: LogLevel): Promise<void>;
  setSubscribed(uri: string, subscribed: boolean): Promise<void>;
}

/** A session's state as the replica serving one of its requests finds it in Redis. */
export interface SessionRestore {
  id: string;
  clientCapabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
  logLevel?: LogLevel;
  /** True when the session negotiated the tasks extension at initialize. @defaultValue read from clientCapabilities */
  tasks?: boolean;
}

/** What a session needs from the rest of Airlock. */
export interface AgentSessionDeps {
  methods: AgentMethods;
  upstreams: UpstreamPool;
  logger: Logger;
  /** Set for a session shared through Redis; its subscriptions then outlive this object. */
  persist?: SessionPersistence;
  /** Set when this object serves one request of an existing session (no initialize on it). */
  restore?: SessionRestore;
}

/**
 * One agent's MCP session: an SDK `Server` whose handlers forward to the gateway (tools) and to the
 * upstreams (resources, prompts, completions, logging), transparently for everything policy allows.
 */
export class AgentSession {
  readonly server: Server;
  readonly inFlight = new Map<string | number, InFlight>();
  readonly subscriptions = new Set<string>();
  /** The session id; names this session's resource subscriptions on the upstreams. */
  readonly key: string;
  /**
   * From `logging/setLevel`. A 2025 server that was never told a level may send every message, so until
   * the agent sets one, modern upstreams are asked for everything (`debug`) on this session's calls.
   */
  logLevel: LogLevel = 'debug';
  lastActivity = Date.now();
  private closed = false;
  onclose?: () => void;
  /** Called after a successful resources/subscribe, so updates can find the session again. */
  onsubscribe?: (uri: string) => void;

  constructor(
    readonly agent: string,
    private readonly deps: AgentSessionDeps,
  ) {
    this.server = new Server(
      { name: 'airlock', title: 'Airlock', version: AIRLOCK_VERSION },
      {
        capabilities: {
          tools: { listChanged: true },
          resources: { subscribe: true, listChanged: true },
          prompts: { listChanged: true },
          completions: {},
          logging: {},
          // The extension (SEP-2133 style, in the handshake); a session uses it only if it declared it too.
          ...(deps.methods.tasks && { extensions: tasksCapability() }),
        },
        instructions: deps.methods.instructions(),
      },
    );
    this.registerHandlers();
    this.server.onclose = () => this.handleClose();
    this.key = deps.restore?.id ?? randomUUID();
    if (deps.restore) this.restore(deps.restore);
  }

  /**
   * What initialize told the SDK server, from the session record: the SDK keeps it private and offers no
   * way in, yet relaying sampling or elicitation checks it. SDK 1.x is pinned, so the fields stay put.
   */
  private restore(state: SessionRestore): void {
    const server = this.server as unknown as {
      _clientCapabilities?: unknown;
      _clientVersion?: unknown;
      _requestMessageId: number;
    };
    server._clientCapabilities = state.clientCapabilities;
    server._clientVersion = state.clientInfo;
    // Requests relayed to the agent from different requests of one session must not share ids.
    server._requestMessageId = randomInt(2 ** 40);
    if (state.logLevel) this.logLevel = state.logLevel;
  }

  /**
   * True when this session negotiated the tasks extension: Airlock offers it and the agent declared it
   * at initialize (the session record keeps that decision for every replica).
   */
  get tasks(): boolean {
    if (!this.deps.methods.tasks) return false;
    return this.deps.restore?.tasks ?? declaresTasks(this.server.getClientCapabilities() ?? {});
  }

  /** Connects the session to its transport (HTTP session or stdio). */
  async connect(transport: Transport): Promise<void> {
    await this.server.connect(transport);
  }

  /** Closes the session and its transport. */
  async close(): Promise<void> {
    await this.server.close().catch(() => {});
    this.handleClose();
  }

  /** Sends a notification to the agent; a closed session drops it. */
  notify(message: RpcMessage): void {
    if (this.closed) return;
    this.server.notification(message as ServerNotification).catch((err: unknown) => {
      this.deps.logger.debug({ err, method: message.method }, 'notification to agent dropped');
    });
  }

  /** Relays a request from an upstream to this agent, tied to the agent's call that caused it. */
  async relayRequest(
    server: string,
    request: RpcMessage,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const caps = this.server.getClientCapabilities() ?? {};
    const needed: Record<string, unknown> = {
      'sampling/createMessage': caps.sampling,
      'elicitation/create': caps.elicitation,
      'roots/list': caps.roots,
    };
    if (request.method in needed && !needed[request.method]) {
      throw new McpError(ErrorCode.MethodNotFound, `The agent does not support ${request.method}`);
    }
    const call = [...this.inFlight.values()].filter((c) => c.server === server).pop();
    const send = call ? call.extra.sendRequest : this.server.request.bind(this.server);
    return (await send(request as ServerRequest, ResultSchema, { signal })) as Record<string, unknown>;
  }

  /** True for a session shared through Redis, whose state lives in its record. */
  get shared(): boolean {
    return this.deps.persist !== undefined;
  }

  /** True when this session has a call open on `server`. */
  hasCallOn(server: string): boolean {
    for (const c of this.inFlight.values()) if (c.server === server) return true;
    return false;
  }

  /** How many calls this session has open on `server`. */
  callsOn(server: string): number {
    let n = 0;
    for (const c of this.inFlight.values()) if (c.server === server) n++;
    return n;
  }

  /**
   * Relays a modern upstream's log message to this session's one open call on `server`, on that call's
   * own stream, when it is at or above the session's level. False when there is no such call.
   */
  relayCallLog(server: string, message: RpcMessage): boolean {
    const call = [...this.inFlight.values()].find((c) => c.server === server);
    if (!call) return false;
    const rank = (level: unknown) => LOG_LEVELS.indexOf(level as LogLevel);
    if (rank(message.params?.['level']) >= rank(this.logLevel)) {
      call.extra.sendNotification(message as ServerNotification).catch(() => {});
    }
    return true;
  }

  private handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    // A shared session's subscriptions belong to its record, not to this request's object.
    if (!this.deps.persist) this.deps.methods.releaseResources(this.key);
    this.onclose?.();
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  private registerHandlers(): void {
    const { methods, upstreams } = this.deps;
    const s = this.server;

    s.setRequestHandler(ListToolsRequestSchema, async () => {
      this.touch();
      // In a 2025 revision `execution.taskSupport` invites the experimental `task` param, which Airlock
      // does not serve: only a session that negotiated the extension is told which tools run as tasks.
      return { tools: methods.listTools(this.agent, { taskSupport: this.tasks }) };
    });

    setToolCallHandler(s, async ({ params }, extra) => {
      this.touch();
      const server = methods.serverOfTool(params.name);
      const key = extra.requestId;
      if (server) this.inFlight.set(key, { server, extra, startedAt: Date.now() });
      try {
        return await sessionToolCall(methods, this.agent, params, {
          signal: extra.signal,
          disconnected: () => this.closed,
          clientCapabilities: this.server.getClientCapabilities(),
          logLevel: this.logLevel,
          tasks: this.tasks,
          sendNotification: (n) => void extra.sendNotification(n as ServerNotification).catch(() => {}),
        });
      } finally {
        this.inFlight.delete(key);
      }
    });
    if (methods.tasks) {
      setTaskMethods(s, methods.tasks, () => {
        this.touch();
        return { agent: this.agent, negotiated: this.tasks };
      });
    }

    s.setRequestHandler(ListResourcesRequestSchema, async (_req, extra) => {
      this.touch();
      return (await methods.listResources(extra.signal)) as never;
    });
    s.setRequestHandler(ListResourceTemplatesRequestSchema, async (_req, extra) => {
      this.touch();
      return (await methods.listResourceTemplates(extra.signal)) as never;
    });
    s.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
      this.touch();
      return (await methods.forwardResource(req.method, req.params, extra.signal)) as never;
    });
    s.setRequestHandler(SubscribeRequestSchema, async (req, extra) => {
      this.touch();
      const uri = req.params.uri;
      const result = await methods.resourceSubscription(req.method, uri, this.key, extra.signal);
      this.subscriptions.add(uri);
      await this.deps.persist?.setSubscribed(uri, true);
      this.onsubscribe?.(uri);
      return result as never;
    });
    s.setRequestHandler(UnsubscribeRequestSchema, async (req, extra) => {
      this.touch();
      const uri = req.params.uri;
      this.subscriptions.delete(uri);
      await this.deps.persist?.setSubscribed(uri, false);
      return (await methods.resourceSubscription(req.method, uri, this.key, extra.signal)) as never;
    });

    s.setRequestHandler(ListPromptsRequestSchema, async () => {
      this.touch();
      return methods.listPrompts() as never;
    });
    s.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
      this.touch();
      return (await methods.getPrompt(req.params, extra.signal)) as never;
    });
    s.setRequestHandler(CompleteRequestSchema, async (req, extra) => {
      this.touch();
      return (await methods.complete(req.params, extra.signal)) as never;
    });

    s.setRequestHandler(SetLevelRequestSchema, async (req) => {
      this.touch();
      this.logLevel = req.params.level;
      await this.deps.persist?.setLogLevel(req.params.level);
      // A legacy upstream keeps a level per connection; a modern one has no setLevel and reads the level
      // from each call's `_meta` instead (see UpstreamRequestOptions.logLevel).
      await Promise.allSettled(
        upstreams
          .list()
          .filter((u) => u.state === 'ready' && u.capabilities?.logging && u.era === 'legacy')
          .map((u) => u.request({ method: req.method, params: req.params })),
      );
      return {};
    });

    s.setNotificationHandler(RootsListChangedNotificationSchema, async (n) => {
      await Promise.allSettled(
        upstreams
          .list()
          .filter((u) => u.state === 'ready')
          .map((u) => u.notify({ method: n.method })),
      );
    });
  }
}
