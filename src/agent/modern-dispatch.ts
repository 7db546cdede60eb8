// What a 2026-07-28 request means, once its envelope and headers passed: the method table of the
// stateless era over the era-independent AgentMethods, plus what the revision stamps on results
// (resultType, cache hints, serverInfo on server/discover). No HTTP here; modern-endpoint.ts writes it.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { RpcMessage } from '../upstream/types.js';
import type { Logger } from '../log.js';
import { toAirlockError } from '../core/errors.js';
import { clientInputUnsupported, parkedCallLost } from '../gateway/tool-error.js';
import type { CallHooks } from '../gateway/gateway.js';
import { AIRLOCK_VERSION } from '../version.js';
import type { AgentMethods, Params } from './agent-methods.js';
import type { ModernCall, ModernCalls } from './modern-calls.js';
import { isRemovedMethod } from './wire/classify.js';
import { declaresTasks, isTaskMethod, taskHandlers, tasksCapability } from './task-methods.js';
import { bindingOf, INPUT_CAPABILITY, openRetry, relayInputRequired } from './modern-input.js';
import type { PendingRef, RequestStates, StateBinding } from './request-state.js';
import type { InputRelay, RoundAnswer } from './input-relay.js';
import type { InputRequest, ParkedCall } from './pending-input.js';
import { heldQuestionsOf } from '../gateway/held-questions.js';
import type { TaskResume } from '../gateway/task-calls.js';
import { promptBinding, relayRequest, resourceBinding } from './modern-relay.js';
import { isCreateTaskResult } from '../gateway/task-calls.js';
import { isJsonObject, type ModernRequest } from './wire/envelope.js';
import {
  internalError,
  invalidParams,
  methodNotFound,
  missingRequiredClientCapability,
  type WireError,
} from './wire/errors.js';
import type { HeaderMap } from './wire/headers.js';
import { scanHeaderParams, validateParamHeaders } from './wire/param-headers.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from './wire/supported-versions.js';

/**
 * How long a client may reuse a list or discover result. Lists are filtered by policy, which may be
 * reloaded at any moment, and a client without a listen stream would not hear of it: no reuse.
 * @defaultValue 0
 */
export const MODERN_CACHE_TTL_MS = 0;

/** The `_meta` key of the server's identity on results. */
export const SERVER_INFO_META_KEY = 'io.modelcontextprotocol/serverInfo';

/** One validated modern request with what its handling needs. */
export interface ModernContext {
  readonly agent: string;
  readonly request: ModernRequest;
  /** The HTTP request's headers; absent on stdio, which has no header layer (nor `Mcp-Param-*`). */
  readonly headers?: HeaderMap;
  /** Fires when the client closes the request's stream: that is cancellation on 2026-07-28 HTTP. */
  readonly signal: AbortSignal;
  /** Sends a request-related notification (progress, log) on the request's stream. */
  readonly notify: (message: RpcMessage) => void;
  /**
   * True when `signal` fired because the channel went away rather than the client cancelling: a held
   * call's approval request then stays pending. Absent: every abort is a cancellation (HTTP).
   */
  readonly disconnected?: () => boolean;
}

/** What the listen streams can deliver, for server/discover. */
export interface ListenCapabilities {
  readonly listChanged: boolean;
  /** True when some connected upstream can send updates for a subscribed resource. */
  readonly resourceSubscribe: () => boolean;
}

/** A method's answer: a result, or a JSON-RPC error. */
export type ModernAnswer = { readonly result: Record<string, unknown> } | { readonly error: WireError };

/** The stateless era's method table. */
export class ModernDispatcher {
  constructor(
    private readonly methods: AgentMethods,
    private readonly calls: ModernCalls,
    private readonly logger: Logger,
    /** True when the transports serve `subscriptions/listen`, so list changes are advertised. */
    private readonly listens: ListenCapabilities = { listChanged: false, resourceSubscribe: () => false },
    /** Seals `requestState` for the MRTR relay. @defaultValue none: an upstream's `input_required` is refused */
    private readonly states?: RequestStates,
    /** Parks calls whose legacy upstream asks the agent something. @defaultValue none: such requests are refused */
    private readonly relay?: InputRelay,
  ) {}

  /** Turns a failure into the JSON-RPC error a request answers with (for rounds of parked calls). */
  toWire(err: unknown, method = 'tools/call'): WireError {
    const e = err as { code?: unknown; message?: unknown; data?: unknown };
    if (typeof e?.code === 'number' && Number.isInteger(e.code)) {
      const message = String(e.message).replace(/^MCP error -?\d+: /, '');
      return { code: e.code, message, ...(e.data !== undefined && { data: e.data }) };
    }
    const airlock = toAirlockError(err, 'INTERNAL');
    if (airlock.code === 'INTERNAL') this.logger.error({ err, method }, 'modern request failed');
    return internalError(airlock.code === 'INTERNAL' ? 'Internal error' : airlock.message);
  }

  /** True when the request's answer may carry notifications first, so an SSE stream is worth offering. */
  static mayStream(request: ModernRequest): boolean {
    const e = request.envelope;
    return request.method === 'tools/call' && (e.progressToken !== undefined || e.logLevel !== undefined);
  }

  /** Checks that can fail before anything runs: params shape and `Mcp-Param-*` headers. */
  precheck(ctx: ModernContext): WireError | undefined {
    const { method, params } = ctx.request;
    const field = REQUIRED_STRING[method];
    if (field !== undefined && typeof params[field] !== 'string') {
      return invalidParams(`${method} needs a string ${field}`);
    }
    if (method !== 'tools/call') return undefined;
    if (params['arguments'] !== undefined && !isJsonObject(params['arguments'])) {
      return invalidParams('tools/call arguments must be an object');
    }
    if (ctx.headers === undefined) return undefined;
    const tool = this.methods.findTool(ctx.agent, params['name'] as string);
    const scan = tool ? scanHeaderParams(tool.inputSchema) : undefined;
    return scan?.ok ? validateParamHeaders(scan.params, params['arguments'], ctx.headers) : undefined;
  }

  /** Runs the request; every failure becomes a JSON-RPC error object, never a throw. */
  handle(ctx: ModernContext): Promise<ModernAnswer> {
    const { method } = ctx.request;
    const handler = this.handlerFor(method);
    if (!handler) return Promise.resolve({ error: methodNotFound(method) });
    // Chained, not awaited: a call held for approval keeps no frame of this function while it waits. The
    // async arrow turns a handler's synchronous throw into a rejection, as the await did.
    return (async () => handler(ctx))().then(
      (result): ModernAnswer => ({ result: { ...result, resultType: result['resultType'] ?? 'complete' } }),
      (err: unknown): ModernAnswer => ({ error: this.wireError(err, ctx) }),
    );
  }

  /** The server/discover result: only the capabilities that work on this path today. */
  discover(): Record<string, unknown> {
    const f = this.methods.features();
    const instructions = this.methods.instructions();
    const changes = this.listens.listChanged ? { listChanged: true } : {};
    const subscribe = this.listens.resourceSubscribe() ? { subscribe: true } : {};
    return {
      supportedVersions: [...SUPPORTED_PROTOCOL_VERSIONS],
      capabilities: {
        tools: { ...changes },
        ...(f.prompts && { prompts: { ...changes } }),
        ...(f.resources && { resources: { ...changes, ...subscribe } }),
        ...(f.completions && { completions: {} }),
        ...(f.logging && { logging: {} }),
        ...(this.methods.tasks && { extensions: tasksCapability() }),
      },
      ...(instructions && { instructions }),
      ...cacheable(),
      _meta: { [SERVER_INFO_META_KEY]: { name: 'airlock', title: 'Airlock', version: AIRLOCK_VERSION } },
    };
  }

  private handlerFor(method: string): ((ctx: ModernContext) => Promise<Record<string, unknown>>) | undefined {
    // Removed methods fall through to -32601, and so does subscriptions/listen: its answer is a stream,
    // which the transport (listen-http.ts, stdio-front.ts) serves before a request gets here.
    if (isRemovedMethod(method)) return undefined;
    const m = this.methods;
    // Built once per request: every entry of the table below reads it.
    let features: ReturnType<AgentMethods['features']> | undefined;
    const f = () => (features ??= m.features());
    const table: Record<string, false | ((ctx: ModernContext) => Promise<Record<string, unknown>>)> = {
      'server/discover': async () => this.discover(),
      'tools/list': async (ctx) => ({ tools: m.listTools(ctx.agent), ...cacheable() }),
      'tools/call': (ctx) => this.callTool(ctx),
      'prompts/list': f().prompts && (async () => ({ ...m.listPrompts(), ...cacheable() })),
      'prompts/get': f().prompts && ((ctx) => this.getPrompt(ctx)),
      'resources/list': f().resources && (async (ctx) => cacheable(await m.listResources(ctx.signal))),
      'resources/templates/list':
        f().resources && (async (ctx) => cacheable(await m.listResourceTemplates(ctx.signal))),
      'resources/read': f().resources && ((ctx) => this.readResource(ctx)),
      'completion/complete': f().completions && ((ctx) => m.complete(forwardable(ctx), ctx.signal)),
    };
    if (m.tasks && isTaskMethod(method)) {
      const handle = taskHandlers(m.tasks)[method]!;
      return (ctx) =>
        handle({
          agent: ctx.agent,
          params: ctx.request.params,
          negotiated: declaresTasks(ctx.request.envelope.clientCapabilities),
        });
    }
    const handler = Object.hasOwn(table, method) ? table[method] : undefined;
    return handler || undefined;
  }

  private async getPrompt(ctx: ModernContext): Promise<Record<string, unknown>> {
    const params = forwardable(ctx);
    const server = this.methods.serverOfPrompt(String(params['name']));
    // An unknown prompt has nothing to relay; getPrompt answers that.
    if (server === undefined) return this.methods.getPrompt(params, ctx.signal);
    const binding = promptBinding(ctx.agent, server, params);
    return relayRequest(this.states, binding, params, ctx.request.envelope.clientCapabilities, (p, o) =>
      this.methods.getPrompt(p, ctx.signal, o),
    );
  }

  private async readResource(ctx: ModernContext): Promise<Record<string, unknown>> {
    const params = forwardable(ctx);
    const binding = resourceBinding(ctx.agent, params);
    const result = await relayRequest(
      this.states,
      binding,
      params,
      ctx.request.envelope.clientCapabilities,
      (p, o) => this.methods.forwardResource('resources/read', p, ctx.signal, o),
    );
    // Cache hints belong to complete results only.
    return result['resultType'] === 'input_required' ? result : cacheable(result);
  }

  private async callTool(ctx: ModernContext): Promise<Record<string, unknown>> {
    const { params } = ctx.request;
    const server = this.methods.serverOfTool(params['name'] as string);
    const binding = server !== undefined ? bindingOf(ctx.agent, server, params) : undefined;
    const retry = this.states ? await openRetry(this.states, params, binding) : undefined;
    // The retry of a parked call is no new call: it answers the call that runs, approved or allowed already.
    if (retry?.pending && binding) return this.resumeParked(ctx, binding, retry.pending, retry.resume);
    // A legacy upstream's questions during the call park it here until the agent's retry answers them.
    const parked = binding && this.states ? this.relay?.parked.open(ctx.agent) : undefined;
    if (!parked || !binding) return this.runCall(ctx, ctx.signal, retry?.resume);
    parked.run((signal) => this.runCall(ctx, signal, retry?.resume, parked));
    // Chained, not awaited, so that a held call keeps no frame of this function (ctx, retry) while it waits.
    const id = parked.id;
    return this.relay!.first(parked, ctx.signal, ctx.notify).then((round) =>
      this.roundAnswer(binding, id, round),
    );
  }

  /** The call through the gateway; `signal` is the request's, or the parked call's when there is one. */
  private async runCall(
    ctx: ModernContext,
    signal: AbortSignal,
    // The retry of an input_required answer is policy-checked again like any call, then resumes upstream.
    resume: TaskResume | undefined,
    parked?: ParkedCall<Record<string, unknown>>,
  ): Promise<Record<string, unknown>> {
    const { params, envelope } = ctx.request;
    const server = this.methods.serverOfTool(params['name'] as string);
    const token = envelope.progressToken;
    const states = this.states;
    const binding = server !== undefined ? bindingOf(ctx.agent, server, params) : undefined;
    const notify = (m: RpcMessage) => (parked ? parked.notify(m) : ctx.notify(m));
    const call: ModernCall = {
      server: server ?? '',
      ...(envelope.logLevel && { logLevel: envelope.logLevel }),
      notify,
      ...(parked && { onInput: (request, s) => this.askAgent(call, parked, envelope, request, s) }),
    };
    const close = server ? this.calls.open(call) : () => {};
    try {
      const answer = await this.methods.callTool(ctx.agent, forwardable(ctx), {
        signal,
        // What tells the upstream's requests during the call apart as this call's.
        onUpstream: (running) => (call.upstreamRunning = running),
        // Held calls and task-policy tools become tasks only for a request that declared the extension.
        tasks: declaresTasks(envelope.clientCapabilities),
        // The revision answers an undeclared capability with -32021; the client fixes its declaration.
        relayCapabilityErrors: true,
        // A modern upstream's questions go out to the agent, which answers them on its retry.
        ...(states && { passInputRequired: true }),
        ...(resume && { resume }),
        // On HTTP closing the stream is the client's cancellation, so a held call's approval request is cancelled.
        disconnected: ctx.disconnected ?? (() => false),
        // What the agent declared on this request is what a modern upstream may ask of it.
        clientCapabilities: envelope.clientCapabilities as CallHooks['clientCapabilities'],
        // A modern upstream logs during the call at the level this request asked for; without one, not at all.
        ...(envelope.logLevel && { logLevel: envelope.logLevel }),
        ...(token !== undefined && {
          onProgress: (p) =>
            notify({ method: 'notifications/progress', params: { ...p, progressToken: token } }),
        }),
      });
      if (isCreateTaskResult(answer)) return { ...answer };
      const result: CallToolResult = answer;
      // A held call's approved run asks: its questions, with a state that routes the retry to where it waits.
      const held = heldQuestionsOf(result);
      if (held && binding && this.relay) {
        const input = held.inputRequests as Record<string, InputRequest>;
        // An identical retry may declare less than the call that was held: it is told what it lacks.
        for (const { method } of Object.values(input)) {
          const needed = INPUT_CAPABILITY[method];
          if (needed && !isJsonObject(envelope.clientCapabilities[needed])) {
            throw missingRequiredClientCapability({ [needed]: {} });
          }
        }
        return this.roundAnswer(binding, held.parked.id, { input }, held.parked.replica);
      }
      if (states && binding && result['resultType'] === 'input_required') {
        return relayInputRequired(states, binding, result, envelope.clientCapabilities);
      }
      if (call.refusedInput) {
        // A capability the request did not declare must not be used: that is the client's -32021 to fix.
        const needed = INPUT_CAPABILITY[call.refusedInput];
        if (needed && !isJsonObject(envelope.clientCapabilities[needed])) {
          throw missingRequiredClientCapability({ [needed]: {} });
        }
        return clientInputUnsupported(params['name'] as string, call.refusedInput);
      }
      return result;
    } finally {
      close();
    }
  }

  /** A legacy upstream's request during a parked call: asked of the agent if its request declared it. */
  private askAgent(
    call: ModernCall,
    parked: ParkedCall<Record<string, unknown>>,
    envelope: ModernRequest['envelope'],
    request: RpcMessage,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const needed = INPUT_CAPABILITY[request.method];
    if (needed && !isJsonObject(envelope.clientCapabilities[needed])) {
      call.refusedInput = request.method;
      return Promise.reject(new Error(`The client did not declare ${needed}`));
    }
    return parked.ask(request, signal);
  }

  /** The agent's retry of a parked call: its answers go to the call, wherever it waits. */
  private async resumeParked(
    ctx: ModernContext,
    binding: StateBinding,
    ref: PendingRef,
    resume: TaskResume,
  ): Promise<Record<string, unknown>> {
    const answer = this.relay
      ? await this.relay.round(ref, ctx.agent, resume.inputResponses ?? {}, ctx.signal, ctx.notify)
      : ({ lost: true } as const);
    return this.roundAnswer(binding, ref.id, answer, ref.replica);
  }

  /** What a round of a parked call answers: its questions with a state naming it, or the call's end. */
  private async roundAnswer(
    binding: StateBinding,
    id: string,
    answer: RoundAnswer,
    replica = this.relay!.replica,
  ): Promise<Record<string, unknown>> {
    if ('input' in answer) {
      const requestState = await this.states!.seal(binding, undefined, { id, replica });
      return { resultType: 'input_required', inputRequests: answer.input, requestState };
    }
    if ('error' in answer) throw answer.error;
    if ('lost' in answer) return parkedCallLost(binding.tool);
    return answer.result;
  }

  private wireError(err: unknown, ctx: ModernContext): WireError {
    const e = err as { code?: unknown; message?: unknown };
    // 2026-07-28 reports a missing resource as -32602 with the URI; 2025 upstreams say -32002.
    if (e?.code === -32002 && ctx.request.method === 'resources/read') {
      return invalidParams(String(e.message), { uri: ctx.request.params['uri'] });
    }
    return this.toWire(err, ctx.request.method);
  }
}

/** Methods whose params must name their target, and the field that does. */
const REQUIRED_STRING: Readonly<Record<string, string>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

/** Cache hints for a list: private, because what an agent sees depends on its policy. */
function cacheable(result: Record<string, unknown> = {}): Record<string, unknown> {
  return { ttlMs: MODERN_CACHE_TTL_MS, cacheScope: 'private', ...result };
}

/** The params an upstream gets: the agent's own `_meta` minus the envelope, which is Airlock's to answer. */
function forwardable(ctx: ModernContext): Params {
  const { _meta: meta, ...rest } = ctx.request.params as Params;
  if (!isJsonObject(meta)) return rest;
  const kept = Object.fromEntries(
    Object.entries(meta).filter(([k]) => !k.startsWith('io.modelcontextprotocol/')),
  );
  return Object.keys(kept).length ? { ...rest, _meta: kept } : rest;
}
