/** What a policy decides for one tool call. */
export type PolicyAction = 'allow' | 'deny' | 'require_approval';

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
  /** `shadow`: the call runs whatever the action; the decision is only recorded. Absent: enforce. */
  mode?: 'shadow';
}

/** One problem found in a policy file; `path` is a JSON path such as `$.tools.start_vm.approval.timeout`. */
export interface PolicyIssue {
  file: string;
  path: string;
  message: string;
}
