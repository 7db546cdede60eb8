import type { CompiledEntry, CompiledPolicy, CompiledRule, Guard, Outcome } from './compiled-policy.js';
import {
  allOf,
  compileAgents,
  compileComparison,
  describeCondition,
  type ArgsPredicate,
  type ConditionOp,
} from './conditions.js';
import { tryParseWindow } from './duration.js';
import { compareGlobSpecificity, compileGlob, isGlob } from './glob.js';
import { zodIssuesToPolicyIssues } from './issues.js';
import { formatJsonPath } from '../json-path.js';
import { PolicyError } from './policy-error.js';
import { compileApproval } from './compile-approval.js';
import {
  policyFileSchema,
  type ApprovalInput,
  type ArgumentCheckInput,
  type InterceptRuleInput,
  type LimitInput,
  type PolicyFile,
  type RuleInput,
  type ToolEntryInput,
} from './schema.js';
import type { LimitScope, LimitSpec, PolicyAction, PolicyIssue } from './types.js';
import { compileTask, type TaskKeys, type TaskOutcome } from './compile-task.js';

/**
 * Validates a parsed policy file and compiles it. Throws PolicyError listing every issue found,
 * each with the file and a JSON path such as `$.tools.start_vm.approval.timeout`.
 */
export function parsePolicy(value: unknown, file: string): CompiledPolicy {
  if (value === null || value === undefined) {
    throw new PolicyError([{ file, path: '$', message: 'the policy file is empty' }]);
  }
  const parsed = policyFileSchema.safeParse(value);
  if (!parsed.success) throw new PolicyError(zodIssuesToPolicyIssues(parsed.error.issues, value, file));
  const compiler = new Compiler(file, parsed.data);
  const policy = compiler.compile(value);
  if (compiler.issues.length > 0) throw new PolicyError(compiler.issues);
  return policy;
}

const NO_LIMITS: readonly LimitSpec[] = Object.freeze([]);

/** Holds the state of one compilation: issues found so far and counters seen, for consistency checks. */
class Compiler {
  readonly issues: PolicyIssue[] = [];
  /** `scope|counter` (plus the entry key for grant scope) → where it was first seen, with its window. */
  private readonly counters = new Map<string, { windowMs: number; window: string; path: string }>();
  private globalLimits: readonly LimitSpec[] = NO_LIMITS;

  constructor(
    private readonly file: string,
    private readonly input: PolicyFile,
  ) {}

  compile(raw: unknown): CompiledPolicy {
    const input = this.input;
    const tools = input.tools ?? {};
    const globalGuards: Guard[] = [];
    const globalLimits: LimitSpec[] = [];
    // PolicyLayer's all_tools limits count every call of one grant (one agent's credential), across tools.
    (input.all_tools?.limits ?? []).forEach((l, i) => {
      globalLimits.push(
        this.limit(l, ['all_tools', 'limits', i], '*', l.scope === 'global' ? 'global' : 'agent'),
      );
    });
    const star = tools['*'];
    // Intercept's `"*"` holds rules applied to every call in addition to the tool's own; it is not a catch-all.
    const starIsIntercept = star !== undefined && star.rules !== undefined && onlyKey(star, 'rules');
    if (starIsIntercept) {
      const compiled = this.interceptRules(star.rules ?? [], '*', ['tools', '*', 'rules']);
      globalGuards.push(...compiled.guards);
      globalLimits.push(...compiled.limits);
    }
    this.globalLimits = Object.freeze(globalLimits);

    const exact = new Map<string, CompiledEntry>();
    const globs: { key: string; match: (tool: string) => boolean; entry: CompiledEntry }[] = [];
    for (const [key, entry] of Object.entries(tools)) {
      if (key === '*' && starIsIntercept) continue;
      const compiled = this.entry(key, entry);
      if (isGlob(key)) globs.push({ key, match: compileGlob(key), entry: compiled });
      else exact.set(key, compiled);
    }
    globs.sort((a, b) => compareGlobSpecificity(a.key, b.key));

    const defaultAction: PolicyAction = input.default ?? 'deny';
    const hide = input.hide ?? [];
    const hiddenExact = new Set(hide.filter((h) => !isGlob(h)));
    const hiddenGlobs = hide.filter(isGlob).map(compileGlob);
    return Object.freeze({
      file: this.file,
      defaultAction,
      mode: input.mode ?? 'enforce',
      raw,
      exact,
      globs: Object.freeze(globs),
      hidden:
        hide.length === 0
          ? () => false
          : (tool: string) => hiddenExact.has(tool) || hiddenGlobs.some((g) => g(tool)),
      globalGuards: Object.freeze(globalGuards),
      defaultOutcome: this.outcome(defaultAction, 'default', undefined, NO_LIMITS, undefined),
    });
  }

  private entry(key: string, entry: ToolEntryInput): CompiledEntry {
    const base = ['tools', key];
    const guards: Guard[] = [];
    (entry.deny_if ?? []).forEach((c, i) =>
      guards.push(this.argumentGuard(c, `${key}#deny_if[${i}]`, 'deny_if')),
    );
    (entry.require ?? []).forEach((c, i) =>
      guards.push(this.argumentGuard(c, `${key}#require[${i}]`, 'require')),
    );
    const intercept = this.interceptRules(entry.rules ?? [], key, [...base, 'rules']);
    guards.push(...intercept.guards);

    const action: PolicyAction = entry.action ?? 'allow';
    const ownLimits = this.limits(entry.limits, [...base, 'limits'], key);
    const extraLimits = intercept.limits;
    const rules: CompiledRule[] = (entry.when ?? []).map((rule, i) =>
      this.rule(rule, i, key, entry, action, ownLimits, extraLimits),
    );
    return Object.freeze({
      key,
      guards: Object.freeze(guards),
      rules: Object.freeze(rules),
      outcome: this.outcome(
        action,
        key,
        entry.reason,
        [...ownLimits, ...extraLimits],
        entry.approval,
        this.task(entry, undefined, action, base),
      ),
      ...(entry.mode === undefined ? {} : { mode: entry.mode }),
    });
  }

  private rule(
    rule: RuleInput,
    i: number,
    key: string,
    entry: ToolEntryInput,
    entryAction: PolicyAction,
    entryLimits: readonly LimitSpec[],
    extraLimits: readonly LimitSpec[],
  ): CompiledRule {
    const path = ['tools', key, 'when', i];
    const action = rule.action ?? entryAction;
    // The entry's reason explains the entry's action; it would mislead on a rule that decides otherwise.
    const reason = rule.reason ?? (action === entryAction ? entry.reason : undefined);
    const limits =
      rule.limits === undefined ? entryLimits : this.limits(rule.limits, [...path, 'limits'], key);
    const preds: ArgsPredicate[] = [];
    for (const [argPath, ops] of Object.entries(rule.args ?? {})) {
      for (const op of Object.keys(ops) as ConditionOp[]) preds.push(compileComparison(argPath, op, ops[op]));
    }
    return Object.freeze({
      ...(rule.agents === undefined ? {} : { agents: compileAgents(rule.agents) }),
      ...(preds.length === 0 ? {} : { args: allOf(preds) }),
      outcome: this.outcome(
        action,
        `${key}#when[${i}]`,
        reason,
        [...limits, ...extraLimits],
        rule.approval ?? entry.approval,
        // An inherited task follows the rule only when it allows; written on the rule, it must fit.
        this.task(rule, entry, action, path),
      ),
    });
  }

  private outcome(
    action: PolicyAction,
    rule: string,
    reason: string | undefined,
    limits: readonly LimitSpec[],
    approval: ApprovalInput | undefined,
    task: TaskOutcome = {},
  ): Outcome {
    const all = action === 'deny' ? NO_LIMITS : Object.freeze([...limits, ...this.globalLimits]);
    return Object.freeze({
      action,
      rule,
      ...(reason === undefined ? {} : { reason }),
      limits: all,
      ...(action === 'require_approval' ? { approval: compileApproval(approval) } : {}),
      ...(action === 'allow' ? task : {}),
    });
  }

  private task(
    written: TaskKeys,
    inherited: TaskKeys | undefined,
    action: PolicyAction,
    path: PropertyKey[],
  ) {
    return compileTask(written, inherited, action, (key, message) => this.issue([...path, key], message));
  }

  private limits(
    input: readonly LimitInput[] | undefined,
    path: PropertyKey[],
    key: string,
  ): readonly LimitSpec[] {
    if (!input || input.length === 0) return NO_LIMITS;
    return Object.freeze(input.map((l, i) => this.limit(l, [...path, i], key, l.scope ?? 'grant')));
  }

  private limit(l: LimitInput, path: PropertyKey[], key: string, scope: LimitScope): LimitSpec {
    const windowMs = tryParseWindow(l.window) as number;
    this.checkCounter(scope, l.counter, key, windowMs, l.window, path);
    return Object.freeze({ counter: l.counter, window: l.window, windowMs, max: l.max, scope });
  }

  /** A counter is one sliding window in Redis, so every limit sharing it must agree on the window. */
  private checkCounter(
    scope: LimitScope,
    counter: string,
    key: string,
    windowMs: number,
    window: string,
    path: PropertyKey[],
  ) {
    const id = scope === 'grant' ? `grant|${key}|${counter}` : `${scope}|${counter}`;
    const seen = this.counters.get(id);
    const here = formatJsonPath(path);
    if (!seen) {
      this.counters.set(id, { windowMs, window, path: here });
    } else if (seen.windowMs !== windowMs) {
      this.issue(
        [...path, 'window'],
        `counter "${counter}" (scope ${scope}) already has window "${seen.window}" at ${seen.path}; limits sharing a counter need the same window`,
      );
    }
  }

  private argumentGuard(c: ArgumentCheckInput, rule: string, kind: 'require' | 'deny_if'): Guard {
    const path = stripArgs(c.path);
    const op = c.op;
    const test = compileComparison(path, op, c.value);
    const description = describeCondition(path, op, c.value);
    if (kind === 'deny_if') {
      return Object.freeze({
        rule,
        denies: test,
        reason: c.reason ?? `Denied because ${description}`,
        unconditional: false,
      });
    }
    return Object.freeze({
      rule,
      denies: (args: Record<string, unknown>) => !test(args),
      reason: c.reason ?? `Requires ${description}`,
      unconditional: false,
    });
  }

  /**
   * Maps Intercept rules onto Airlock: `deny` rules and `args.*` conditions become guards;
   * `rate_limit` and `lte`/`lt` conditions on `state.*` counters become global limits, since
   * Intercept's counters are per tool and shared by every caller.
   */
  private interceptRules(rules: readonly InterceptRuleInput[], key: string, path: PropertyKey[]) {
    const guards: Guard[] = [];
    const limits: LimitSpec[] = [];
    const scopeName = key === '*' ? '_global' : key;
    const stateWindows = new Map<string, string>();
    for (const r of rules) if (r.state) stateWindows.set(r.state.counter, r.state.window);

    rules.forEach((r, i) => {
      const rulePath = [...path, i];
      const id = `${key}#rules[${i}]`;
      if (r.action === 'deny') {
        guards.push(
          Object.freeze({
            rule: id,
            denies: () => true,
            reason: r.on_deny ?? `Denied by rule "${r.name}"`,
            unconditional: true,
          }),
        );
        return;
      }
      if (r.rate_limit !== undefined) {
        const [count, window] = r.rate_limit.split('/') as [string, string];
        limits.push(
          this.limit(
            { counter: `${scopeName}._rate_${window}`, window, max: Number(count) },
            [...rulePath, 'rate_limit'],
            key,
            'global',
          ),
        );
      }
      const preds: ArgsPredicate[] = [];
      const described: string[] = [];
      (r.conditions ?? []).forEach((c, j) => {
        const condPath = [...rulePath, 'conditions', j];
        if (c.path.startsWith('state.')) {
          const limit = this.stateLimit(c.path, c.op, c.value, scopeName, stateWindows, condPath);
          if (limit) limits.push(limit);
          return;
        }
        const argPath = stripArgs(c.path);
        preds.push(compileComparison(argPath, c.op, c.value));
        described.push(describeCondition(argPath, c.op, c.value));
      });
      if (preds.length > 0) {
        const holds = allOf(preds);
        guards.push(
          Object.freeze({
            rule: id,
            denies: (args: Record<string, unknown>) => !holds(args),
            reason: r.on_deny ?? `Rule "${r.name}" requires ${described.join(' and ')}`,
            unconditional: false,
          }),
        );
      }
    });
    return { guards, limits };
  }

  private stateLimit(
    statePath: string,
    op: ConditionOp,
    value: unknown,
    scopeName: string,
    stateWindows: ReadonlyMap<string, string>,
    path: PropertyKey[],
  ): LimitSpec | undefined {
    const [, scope, counter, ...rest] = statePath.split('.');
    if (scope !== scopeName || counter === undefined || rest.length > 0) {
      this.issue([...path, 'path'], `expected state.${scopeName}.<counter>, got "${statePath}"`);
      return undefined;
    }
    const window = stateWindows.get(counter);
    if (window === undefined) {
      this.issue(
        [...path, 'path'],
        `condition references ${statePath} but no rule for this tool has a state block with counter "${counter}"`,
      );
      return undefined;
    }
    if ((op !== 'lte' && op !== 'lt') || typeof value !== 'number') {
      this.issue([...path, 'op'], 'Airlock supports only "lte" and "lt" with a number on state counters');
      return undefined;
    }
    const max = op === 'lte' ? Math.floor(value) : Math.ceil(value) - 1;
    if (max < 1) {
      this.issue([...path, 'value'], 'this limit never allows a call; use action "deny" instead');
      return undefined;
    }
    return this.limit({ counter: `${scopeName}.${counter}`, window, max }, path, scopeName, 'global');
  }

  private issue(path: PropertyKey[], message: string): void {
    this.issues.push({ file: this.file, path: formatJsonPath(path), message });
  }
}

/** PolicyLayer paths may be written `args.amount`; Airlock's are relative to the arguments already. */
function stripArgs(path: string): string {
  return path.startsWith('args.') ? path.slice(5) : path;
}

function onlyKey(obj: object, key: string): boolean {
  const keys = Object.keys(obj);
  return keys.length === 1 && keys[0] === key;
}
