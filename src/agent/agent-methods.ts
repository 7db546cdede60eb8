// The MCP methods whose meaning does not depend on the protocol era: which tools an agent sees, the
// gateway call, and where prompts, resources and completions are routed. The 2025 session (SDK Server)
// and the 2026-07-28 stateless handler both call these, so the two eras cannot drift apart.
import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { CallHooks, Gateway } from '../gateway/gateway.js';
import type { CallAnswer } from '../gateway/task-calls.js';
import type { GetTaskResult } from '../core/tasks/index.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { UpstreamRequestOptions } from '../upstream/types.js';
import type { ResourceRouter } from './resource-router.js';

/** What the era-independent methods need from the rest of Airlock. */
export interface AgentMethodsDeps {
  gateway: Gateway;
  upstreams: UpstreamPool;
  resources: ResourceRouter;
  /** False for servers with no policy file: their prompts and resources are hidden too (fail closed). */
  governed?: (server: string) => boolean;
  /** The tasks extension's methods. @defaultValue none: tasks are not offered */
  tasks?: TaskMethods;
}

/** The tasks/* methods, per agent: a task of another agent is answered like an unknown one. */
export interface TaskMethods {
  /** The task as it stands, or undefined when the agent has no such task. */
  get(id: string, agent: string): Promise<GetTaskResult | undefined>;
  /** Delivers answers to the task's questions; false when the agent has no such task. */
  update(id: string, agent: string, inputResponses: Record<string, unknown>): Promise<boolean>;
  /** False when the agent has no such task; an already finished one stays as it is. */
  cancel(id: string, agent: string): Promise<boolean>;
}

/** What a 2026-07-28 request passes upstream for the MRTR relay (see modern-relay.ts). */
export type RelayOptions = Pick<UpstreamRequestOptions, 'allowInputRequired' | 'clientCapabilities'>;

/** Request params as they arrive, after the era's own envelope or schema checks. */
export type Params = Record<string, unknown>;

/** Which optional server features at least one governed, connected upstream has. */
export interface UpstreamFeatures {
  prompts: boolean;
  resources: boolean;
  completions: boolean;
  logging: boolean;
}

/** The era-independent method handling, one instance per Airlock. */
export class AgentMethods {
  private readonly governed: (server: string) => boolean;

  constructor(private readonly deps: AgentMethodsDeps) {
    this.governed = deps.governed ?? (() => true);
  }

  /** tools/list: the tools policy does not deny this agent outright; see Gateway.listTools for `o`. */
  listTools(agent: string, o: { taskSupport?: boolean } = {}): Tool[] {
    return this.deps.gateway.listTools(agent, o);
  }

  /** The exposed tool `name` as this agent may see it, for schema-dependent checks (Mcp-Param-*). */
  findTool(agent: string, name: string): Tool | undefined {
    return this.deps.gateway.findTool(agent, name);
  }

  /** The upstream server a tool name routes to, if any. */
  serverOfTool(name: string): string | undefined {
    return this.deps.upstreams.resolveTool(name)?.server;
  }

  /**
   * tools/call through the gateway pipeline (policy, limits, approvals, history, audit). With `hooks.tasks`
   * (the client negotiated the tasks extension) a held or task-policy call answers with a task.
   */
  callTool(agent: string, params: Params, hooks: CallHooks): Promise<CallAnswer> {
    const meta = params['_meta'] as Record<string, unknown> | undefined;
    return this.deps.gateway.callToolOrTask(
      { agent, name: String(params['name']), args: params['arguments'], ...(meta && { meta }) },
      hooks,
    );
  }

  /** The tasks extension's methods, when this Airlock offers tasks. */
  get tasks(): TaskMethods | undefined {
    return this.deps.tasks;
  }

  /** prompts/list across governed upstreams. */
  listPrompts(): { prompts: unknown[] } {
    return {
      prompts: this.deps.upstreams
        .exposedPrompts()
        .filter((p) => this.governed(p.server))
        .map((p) => p.prompt),
    };
  }

  /** The upstream server a prompt name routes to, if this agent may get it. */
  serverOfPrompt(name: string): string | undefined {
    const found = this.deps.upstreams.resolvePrompt(name);
    return found && this.governed(found.server) ? found.server : undefined;
  }

  /** prompts/get, sent to the upstream that owns the prompt under its own name. */
  async getPrompt(
    params: Params,
    signal?: AbortSignal,
    options: RelayOptions = {},
  ): Promise<Record<string, unknown>> {
    const target = this.promptTarget(String(params['name']));
    return this.deps.upstreams
      .get(target.server)!
      .request({ method: 'prompts/get', params: { ...params, name: target.prompt } }, { signal, ...options });
  }

  /** completion/complete, routed by its ref to the prompt's or the resource's upstream. */
  async complete(params: Params, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const ref = (params['ref'] ?? {}) as Record<string, unknown>;
    const method = 'completion/complete';
    if (ref['type'] === 'ref/prompt') {
      const target = this.promptTarget(String(ref['name']));
      const forwarded = { ...params, ref: { ...ref, name: target.prompt } };
      return this.deps.upstreams.get(target.server)!.request({ method, params: forwarded }, { signal });
    }
    return this.deps.resources.forward(String(ref['uri']), { method, params }, signal);
  }

  /** resources/list across every governed upstream that has resources. */
  listResources(signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.deps.resources.listResources(signal);
  }

  /** resources/templates/list across every governed upstream that has resources. */
  listResourceTemplates(signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.deps.resources.listTemplates(signal);
  }

  /** resources/read (and other per-URI requests), sent to the upstream that owns the URI. */
  forwardResource(
    method: string,
    params: Params,
    signal?: AbortSignal,
    options: RelayOptions = {},
  ): Promise<Record<string, unknown>> {
    return this.deps.resources.forward(String(params['uri']), { method, params }, signal, options);
  }

  /** resources/subscribe or unsubscribe for one agent session (`holder`), routed by URI. */
  resourceSubscription(
    method: 'resources/subscribe' | 'resources/unsubscribe',
    uri: string,
    holder: string,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    return this.deps.resources.subscription(method, uri, holder, signal);
  }

  /** Ends every resource subscription of one agent session. */
  releaseResources(holder: string): void {
    this.deps.resources.release(holder);
  }

  /** Instructions of every upstream, joined, for the handshake or server/discover. */
  instructions(): string | undefined {
    const parts = this.deps.upstreams
      .list()
      .map((u) => u.instructions)
      .filter((x): x is string => Boolean(x));
    return parts.length ? parts.join('\n\n') : undefined;
  }

  /** Features some governed upstream offers now, so a stateless client is told only what works. */
  features(): UpstreamFeatures {
    const ready = this.deps.upstreams
      .list()
      .filter((u) => u.state === 'ready' && this.governed(u.name))
      .map((u) => u.capabilities ?? {});
    return {
      prompts: ready.some((c) => c.prompts),
      resources: ready.some((c) => c.resources),
      completions: ready.some((c) => c.completions),
      logging: ready.some((c) => c.logging),
    };
  }

  private promptTarget(name: string): { server: string; prompt: string } {
    const found = this.deps.upstreams.resolvePrompt(name);
    if (!found || !this.governed(found.server)) {
      throw new McpError(ErrorCode.InvalidParams, `Unknown prompt "${name}"`);
    }
    return found;
  }
}
