import type { Redis, Cluster } from 'ioredis';
import type { AirlockConfig } from './config/schema.js';
import type { Logger } from './log.js';
import { createRedis, checkRedis } from './redis/connection.js';
import { startEmbeddedRedis } from './redis/embedded-redis.js';
import { RateLimiter } from './redis/rate-limiter.js';
import { PolicyStore } from './policy/policy-store.js';
import { UpstreamPool } from './upstream/upstream-pool.js';
import { Gateway } from './gateway/gateway.js';
import { AgentSession } from './agent/agent-session.js';
import { SessionRegistry } from './agent/session-registry.js';
import { ResourceRouter } from './agent/resource-router.js';
import { MAX_MCP_BODY_BYTES, SESSION_IDLE_MS } from './agent/http-endpoint.js';
import { serveHttp } from './http-listener.js';
import { LegacySessions } from './agent/legacy-sessions.js';
import { sharedSessionFactory } from './agent/shared-session-factory.js';
import { RequestStates } from './agent/request-state.js';
import { InputRelay } from './agent/input-relay.js';
import { approvedCalls } from './agent/approved-calls.js';
import { SessionStore } from './agent/session-store.js';
import { ReplicaBus } from './redis/bus.js';
import { AgentMethods } from './agent/agent-methods.js';
import { ModernDispatcher } from './agent/modern-dispatch.js';
import type { ListenHub } from './agent/listen-stream.js';
import { createListenHub, subscribableUpstreams } from './agent/listen-wiring.js';
import { ApprovalStore, type StoredRecord } from './approval/approval-store.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TaskStore } from './tasks/task-store.js';
import { TaskService } from './tasks/task-service.js';
import { ApprovalService } from './approval/approval-service.js';
import { EditChecker } from './approval/edit-check.js';
import { createQueueConnection } from './approval/queue-connection.js';
import { createSlackIntegration, slackConfigured } from './slack/slack-integration.js';
import { createSlackDirectory, NO_CHANNEL_LABEL } from './slack/slack-directory.js';
import { GrantStore } from './grants/grant-store.js';
import { GrantService } from './grants/grant-service.js';
import { startHistory } from './history/start-history.js';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { startAuditWriter } from './audit/index.js';
import { subscribeAudit } from './observe/audit-subscriber.js';
import { createMetrics } from './observe/metrics.js';
import type { CallOutcome } from './gateway/gateway.js';
import { AIRLOCK_VERSION } from './version.js';
import { retentionMs } from './core/retention.js';

/** Options for {@link startAirlock}. */
export interface StartOptions {
  logger: Logger;
  /** Serve HTTP (`serve`); `stdio` mode runs without a listener. @defaultValue true */
  listen?: boolean;
}

/** A running Airlock: the composition root's product. */
export interface Airlock {
  config: AirlockConfig;
  gateway: Gateway;
  upstreams: UpstreamPool;
  policies: PolicyStore;
  sessions: SessionRegistry;
  redis: Redis | Cluster;
  approvals: ApprovalService;
  /** Time-bound grants: list, revoke. */
  grants: GrantService;
  /** Base URL of the HTTP listener, when listening. */
  url?: string;
  /** Opens an MCP session for an agent (used by stdio mode). */
  createSession(agent: string): AgentSession;
  /** Answers 2026-07-28 requests, on `/mcp` and over stdio. */
  modern: ModernDispatcher;
  /** The 2026-07-28 `subscriptions/listen` streams open on this replica. */
  listens: ListenHub;
  stop(): Promise<void>;
}

/** Wires every part of Airlock from a validated config and starts it. */
export async function startAirlock(config: AirlockConfig, options: StartOptions): Promise<Airlock> {
  const { logger } = options;
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        logger.warn({ err }, 'error during shutdown');
      }
    }
    cleanups.length = 0;
  };
  try {
    let redisUrl = config.redis.url;
    if (!redisUrl) {
      const embedded = await startEmbeddedRedis({ dataDir: config.dataDir, logger });
      cleanups.push(() => embedded.release());
      redisUrl = embedded.url;
    }
    const redis = createRedis({ url: redisUrl, cluster: config.redis.cluster, name: 'airlock', logger });
    cleanups.push(() => void redis.disconnect());
    await checkRedis(redis, logger);

    // Its file-system work runs on a thread of its own (src/audit/audit-thread.ts), which batches without a
    // linger; the linger is for the main-thread writer it falls back to.
    const audit = await startAuditWriter({
      file: config.audit.file!,
      replica: `${hostname()}:${process.pid}`,
      logger,
      lingerMs: AUDIT_LINGER_MS,
    });
    audit.record({ event: 'airlock.started', version: AIRLOCK_VERSION, pid: process.pid });
    cleanups.push(async () => {
      await audit
        .append({ event: 'airlock.stopped', version: AIRLOCK_VERSION, pid: process.pid })
        .catch(() => {});
      await audit.close();
    });

    const policies = new PolicyStore({ dir: config.policies, servers: Object.keys(config.servers), logger });
    await policies.load();
    policies.watch();
    cleanups.push(() => policies.close());

    const sessions = new SessionRegistry(logger);
    // Listen streams hear upstream notifications beside the 2025 sessions.
    const listens: ListenHub = createListenHub({
      // The method handling is built further down; the hub asks it only once streams are open.
      methods: { listTools: (agent) => methods.listTools(agent), features: () => methods.features() },
      upstreams: () => upstreams,
      resources: () => resources,
      sessions,
      governed: (server) => governed(server),
      followTask: (id, agent, onChange) => tasks.follow(id, agent, onChange),
      logger,
    });
    const upstreams = new UpstreamPool(
      config.servers,
      {
        onRequest: (server, request, signal) => sessions.onRequest(server, request, signal),
        onNotification: (server, n) => {
          sessions.onNotification(server, n);
          listens.upstreamNotification(n);
        },
      },
      logger,
    );
    cleanups.push(() => upstreams.close());
    await upstreams.start();
    // A server without a policy file fails closed: no tools, and no resources or prompts either.
    const governed = (server: string) => policies.get(server) !== undefined;
    const resources = new ResourceRouter(upstreams, governed);
    // A tool as its upstream lists it (schema, annotations), by the upstream's own name.
    const catalogTool = (server: string, tool: string) =>
      upstreams
        .get(server)
        ?.tools()
        .find((t) => t.name === tool);
    sessions.resources = resources;
    sessions.upstreams = upstreams;
    const toolsChanged = () => sessions.broadcast({ method: 'notifications/tools/list_changed' });
    upstreams.on('tools-changed', () => {
      toolsChanged();
      listens.listChanged('notifications/tools/list_changed');
    });
    upstreams.on('prompts-changed', () => {
      sessions.broadcast({ method: 'notifications/prompts/list_changed' });
      listens.listChanged('notifications/prompts/list_changed');
    });
    // What a tool list shows depends on policy, so agents re-list after a reload or a removal.
    const policyChanged = () => {
      toolsChanged();
      listens.policyChanged();
    };
    policies.on('removed', policyChanged);
    policies.on('reload', policyChanged);

    // Open review (no tokens) only for the demo shape: nobody configured at all, on loopback. Once agents
    // authenticate, an open API would let an agent approve its own calls, so it stays closed.
    const openReview = config.reviewers.length === 0 && config.agents.length === 0;
    if (!config.reviewers.length && config.agents.length) {
      logger.warn(
        'agents are configured but no reviewers: the API, console and CLI cannot decide; approvals come only from Slack approvers named in policies',
      );
    }
    const store = new ApprovalStore(redis, config.redis.prefix, {
      recordTtlMs: retentionMs(config.history.retentionDays),
    });
    const blocking: (Redis | Cluster)[] = [];
    const url = redisUrl;
    const blockingConnection = (name: string) => {
      const c = createQueueConnection(url, config.redis.cluster, name);
      blocking.push(c);
      return c;
    };
    // The directory (groups, channel names) comes first: the service asks it, and Slack serves the service.
    const directory = slackConfigured(config.slack) ? createSlackDirectory(config, logger) : undefined;
    const grants = new GrantService({ store: new GrantStore(redis, config.redis.prefix), logger });
    grants.start();
    cleanups.push(() => grants.close());
    const approvals: ApprovalService = new ApprovalService({
      store,
      queueConnection: redis,
      blockingConnection,
      prefix: config.redis.prefix,
      reviewers: config.reviewers,
      agents: config.agents,
      grants,
      edits: new EditChecker({
        policies,
        inputSchemaOf: (server, tool) => catalogTool(server, tool)?.inputSchema,
      }),
      openAccess: openReview,
      logger,
      sweepIntervalMs: config.approvals.sweepIntervalMs,
      groupMembers: (ids) => directory?.groupMembers(ids) ?? Promise.resolve({}),
      channelLabel: (record) => directory?.channelLabel(record) ?? NO_CHANNEL_LABEL,
      // The release also writes the call's task, so tasks wrap the upstream call (defined below).
      execute: (record): Promise<CallToolResult> => executeApproved(record),
    });
    const tasks: TaskService = new TaskService({
      tasks: new TaskStore(redis, config.redis.prefix),
      approvals,
      approvalStore: store,
      channelLabel: (record) => directory?.channelLabel(record) ?? NO_CHANNEL_LABEL,
      logger,
      subscriber: () => createQueueConnection(url, config.redis.cluster, 'airlock-task-watch'),
      openCall: (server) => sessions.modern.open({ server, notify: () => {} }),
    });
    // Built below, with the replica bus; an approved call before that asks its long poll nothing.
    const late: { relay?: InputRelay } = {};
    const shutdown = new AbortController();
    // The approved call registers with this replica's modern calls, so its upstream's questions find it.
    const executeApproved: (record: StoredRecord) => Promise<CallToolResult> = tasks.wrapExecute(
      approvedCalls({
        upstreams,
        calls: sessions.modern,
        longPoll: { relay: () => late.relay, store, shutdown: shutdown.signal },
      }),
    );
    const slack = directory
      ? createSlackIntegration({
          config,
          directory,
          approvals,
          store,
          grants,
          queueConnection: redis,
          blockingConnection,
          prefix: config.redis.prefix,
          logger,
          riskHints: (r) => catalogTool(r.server, r.tool)?.annotations,
          onPosted: (r, ref) =>
            audit.record({ event: 'request.notified', requestId: r.id, channel: ref.channel, ts: ref.ts }),
        })
      : undefined;
    await approvals.start();
    cleanups.push(async () => {
      await slack?.close();
      await approvals.close();
      for (const c of blocking) c.disconnect();
    });
    // Before the worker closes: an approved call waiting for the agent's answers must not hold it open.
    cleanups.push(() => tasks.close());
    cleanups.push(() =>
      shutdown.abort(new Error("Airlock shut down while the tool waited for the agent's answers")),
    );

    const outcomes = new EventEmitter<{ outcome: [CallOutcome] }>();
    const history = startHistory({
      redis,
      subscriber: () => createQueueConnection(url, config.redis.cluster, 'airlock-events'),
      prefix: config.redis.prefix,
      retentionDays: config.history.retentionDays,
      logger,
    });
    cleanups.push(() => history.close());
    outcomes.on('outcome', (o) => history.writer.record(o));
    const gateway = new Gateway({
      upstreams,
      policies,
      limits: new RateLimiter(redis, config.redis.prefix),
      approvals,
      grants,
      tasks,
      logger,
      // The answer goes out first: history, the audit line and metrics hear of the call right after it.
      onOutcome: (o) => void setImmediate(() => outcomes.emit('outcome', o)),
    });

    subscribeAudit(audit, { outcomes, approvals, policies, grants });
    const metrics = createMetrics({
      outcomes,
      approvals,
      upstreams,
      pendingCount: () => redis.zcard(store.keys.pending),
      auditFailures: () => audit.failures,
    });
    const methods = new AgentMethods({ gateway, upstreams, resources, governed, tasks });
    const bus = new ReplicaBus(
      redis,
      () => createQueueConnection(url, config.redis.cluster, 'airlock-bus'),
      config.redis.prefix,
      logger,
    );
    await bus.start();
    cleanups.push(() => bus.close());
    const relay = new InputRelay((err) => modern.toWire(err), bus);
    late.relay = relay;
    cleanups.push(relay.start());
    const modern: ModernDispatcher = new ModernDispatcher(
      methods,
      sessions.modern,
      logger,
      {
        listChanged: true,
        resourceSubscribe: () => subscribableUpstreams(upstreams, governed).length > 0,
      },
      new RequestStates(redis, config.redis.prefix),
      relay,
    );
    const createSession = (agent: string) => {
      const session = new AgentSession(agent, { methods, upstreams, logger });
      sessions.add(session);
      return session;
    };
    cleanups.push(() => sessions.closeAll());
    // 2025 sessions over HTTP live in Redis; the replica bus carries what belongs to another replica.
    const sessionStore = new SessionStore(redis, config.redis.prefix, SESSION_IDLE_MS);
    sessions.shared = { store: sessionStore, bus };
    const createShared = sharedSessionFactory(sessions, sessionStore, { methods, upstreams, logger });
    const legacy = new LegacySessions(sessionStore, bus, createShared, MAX_MCP_BODY_BYTES, logger, {
      methods,
      registry: sessions,
    });

    const airlock: Airlock = {
      config,
      gateway,
      upstreams,
      policies,
      sessions,
      redis,
      approvals,
      grants,
      createSession,
      modern,
      listens,
      stop,
    };

    if (options.listen !== false) {
      const http = await serveHttp({
        config,
        mcp: { legacy, modern, listens, logger },
        api: { approvals, grants, history: history.store, events: history.events, policies, logger },
        health: { metrics, redis, upstreams },
        ...(slack && { slack }),
        openReview,
      });
      cleanups.push(() => http.close());
      airlock.url = http.url;
    }
    // Pushed after the listener so it runs before it closes: streams end with their completion response.
    cleanups.push(() => listens.closeAll());
    await slack?.start();
    return airlock;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Audit lines from concurrent calls share one lock and fsync within this window. @defaultValue 5 ms */
const AUDIT_LINGER_MS = 5;
