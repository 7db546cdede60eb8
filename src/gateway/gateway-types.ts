// What the gateway talks to and reports, as interfaces the composition root fills in.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { CallContext, Decision, LimitSpec, TaskMode } from '../core/policy/types.js';
import type { ShadowVerdict } from '../core/policy/shadow.js';
import type { CreateTaskResult } from '../core/tasks/index.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { Logger } from '../log.js';
import type { CallHooks } from './call-hooks.js';
import type { TaskCall, TaskRun } from './task-calls.js';
import type { FirstRound } from './task-window.js';

/** Where decisions come from: the policy store (hot-reloaded) in production. */
export interface PolicySource {
  evaluate(ctx: CallContext): Decision;
  isDeniedOutright(server: string, tool: string, agent: string): boolean;
  /** The `execution.taskSupport` this agent's tools/list shows for the tool. @defaultValue none */
  taskSupport?(server: string, tool: string, agent: string): TaskMode | undefined;
}

/** Counts calls against their limits; shared across replicas through Redis. */
export interface LimitChecker {
  check(
    limits: LimitSpec[],
    /** `shadow`: count on shadow-mode counters, which enforced calls never read. */
    ctx: { agent: string; server: string; tool: string; shadow?: boolean },
  ): Promise<{ allowed: true } | { allowed: false; limit: LimitSpec; retryAfterSec: number }>;
}

/** A call that policy says needs a human decision. */
export interface HeldCall {
  requestId: string;
  agent: string;
  server: string;
  tool: string;
  args: Record<string, unknown>;
  decision: Decision;
  meta?: Record<string, unknown>;
  /** The capabilities the agent declared on the call; what the approved call's tool may ask of it. */
  clientCapabilities?: Record<string, unknown>;
  /** The agent's request takes `input_required` answers (see ApprovalRecord.inputRequired). */
  inputRequired?: true;
}

/** Holds calls for approval and returns the released result; throws AirlockError for refusals. */
export interface ApprovalGate {
  hold(call: HeldCall, hooks: CallHooks): Promise<CallToolResult>;
}

/** Turns calls into tasks; every CreateTaskResult it returns is already readable on every replica. */
export interface TaskGate {
  /** Submits the held call's approval request and returns the task bound to it. */
  hold(call: HeldCall): Promise<CreateTaskResult>;
  /**
   * Stores a task for an allowed call and runs it in the background on this replica; `first`, when
   * given, is the call's first round, already under way.
   */
  start(call: TaskCall, run: TaskRun, first?: FirstRound): Promise<CreateTaskResult>;
}

/** Finds an active grant covering a call and counts the call as its use; the grant's id, or undefined. */
export interface GrantLookup {
  useFor(call: {
    agent: string;
    server: string;
    tool: string;
    args: Record<string, unknown>;
  }): Promise<string | undefined>;
}

/** What the gateway reports about each call, for audit, history and metrics. */
export interface CallOutcome {
  requestId: string;
  agent: string;
  server: string;
  tool: string;
  rule: string;
  outcome: 'allowed' | 'denied' | 'rate_limited' | 'held' | 'invalid' | 'error';
  /** For refusals and failures: the AirlockError code. */
  code?: string;
  isError?: boolean;
  /** Denial reason from the policy. */
  reason?: string;
  /** The limit that refused the call, and when to retry. */
  counter?: string;
  retryAfter?: number;
  durationMs: number;
  /** The validated arguments, when they were valid; shared with the upstream call, so never modify them. */
  args?: Record<string, unknown>;
  /** Time spent in the upstream call (allowed calls). */
  upstreamMs?: number;
  /** The grant (`gr_…`) an allowed call ran under instead of a new approval request. */
  grant?: string;
  /** Set on the second report of a held call (its pending/rejected/expired answer); the approval record has it. */
  held?: boolean;
  /** An allowed call that only shadow mode let run: what enforcement would have done. */
  shadow?: ShadowVerdict;
}

/** Everything the gateway needs, wired by the composition root. */
export interface GatewayDeps {
  upstreams: UpstreamPool;
  policies: PolicySource;
  limits: LimitChecker;
  approvals?: ApprovalGate;
  /** Tasks for clients that negotiate the extension. @defaultValue none: every call answers in its request */
  tasks?: TaskGate;
  /** Grants that let a call needing approval run at once. @defaultValue none */
  grants?: GrantLookup;
  logger: Logger;
  onOutcome?: (outcome: CallOutcome) => void;
}

/** One agent's tools/call as the gateway receives it. */
export interface ToolCall {
  agent: string;
  name: string;
  args: unknown;
  meta?: Record<string, unknown>;
}
