import type { CompiledEntry, CompiledPolicy, Guard, Outcome } from './compiled-policy.js';
import { UncheckableArgumentError } from './conditions.js';
import type { CallContext, Decision, PolicyAction, PolicyMode } from './types.js';

const EMPTY_ARGS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * Decides one call. Order: no policy → deny; `hide` → deny; the tool's entry (exact key, else the
 * most specific glob, else `default`); within an entry, guards (`deny_if`, `require`, Intercept
 * `rules`) first, then the first `when` rule that holds, then the entry's own action; finally
 * policy-wide guards (Intercept `"*"` rules) on anything not already denied. The returned
 * `limits` array and `approval` object are shared and frozen: copy before changing them. In shadow
 * mode (the tool entry's `mode`, else the file's) the decision carries `mode: "shadow"`.
 */
export function evaluate(policy: CompiledPolicy | undefined, ctx: CallContext): Decision {
  const { server } = ctx;
  // No policy file is fail closed, never shadowed: shadow must be written explicitly.
  if (policy === undefined) {
    return {
      action: 'deny',
      rule: `${server}/(no policy)`,
      reason: `No policy file for server ${server}`,
      limits: [],
    };
  }
  const entry = findEntry(policy, ctx.tool);
  const decision = decide(policy, entry, ctx);
  return modeOf(policy, entry) === 'shadow' ? { ...decision, mode: 'shadow' } : decision;
}

/** The mode that applies to a tool: its entry's, else the file's. */
function modeOf(policy: CompiledPolicy, entry: CompiledEntry | undefined): PolicyMode {
  return entry?.mode ?? policy.mode;
}

function decide(policy: CompiledPolicy, entry: CompiledEntry | undefined, ctx: CallContext): Decision {
  const { server, tool } = ctx;
  if (policy.hidden(tool)) {
    return { action: 'deny', rule: `${server}/hide`, reason: `Tool ${tool} is hidden by policy`, limits: [] };
  }
  const args = ctx.args !== null && typeof ctx.args === 'object' ? ctx.args : EMPTY_ARGS;
  const outcome = entry === undefined ? policy.defaultOutcome : decideEntry(entry, ctx.agent, args);
  if ('denies' in outcome) return deny(server, outcome.rule, outcome.reason);
  if (outcome.action !== 'deny') {
    const denied = firstDenyingGuard(policy.globalGuards, args);
    if (denied !== undefined) return deny(server, denied.rule, denied.reason);
  }
  if (entry === undefined && outcome.action === 'deny') {
    return deny(
      server,
      'default',
      `Tool ${tool} is not listed in this server's policy, whose default is deny`,
    );
  }
  return toDecision(server, outcome);
}

/** Returns the guard that denied, or the outcome that decided. */
function decideEntry(entry: CompiledEntry, agent: string, args: Record<string, unknown>): Outcome | Guard {
  const denied = firstDenyingGuard(entry.guards, args);
  if (denied !== undefined) return denied;
  const rules = entry.rules;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.agents !== undefined && !r.agents(agent)) continue;
    if (r.args !== undefined) {
      try {
        if (!r.args(args)) continue;
      } catch (err) {
        return uncheckable(err, r.outcome.rule);
      }
    }
    return r.outcome;
  }
  return entry.outcome;
}

function firstDenyingGuard(guards: readonly Guard[], args: Record<string, unknown>): Guard | undefined {
  for (let i = 0; i < guards.length; i++) {
    const g = guards[i]!;
    try {
      if (g.denies(args)) return g;
    } catch (err) {
      return uncheckable(err, g.rule);
    }
  }
  return undefined;
}

/** An argument too long to check safely denies the call (fail closed), attributed to the rule that tried. */
function uncheckable(err: unknown, rule: string): Guard {
  if (!(err instanceof UncheckableArgumentError)) throw err;
  return { rule, reason: err.message, denies: () => true, unconditional: false };
}

/** The entry for a tool: its exact key, else the most specific matching glob. */
export function findEntry(policy: CompiledPolicy, tool: string): CompiledEntry | undefined {
  const exact = policy.exact.get(tool);
  if (exact !== undefined) return exact;
  const globs = policy.globs;
  for (let i = 0; i < globs.length; i++) {
    const g = globs[i]!;
    if (g.match(tool)) return g.entry;
  }
  return undefined;
}

function toDecision(server: string, o: Outcome): Decision {
  const d: Decision = {
    action: o.action,
    rule: `${server}/${o.rule}`,
    limits: o.limits as Decision['limits'],
  };
  if (o.reason !== undefined) d.reason = o.reason;
  if (o.approval !== undefined) d.approval = o.approval;
  if (o.task !== undefined) d.task = o.task;
  if (o.taskAfterMs !== undefined) d.taskAfterMs = o.taskAfterMs;
  return d;
}

function deny(server: string, rule: string, reason: string): Decision {
  return { action: 'deny', rule: `${server}/${rule}`, reason, limits: [] };
}

/**
 * True when every outcome this agent could get for the tool is deny, whatever the arguments; such
 * tools are left out of tools/list. Conservative: a rule that depends on arguments counts as
 * possibly matching and possibly not.
 */
export function isDeniedOutright(
  policy: CompiledPolicy | undefined,
  _server: string,
  tool: string,
  agent: string,
): boolean {
  if (policy === undefined) return true;
  // A shadowed tool runs whatever policy would decide, so the agent must be able to see it.
  if (modeOf(policy, findEntry(policy, tool)) === 'shadow') return false;
  if (policy.hidden(tool)) return true;
  if (policy.globalGuards.some((g) => g.unconditional)) return true;
  const entry = findEntry(policy, tool);
  if (entry === undefined) return policy.defaultAction === 'deny';
  if (entry.guards.some((g) => g.unconditional)) return true;
  const possible = new Set<PolicyAction>(possibleOutcomes(entry, agent).map((o) => o.action));
  return possible.size === 1 && possible.has('deny');
}

/**
 * Every outcome of an entry's rules and its own that this agent could get, whatever the arguments
 * (guards aside): a rule that depends on arguments may match or not; one that does not ends the list.
 */
export function possibleOutcomes(entry: CompiledEntry, agent: string): Outcome[] {
  const out: Outcome[] = [];
  for (const r of entry.rules) {
    if (r.agents !== undefined && !r.agents(agent)) continue;
    out.push(r.outcome);
    if (r.args === undefined) return out;
  }
  out.push(entry.outcome);
  return out;
}
