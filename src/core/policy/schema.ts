import { z } from 'zod';
import { CONDITION_OPS, checkOperand, type ConditionOp } from './conditions.js';
import { tryParseDuration, tryParseWindow } from './duration.js';
import { TASK_MODES } from './types.js';
import { GRANT_SCOPES } from './types.js';

/*
 * The policy file as written: Airlock's keys plus every key of the two PolicyLayer formats
 * (the hosted `policy.json` and Intercept's YAML), so their files load unchanged. Values stay as
 * written here; compile.ts turns them into closures and milliseconds.
 */

const action = z.enum(['allow', 'deny', 'require_approval']);
/** `shadow` computes and records every decision but enforces none, for rolling out a policy safely. */
const mode = z.enum(['enforce', 'shadow']);
const text = z.string().min(1, 'must not be empty');
/** Allowed calls only; compile.ts refuses it elsewhere. */
const task = z.enum(TASK_MODES);

const duration = z.string().refine((s) => tryParseDuration(s) !== undefined, {
  message: 'expected a duration like "500ms", "50s", "15m", "1h" or "2d"',
});

const window = z.string().refine((s) => tryParseWindow(s) !== undefined, {
  message: 'expected second, minute, hour, day, or a count and unit like "30s", "5m", "2h", "1d"',
});

const limit = z.strictObject({
  counter: text,
  window,
  max: z.number().int('must be a whole number').min(1, 'must be at least 1'),
  /** @defaultValue 'grant' (per agent and tool) */
  scope: z.enum(['grant', 'agent', 'global']).optional(),
});

const SLACK_CHANNEL_ID = /^[CG][A-Z0-9]{2,}$/;

const escalationStep = z.strictObject({
  after: duration,
  approvers: z.array(text).min(1, 'list at least one approver to escalate to'),
  channel: z
    .string()
    .regex(SLACK_CHANNEL_ID, 'expected a Slack channel id like "C0123ABCD" (not a #name)')
    .optional(),
});

/** `approval.grants`: how long, and how wide, a reviewer may let matching calls run without asking. */
const grants = z.strictObject({
  max: duration,
  scopes: z
    .array(z.enum(GRANT_SCOPES))
    .min(1, `list at least one scope (${GRANT_SCOPES.join(', ')}), or leave grants out`),
});

const approval = z
  .strictObject({
    /** Slack user ids, Slack user-group ids or reviewer ids; empty or absent: any configured reviewer. */
    approvers: z.array(text).optional(),
    channel: text.optional(),
    /** @defaultValue 1 */
    min_approvals: z.number().int('must be a whole number').min(1, 'must be at least 1').optional(),
    /** @defaultValue "15m" */
    timeout: duration.optional(),
    /** @defaultValue "50s", or the timeout when shorter */
    wait: duration.optional(),
    on_timeout: z.literal('reject').optional(),
    /** @defaultValue false */
    allow_self_approval: z.boolean().optional(),
    /** Re-ping interval while pending; absent: no reminders. */
    remind: duration.optional(),
    /** Steps that add approvers (and optionally a channel) as time passes. */
    escalate: z.array(escalationStep).optional(),
    /** Absent: no grants. */
    grants: grants.optional(),
    /** A reviewer may approve with changed arguments. @defaultValue false */
    allow_edit: z.boolean().optional(),
  })
  .superRefine((a, ctx) => {
    const approvers = a.approvers ?? [];
    if (a.min_approvals !== undefined && approvers.length > 0 && a.min_approvals > approvers.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['min_approvals'],
        message: `min_approvals (${a.min_approvals}) is more than the ${approvers.length} listed approver${approvers.length === 1 ? '' : 's'}`,
      });
    }
    // Approvers before the deciding vote would be counted for arguments they never saw.
    if (a.allow_edit === true && (a.min_approvals ?? 1) > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['allow_edit'],
        message: `allow_edit needs min_approvals 1 (it is ${a.min_approvals}): with a quorum the other approvers would count for arguments they never saw`,
      });
    }
    const timeoutMs = a.timeout === undefined ? undefined : tryParseDuration(a.timeout);
    const waitMs = a.wait === undefined ? undefined : tryParseDuration(a.wait);
    const effectiveTimeout = a.timeout === undefined ? DEFAULT_TIMEOUT_MS : timeoutMs;
    if (waitMs !== undefined && effectiveTimeout !== undefined && waitMs > effectiveTimeout) {
      ctx.addIssue({
        code: 'custom',
        path: ['wait'],
        message: `wait (${a.wait}) must not exceed timeout (${a.timeout ?? '15m, the default'})`,
      });
    }
    if (effectiveTimeout !== undefined) checkFollowUps(a, effectiveTimeout, ctx);
  });

// A reminder or step at or past the deadline would never fire; steps out of order read as a mistake.
function checkFollowUps(
  a: { timeout?: string; remind?: string; escalate?: { after: string }[] },
  timeoutMs: number,
  ctx: z.core.$RefinementCtx,
): void {
  const timeout = a.timeout ?? '15m, the default';
  const remindMs = a.remind === undefined ? undefined : tryParseDuration(a.remind);
  if (remindMs !== undefined && remindMs >= timeoutMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['remind'],
      message: `remind (${a.remind}) must be shorter than timeout (${timeout}), or no reminder is ever sent`,
    });
  }
  let previous: { after: string; ms: number } | undefined;
  (a.escalate ?? []).forEach((step, i) => {
    const ms = tryParseDuration(step.after);
    if (ms === undefined) return;
    if (ms >= timeoutMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['escalate', i, 'after'],
        message: `after (${step.after}) must be shorter than timeout (${timeout}), or this step never happens`,
      });
    }
    if (previous && ms <= previous.ms) {
      ctx.addIssue({
        code: 'custom',
        path: ['escalate', i, 'after'],
        message: `after (${step.after}) must be later than the previous step's after (${previous.after})`,
      });
    }
    previous = { after: step.after, ms };
  });
}

/** Default time to a decision. */
export const DEFAULT_TIMEOUT_MS = 15 * 60_000;
/** Default time one tools/call is held open: below common client timeouts. */
export const DEFAULT_WAIT_MS = 50_000;

/** `{op: value}` for one argument path; several ops must all hold. */
const opMap = z.preprocess(
  (v, ctx) => {
    // Checked on the raw value: an object holding only unknown keys already gets "unknown key" issues.
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: `needs at least one operator: ${CONDITION_OPS.join(', ')}`,
        input: v,
      });
    }
    return v;
  },
  z
    .strictObject(
      Object.fromEntries(CONDITION_OPS.map((op) => [op, z.unknown().optional()])) as Record<
        ConditionOp,
        z.ZodOptional<z.ZodUnknown>
      >,
    )
    .superRefine((ops, ctx) => {
      for (const op of Object.keys(ops) as ConditionOp[]) {
        const problem = checkOperand(op, ops[op]);
        if (problem) ctx.addIssue({ code: 'custom', path: [op], message: problem });
      }
    }),
);

const rule = z.strictObject({
  agents: z.array(text).min(1, 'list at least one agent id, or leave agents out').optional(),
  args: z.record(text, opMap).optional(),
  /** @defaultValue the entry's action */
  action: action.optional(),
  reason: z.string().optional(),
  /** @defaultValue the entry's approval */
  approval: approval.optional(),
  /** @defaultValue the entry's limits */
  limits: z.array(limit).optional(),
  /** @defaultValue the entry's task, when this rule allows */
  task: task.optional(),
  /** @defaultValue the entry's task_after, when this rule allows */
  task_after: duration.optional(),
  // A shadowed first match would either run calls the rules after it deny, or break first-match-wins.
  mode: z
    .unknown()
    .refine(() => false, 'mode is set on the whole file or on a tool entry, not on a when rule')
    .optional(),
});

const pathConditionShape = { path: text, op: z.enum(CONDITION_OPS), value: z.unknown().optional() };

function checkConditionValue(c: { op: ConditionOp; value?: unknown }, ctx: z.core.$RefinementCtx): void {
  const problem = checkOperand(c.op, c.value);
  if (problem) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
}

/**
 * A hosted-PolicyLayer `require` / `deny_if` item: a `{path, op, value}` condition, or a bare path
 * string, read as "this argument exists".
 */
const argumentCheck = z.preprocess(
  (v) => (typeof v === 'string' ? { path: v, op: 'exists', value: true } : v),
  z.strictObject({ ...pathConditionShape, reason: z.string().optional() }).superRefine(checkConditionValue),
);

const interceptCondition = z.strictObject(pathConditionShape).superRefine((c, ctx) => {
  checkConditionValue(c, ctx);
  if (!c.path.startsWith('args.') && !c.path.startsWith('state.')) {
    ctx.addIssue({
      code: 'custom',
      path: ['path'],
      message: `path must start with "args." or "state.", got "${c.path}"`,
    });
  }
});

const RATE_LIMIT = /^([1-9]\d*)\/(minute|hour|day)$/;

/** An Intercept (PolicyLayer's open-source proxy) rule. */
const interceptRule = z
  .strictObject({
    name: text,
    /** @defaultValue "evaluate" */
    action: z.enum(['evaluate', 'deny']).optional(),
    rate_limit: z
      .string()
      .regex(RATE_LIMIT, 'expected "<count>/<window>" with window minute, hour or day, e.g. "5/hour"')
      .optional(),
    conditions: z.array(interceptCondition).optional(),
    on_deny: z.string().optional(),
    state: z
      .strictObject({
        counter: text,
        window: z.enum(['minute', 'hour', 'day']),
        increment: z.number().int().optional(),
        increment_from: z.string().optional(),
      })
      .optional(),
  })
  .superRefine((r, ctx) => {
    const hasConditions = (r.conditions?.length ?? 0) > 0;
    if (r.action === 'deny' && hasConditions) {
      ctx.addIssue({ code: 'custom', path: ['conditions'], message: 'deny rules must not have conditions' });
    }
    if (r.action === 'deny' && r.rate_limit !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['rate_limit'],
        message: 'rate_limit cannot be used with action "deny"',
      });
    }
    if (r.rate_limit !== undefined && (hasConditions || r.state !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['rate_limit'],
        message: 'rate_limit cannot be combined with conditions or state',
      });
    }
    if (r.action !== 'deny' && r.rate_limit === undefined && !hasConditions) {
      ctx.addIssue({
        code: 'custom',
        path: ['conditions'],
        message: 'evaluate rules must have at least one condition',
      });
    }
    // Airlock counts calls; silently counting calls instead of amounts would under-enforce a spend cap.
    if (r.state?.increment_from !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['state', 'increment_from'],
        message:
          "increment_from (counting an argument's value) is not supported by Airlock, whose counters count calls",
      });
    }
    if (r.state?.increment !== undefined && r.state.increment !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['state', 'increment'],
        message: 'only increment 1 is supported by Airlock, whose counters count calls',
      });
    }
  });

/** One `tools` entry. YAML's empty value (`tool:` with nothing after it) means `{}`. */
const toolEntry = z.preprocess(
  (v) => (v === null ? {} : v),
  z.strictObject({
    /** @defaultValue "allow" */
    action: action.optional(),
    reason: z.string().optional(),
    limits: z.array(limit).optional(),
    approval: approval.optional(),
    when: z.array(rule).optional(),
    task: task.optional(),
    /**
     * How long a task call runs in its request before it becomes a task: questions the tool asks and
     * (for `optional`) results it returns within it are answered in the request. @defaultValue none: a
     * task at once
     */
    task_after: duration.optional(),
    /** @defaultValue the file's mode */
    mode: mode.optional(),
    /** PolicyLayer: conditions that must all hold, else the call is denied. */
    require: z.array(argumentCheck).optional(),
    /** PolicyLayer: conditions any one of which denies the call. */
    deny_if: z.array(argumentCheck).optional(),
    /** Intercept: rules that must all pass. */
    rules: z.array(interceptRule).optional(),
  }),
);

/** The whole policy file for one upstream server. */
export const policyFileSchema = z.strictObject({
  version: z.union([z.literal('1'), z.literal(1)], { error: 'version must be "1"' }),
  /** Editor schema hint; ignored. */
  $schema: z.string().optional(),
  /** Free text; ignored. */
  description: z.string().optional(),
  /** @defaultValue "deny" */
  default: action.optional(),
  /** @defaultValue "enforce" */
  mode: mode.optional(),
  /** Tool names or globs removed from tools/list and denied at call time. */
  hide: z.array(text).optional(),
  all_tools: z.strictObject({ limits: z.array(limit).optional() }).optional(),
  tools: z.record(text, toolEntry).optional(),
});

/** A policy file after shape validation. */
export type PolicyFile = z.output<typeof policyFileSchema>;
/** One `tools` entry after shape validation. */
export type ToolEntryInput = PolicyFile extends { tools?: Record<string, infer E> } ? E : never;
/** One `when` rule after shape validation. */
export type RuleInput = z.output<typeof rule>;
/** One limit after shape validation. */
export type LimitInput = z.output<typeof limit>;
/** One approval block after shape validation. */
export type ApprovalInput = z.output<typeof approval>;
/** One `require` / `deny_if` item after shape validation. */
export type ArgumentCheckInput = z.output<typeof argumentCheck>;
/** One Intercept rule after shape validation. */
export type InterceptRuleInput = z.output<typeof interceptRule>;

/** Every key the format knows, for "did you mean" hints on unknown keys. */
export const KNOWN_KEYS: readonly string[] = [
  ...new Set([
    ...Object.keys(policyFileSchema.shape),
    'limits',
    ...Object.keys(limit.shape),
    ...Object.keys(approval.shape),
    ...Object.keys(escalationStep.shape),
    ...Object.keys(grants.shape),
    ...Object.keys(rule.shape),
    'require',
    'deny_if',
    'rules',
    'when',
    'path',
    'op',
    'value',
    'name',
    'rate_limit',
    'conditions',
    'on_deny',
    'state',
    'increment',
    'increment_from',
    ...CONDITION_OPS,
  ]),
];
