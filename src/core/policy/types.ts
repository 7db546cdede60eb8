/** What a policy decides for one tool call. */
export type PolicyAction = 'allow' | 'deny' | 'require_approval';

/** The values of a tool entry's or rule's `task` key. */
export const TASK_MODES = ['optional', 'required'] as const;

/** Whether an allowed call may (`optional`) or must (`required`) run as an MCP task. */
export type TaskMode = (typeof TASK_MODES)[number];
/** Whether a policy's decisions are enforced, or only computed and recorded (`shadow`). */
export type PolicyMode = 'enforce' | 'shadow';

/** Who shares a rate-limit counter. */
export type LimitScope = 'grant' | 'agent' | 'global';

/** A compiled rate limit: `max` calls per sliding `windowMs`. */
export interface LimitSpec {
  counter: string;
  /** The window as written in the policy (`minute`, `30s`), for messages. */
  window: string;
  windowMs: number;
  max: number;
  scope: LimitScope;
}

/** A compiled approval requirement; durations already in milliseconds. */
export interface ApprovalSpec {
  /** Slack user ids (U…/W…), Slack user-group ids (S…) or reviewer ids from the config. */
  approvers: string[];
  channel?: string;
  minApprovals: number;
  timeoutMs: number;
  waitMs: number;
  onTimeout: 'reject';
  allowSelfApproval: boolean;
  /** A reviewer may approve with changed arguments (checked again against policy and the tool's schema); absent: no. */
  allowEdit?: boolean;
  /** Re-ping the approvers this often while the request is pending; absent: no reminders. */
  remindMs?: number;
  /** Escalation steps, `afterMs` strictly increasing and below `timeoutMs`. */
  escalate?: EscalationSpec[];
  /** Grants a reviewer may attach to an approval; absent: no grants. */
  grants?: GrantSpec;
}

/** One compiled escalation step: after `afterMs` from creation, `approvers` may decide too. */
export interface EscalationSpec {
  afterMs: number;
  /** Added to the request's approvers; same forms as `ApprovalSpec.approvers`. */
  approvers: string[];
  /** Slack channel id the request is also posted in, with working buttons. */
  channel?: string;
}

/** Every grant scope, narrowest first: `exact` (same arguments) or `tool` (any arguments). */
export const GRANT_SCOPES = ['exact', 'tool'] as const;

/** What a grant covers besides the agent, server and tool. */
export type GrantScope = (typeof GRANT_SCOPES)[number];

/** A rule's `approval.grants`, compiled: the longest grant and the scopes offered. */
export interface GrantSpec {
  /** The longest grant as written in the policy (`8h`), for messages. */
  max: string;
  maxMs: number;
  scopes: readonly GrantScope[];
}

/** The input of one policy decision. */
export interface CallContext {
  server: string;
  tool: string;
  agent: string;
  args: Record<string, unknown>;
}

/** The outcome of evaluating a policy for one call. */
export interface Decision {
  action: PolicyAction;
  /** Which rule decided, e.g. `lab/start_vm`, `lab/capture_network_traffic#when[0]`, `lab/default`, `lab/(no policy)`. */
  rule: string;
  reason?: string;
  /** Limits to check before the call proceeds (allow and require_approval). */
  limits: LimitSpec[];
  /** Present when action is require_approval. */
  approval?: ApprovalSpec;
  /** Present only on allow: the policy's `task` key. */
  task?: TaskMode;
  /** With `task`: the policy's `task_after`, how long the call runs in its request before it becomes a task. */
  taskAfterMs?: number;
  /** `shadow`: the call runs whatever the action; the decision is only recorded. Absent: enforce. */
  mode?: 'shadow';
}

/** One problem found in a policy file; `path` is a JSON path such as `$.tools.start_vm.approval.timeout`. */
export interface PolicyIssue {
  file: string;
  path: string;
  message: string;
}
