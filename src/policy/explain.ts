import { humanDuration } from '../core/human-duration.js';
import {
  evaluate,
  findEntry,
  type CallContext,
  type CompiledPolicy,
  type Decision,
  type LimitSpec,
} from '../core/policy/index.js';

/** Anything that hands out a server's compiled policy; a PolicyStore is one. */
export interface PolicySource {
  get(server: string): CompiledPolicy | undefined;
}

/** How explain found the rule that decides a call. */
export const MATCHED_BY = ['exact', 'glob', 'default', 'hide', 'no policy'] as const;

/** Why a call gets its decision, for `airlock policy explain` and POST /api/policies/explain. */
export interface Explanation {
  server: string;
  tool: string;
  agent: string;
  args: Record<string, unknown>;
  decision: Decision;
  /** The policy file consulted; undefined when the server has none. */
  file?: string;
  /** The `tools` key that matched (exact name or glob); undefined for default, hide or no policy. */
  matchedKey?: string;
  /** How the key was chosen. */
  matchedBy: (typeof MATCHED_BY)[number];
  /** The outcome in one sentence, e.g. "would be denied by lab/delete_*, shadow mode: allowed". */
  verdict: string;
}

/** The agent id explain uses when none is given. */
export const ANONYMOUS_AGENT = 'anonymous';

/** Evaluates a call and records which file and key decided it. */
export function explainCall(
  source: PolicySource,
  ctx: Omit<CallContext, 'agent'> & { agent?: string | undefined },
): Explanation {
  const call: CallContext = { ...ctx, agent: ctx.agent ?? ANONYMOUS_AGENT };
  const policy = source.get(call.server);
  const decision = evaluate(policy, call);
  const base = {
    server: call.server,
    tool: call.tool,
    agent: call.agent,
    args: call.args,
    decision,
    verdict: verdictOf(decision),
  };
  if (!policy) return { ...base, matchedBy: 'no policy' };
  if (policy.hidden(call.tool)) return { ...base, file: policy.file, matchedBy: 'hide' };
  const entry = findEntry(policy, call.tool);
  if (!entry) return { ...base, file: policy.file, matchedBy: 'default' };
  return {
    ...base,
    file: policy.file,
    matchedKey: entry.key,
    matchedBy: entry.key === call.tool ? 'exact' : 'glob',
  };
}

/** Prints an explanation as aligned, readable lines. */
export function formatExplanation(e: Explanation): string {
  const d = e.decision;
  const lines: [string, string][] = [
    ['server', e.file ? `${e.server} (${e.file})` : `${e.server} (no policy file)`],
    ['tool', e.tool],
    ['agent', e.agent],
    ['args', JSON.stringify(e.args)],
    ['matched', matchedText(e)],
    ['rule', d.rule],
    ['decision', d.action],
  ];
  // Enforced decisions read plainly from the decision line; a shadowed one says what would happen.
  if (d.mode === 'shadow') {
    lines.push(['mode', 'shadow (nothing is enforced; every call runs)'], ['verdict', e.verdict]);
  }
  if (d.reason) lines.push(['reason', d.reason]);
  if (d.action !== 'deny') {
    lines.push(['limits', d.limits.length === 0 ? 'none' : d.limits.map(limitText).join('; ')]);
  }
  const task = taskText(d);
  if (task) lines.push(['task', task]);
  if (d.taskAfterMs !== undefined) {
    const after = humanDuration(d.taskAfterMs);
    lines.push([
      'task after',
      `${after} (questions asked, and optional results ready, within ${after} are answered in the request)`,
    ]);
  }
  if (d.approval) {
    const a = d.approval;
    lines.push(
      ['approvers', a.approvers.length === 0 ? 'any configured reviewer' : a.approvers.join(', ')],
      ['approvals', `${a.minApprovals} needed; any one reject rejects`],
      ['channel', a.channel ?? 'the default Slack channel'],
      ['timeout', `${humanDuration(a.timeoutMs)} (then ${a.onTimeout})`],
      ['wait', `${humanDuration(a.waitMs)} per tools/call before answering "pending"`],
      ['self-approval', a.allowSelfApproval ? 'allowed' : "not allowed (the agent's owner cannot approve)"],
    );
    if (a.allowEdit) {
      lines.push(['edit', 'allowed (approve with changed arguments; policy and schema checked again)']);
    }
  }
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  return lines.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}${v}`).join('\n');
}

const ENFORCED: Record<Decision['action'], string> = {
  allow: 'allowed',
  deny: 'denied',
  require_approval: 'held for approval',
};

/** What happens to the call; a shadowed decision says what enforcement would do and that the call runs. */
export function verdictOf(d: Decision): string {
  const limited = d.action !== 'deny' && d.limits.length > 0 ? ', if within its limits' : '';
  if (d.mode !== 'shadow') return `${ENFORCED[d.action]} by ${d.rule}${limited}`;
  if (d.action === 'allow') {
    return limited
      ? `allowed by ${d.rule}; over a limit it would be rate limited, shadow mode: allowed`
      : `allowed by ${d.rule} (shadow mode)`;
  }
  return `would be ${ENFORCED[d.action]} by ${d.rule}${limited}, shadow mode: allowed`;
}

function matchedText(e: Explanation): string {
  switch (e.matchedBy) {
    case 'exact':
      return `tools.${e.matchedKey} (exact name)`;
    case 'glob':
      return `tools["${e.matchedKey}"] (glob)`;
    case 'default':
      return 'no tools entry; the default applies';
    case 'hide':
      return 'listed in hide';
    case 'no policy':
      return 'no policy file: every tool is denied';
  }
}

function taskText(d: Decision): string | undefined {
  if (d.task === 'required')
    return 'required (runs as an MCP task; a client without the tasks extension gets -32021)';
  if (d.task === 'optional') return 'optional (runs as an MCP task when the client supports tasks)';
  if (d.action === 'require_approval')
    return 'optional (a held call runs as an MCP task when the client supports tasks)';
  return undefined;
}

function limitText(l: LimitSpec): string {
  const scope =
    l.scope === 'grant' ? 'per agent and tool' : l.scope === 'agent' ? 'per agent' : 'shared by all agents';
  return `${l.counter}: ${l.max} per ${l.window} (${l.scope}: ${scope})`;
}
