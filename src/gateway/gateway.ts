import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  AirlockError,
  ERROR_CODES,
  toAirlockError,
  type AirlockErrorCode,
  type DecisionStatus,
} from '../core/errors.js';
import type { Decision } from '../core/policy/types.js';
import type { ShadowVerdict } from '../core/policy/shadow.js';
import { newRequestId } from '../core/approval/request-id.js';
import { refusal, sentence, toToolError } from './tool-error.js';
import { validateArguments } from './arguments.js';
import type { CallHooks } from './call-hooks.js';
import {
  MISSING_REQUIRED_CLIENT_CAPABILITY,
  TasksRequiredError,
  type CallAnswer,
  type TaskResume,
  type TaskRun,
} from './task-calls.js';
import { answerOrTask, type FirstRound } from './task-window.js';

export type { CallHooks } from './call-hooks.js';
export type {
  ApprovalGate,
  CallOutcome,
  GatewayDeps,
  GrantLookup,
  HeldCall,
  LimitChecker,
  PolicySource,
  TaskGate,
  ToolCall,
} from './gateway-types.js';
import type { CallOutcome, GatewayDeps, ToolCall } from './gateway-types.js';

/**
 * The call pipeline: resolve the tool, check arguments, ask the policy, count limits, then call upstream
 * or hold for approval. Every refusal leaves here as a tool error; nothing here knows the transport.
 */
export class Gateway {
  constructor(private readonly deps: GatewayDeps) {}

  /**
   * Tools this agent may see: everything not denied outright by policy. `taskSupport: false` leaves out
   * Airlock's `execution.taskSupport`, for a client that cannot run tasks. @defaultValue shown
   */
  listTools(agent: string, o: { taskSupport?: boolean } = {}) {
    const { upstreams, policies } = this.deps;
    return upstreams
      .exposedTools()
      .filter((t) => {
        const target = upstreams.resolveTool(t.tool.name);
        return target !== undefined && !policies.isDeniedOutright(target.server, target.tool, agent);
      })
      .map((t) => {
        const target = upstreams.resolveTool(t.tool.name)!;
        // Only Airlock's own tasks count: an upstream's task support is not passed through.
        const support =
          o.taskSupport === false ? undefined : policies.taskSupport?.(target.server, target.tool, agent);
        const { taskSupport: _upstream, ...execution } = t.tool.execution ?? {};
        const rest = Object.keys(execution).length > 0 ? { execution } : {};
        const { execution: _all, ...tool } = t.tool;
        return support
          ? { ...tool, execution: { ...execution, taskSupport: support } }
          : { ...tool, ...rest };
      });
  }

  /** The exposed tool `name` if this agent may see it (as in listTools), without listing every tool. */
  findTool(agent: string, name: string) {
    const { upstreams, policies } = this.deps;
    const target = upstreams.resolveTool(name);
    if (!target || policies.isDeniedOutright(target.server, target.tool, agent)) return undefined;
    return upstreams.exposedTool(name);
  }

  /** Runs one tools/call through policy, never as a task; always resolves to a tool result. */
  async callTool(call: ToolCall, hooks: CallHooks): Promise<CallToolResult> {
    return (await this.callToolOrTask(call, { ...hooks, tasks: false })) as CallToolResult;
  }

  /**
   * Runs one tools/call through policy; resolves to a tool result, or to a CreateTaskResult when the
   * client negotiated tasks (`hooks.tasks`) and the call is held or its policy says `task`. Throws only
   * -32021, for a `task: required` tool called without the extension.
   */
  async callToolOrTask(call: ToolCall, hooks: CallHooks): Promise<CallAnswer> {
    const started = performance.now();
    const requestId = newRequestId();
    let rule = '';
    let server = '';
    let tool = call.name;
    let args: Record<string, unknown> | undefined;
    let held = false;
    const report = (outcome: CallOutcome['outcome'], extra: Partial<CallOutcome> = {}) =>
      this.deps.onOutcome?.({
        requestId,
        agent: call.agent,
        server,
        tool,
        rule,
        outcome,
        durationMs: performance.now() - started,
        ...(args ? { args } : {}),
        ...(held ? { held } : {}),
        ...extra,
      });
    const forward = async (
      extra: Partial<CallOutcome> = {},
      // A task's call outlives its request: it stops on the task's signal and has nobody to send progress to.
      background?: AbortSignal,
      resume?: TaskResume,
    ): Promise<CallToolResult> => {
      const upstream = this.deps.upstreams.get(server)!;
      const upstreamStarted = performance.now();
      if (!background) hooks.onUpstream?.(true);
      const result = await upstream
        .callTool(
          {
            name: tool,
            arguments: args,
            ...(call.meta ? { _meta: stripProgress(call.meta) } : {}),
            ...(background ? resume : hooks.resume),
          },
          {
            signal: background ?? hooks.signal,
            // A task asks the client itself (tasks/update), so the upstream's questions come back as the result.
            allowInputRequired: background !== undefined || hooks.passInputRequired === true,
            onprogress: background ? undefined : hooks.onProgress,
            clientCapabilities: hooks.clientCapabilities,
            ...(hooks.logLevel && { logLevel: hooks.logLevel }),
          },
        )
        .finally(() => {
          if (!background) hooks.onUpstream?.(false);
        });
      report('allowed', {
        isError: Boolean(result.isError),
        upstreamMs: performance.now() - upstreamStarted,
        ...extra,
      });
      return result;
    };
    try {
      const target = this.deps.upstreams.resolveTool(call.name);
      if (!target) {
        throw refusal('UNKNOWN_TOOL', `Unknown tool "${truncate(call.name)}"`);
      }
      server = target.server;
      tool = target.tool;
      args = validateArguments(call.args);
      const decision = this.deps.policies.evaluate({ server, tool, agent: call.agent, args });
      rule = decision.rule;
      if (decision.mode === 'shadow') {
        const shadow = await this.shadowVerdict(decision, { agent: call.agent, server, tool });
        return await forward(shadow ? { shadow } : {});
      }
      if (decision.action === 'deny') {
        const why = decision.reason ? `: ${sentence(decision.reason)}` : '.';
        throw new AirlockError('POLICY_DENIED', `Denied by policy (${server}/${tool})${why}`, {
          rule,
          reason: decision.reason,
        });
      }
      const asTask = hooks.tasks === true && this.deps.tasks !== undefined;
      if (decision.task === 'required' && !asTask) {
        report('invalid', { reason: 'runs only as a task; the client did not negotiate tasks' });
        throw new TasksRequiredError(server, tool);
      }
      if (decision.limits.length) {
        const verdict = await this.deps.limits.check(decision.limits, { agent: call.agent, server, tool });
        if (!verdict.allowed) {
          const l = verdict.limit;
          throw new AirlockError(
            'RATE_LIMITED',
            `Rate limited by policy (${server}/${tool}): limit "${l.counter}" allows ${l.max} per ${l.window} (${l.scope}); retry after ${verdict.retryAfterSec} s.`,
            { rule, retryAfter: verdict.retryAfterSec, reason: `limit ${l.counter}`, counter: l.counter },
          );
        }
      }
      // Only a require_approval outcome can be granted: a deny never gets here, and limits counted above.
      const grant =
        decision.action === 'require_approval'
          ? await this.grantFor(call.agent, server, tool, args)
          : undefined;
      if (decision.action === 'require_approval' && !grant) {
        if (!this.deps.approvals) {
          throw new AirlockError(
            'APPROVAL_UNAVAILABLE',
            `Call to ${server}/${tool} requires human approval, and approvals are not available on this gateway; it was not run.`,
            { rule },
          );
        }
        report('held');
        held = true;
        const heldCall = {
          ...{ requestId, agent: call.agent, server, tool, args, decision, meta: call.meta },
          ...(hooks.clientCapabilities && { clientCapabilities: hooks.clientCapabilities }),
          // A long poll that takes input_required answers; a task asks through the task instead.
          ...(hooks.passInputRequired === true && !asTask && { inputRequired: true as const }),
        };
        if (asTask) return await this.deps.tasks!.hold(heldCall);
        hooks.onHeld?.();
        return await this.deps.approvals.hold(heldCall, hooks);
      }
      if (asTask && decision.task !== undefined && !grant) {
        const taskCall = { requestId, agent: call.agent, server, tool };
        // Round 1 carries the agent's answers to questions asked before the task existed.
        const raw: TaskRun = (signal, resume) => forward({}, signal, resume ?? hooks.resume);
        // The request has been answered by then, so a failing background call is reported here.
        const reported = (p: Promise<CallToolResult>) =>
          p.catch((err: unknown) => {
            report('error', { code: toAirlockError(err, 'UPSTREAM_ERROR').code });
            throw err;
          });
        const run: TaskRun = (signal, resume) => reported(raw(signal, resume));
        const start = (first?: FirstRound) => this.deps.tasks!.start(taskCall, run, first);
        // Without an agent that answers questions itself, nothing can be answered in the request.
        if (decision.taskAfterMs === undefined || !hooks.passInputRequired) return await start();
        return await answerOrTask({
          run: (signal) => raw(signal),
          reported,
          start,
          mode: decision.task,
          windowMs: decision.taskAfterMs,
          signal: hooks.signal,
        });
      }
      return await forward(grant ? { grant } : {});
    } catch (err) {
      // Airlock's own -32021 crosses the wire as an error; an upstream's only where the request asks for it.
      if (err instanceof TasksRequiredError) throw err;
      const e = toAirlockError(err, 'INTERNAL');
      if (e.code === 'INTERNAL') this.deps.logger.error({ err, requestId }, 'tools/call failed');
      const d = e.details;
      report(outcomeOf(e.code), {
        code: e.code,
        ...(typeof d.reason === 'string' ? { reason: d.reason } : {}),
        ...(typeof d.counter === 'string' ? { counter: d.counter } : {}),
        ...(typeof d.retryAfter === 'number' ? { retryAfter: d.retryAfter } : {}),
      });
      if (hooks.relayCapabilityErrors && isCapabilityError(err)) throw err;
      return toToolError(e, requestId);
    }
  }

  /** A grant lookup that fails is no grant: the call is then held, which fails closed. */
  private async grantFor(agent: string, server: string, tool: string, args: Record<string, unknown>) {
    if (!this.deps.grants) return undefined;
    try {
      return await this.deps.grants.useFor({ agent, server, tool, args });
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'grant lookup failed; holding the call');
      return undefined;
    }
  }

  /**
   * What enforcement would have done, or undefined for a plain allow. Limits are counted as enforced
   * calls are (a call over the limit is not counted), on separate shadow counters so that shadowed
   * calls never use up what enforced rules allow.
   */
  private async shadowVerdict(
    d: Decision,
    ctx: { agent: string; server: string; tool: string },
  ): Promise<ShadowVerdict | undefined> {
    if (d.action === 'deny')
      return { would: 'denied', rule: d.rule, ...(d.reason ? { reason: d.reason } : {}) };
    if (d.limits.length) {
      const verdict = await this.deps.limits.check(d.limits, { ...ctx, shadow: true });
      if (!verdict.allowed) {
        const l = verdict.limit;
        const reason = `limit "${l.counter}" allows ${l.max} per ${l.window} (${l.scope})`;
        return { would: 'rate_limited', rule: d.rule, reason };
      }
    }
    if (d.action === 'require_approval') return { would: 'held', rule: d.rule };
    return undefined;
  }
}

// A call is counted the way the agent was told of it: approval answers and failures are errors of the call.
const OUTCOME_BY_DECISION: Record<DecisionStatus, CallOutcome['outcome']> = {
  denied: 'denied',
  rate_limited: 'rate_limited',
  invalid: 'invalid',
  pending: 'error',
  rejected: 'error',
  expired: 'error',
  cancelled: 'error',
  failed: 'error',
  unavailable: 'error',
};

function outcomeOf(code: AirlockErrorCode): CallOutcome['outcome'] {
  return OUTCOME_BY_DECISION[ERROR_CODES[code].decision];
}

/** The agent's progressToken is Airlock's to map; the upstream gets its own from the SDK. */
function stripProgress(meta: Record<string, unknown>): Record<string, unknown> | undefined {
  const { progressToken: _token, ...rest } = meta;
  return Object.keys(rest).length ? rest : undefined;
}

function isCapabilityError(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === MISSING_REQUIRED_CLIENT_CAPABILITY;
}

function truncate(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
