import { DEFAULT_TIMEOUT_MS, DEFAULT_WAIT_MS } from './schema.js';
import { tryParseDuration } from './duration.js';
import type { ApprovalInput } from './schema.js';
import type { ApprovalSpec, EscalationSpec } from './types.js';

/** Fills an approval block's defaults and turns durations into milliseconds. */
export function compileApproval(a: ApprovalInput | undefined): ApprovalSpec {
  const timeoutMs = a?.timeout === undefined ? DEFAULT_TIMEOUT_MS : (tryParseDuration(a.timeout) as number);
  const waitMs =
    a?.wait === undefined ? Math.min(DEFAULT_WAIT_MS, timeoutMs) : (tryParseDuration(a.wait) as number);
  return Object.freeze({
    approvers: Object.freeze([...(a?.approvers ?? [])]) as string[],
    ...(a?.channel === undefined ? {} : { channel: a.channel }),
    minApprovals: a?.min_approvals ?? 1,
    timeoutMs,
    waitMs,
    onTimeout: 'reject' as const,
    allowSelfApproval: a?.allow_self_approval ?? false,
    ...(a?.allow_edit === true ? { allowEdit: true } : {}),
    ...(a?.remind === undefined ? {} : { remindMs: tryParseDuration(a.remind) as number }),
    ...(a?.escalate === undefined
      ? {}
      : { escalate: Object.freeze(a.escalate.map(compileEscalation)) as EscalationSpec[] }),
    ...(a?.grants === undefined
      ? {}
      : {
          grants: Object.freeze({
            max: a.grants.max,
            maxMs: tryParseDuration(a.grants.max) as number,
            scopes: Object.freeze([...new Set(a.grants.scopes)]),
          }),
        }),
  });
}

function compileEscalation(step: NonNullable<ApprovalInput['escalate']>[number]): EscalationSpec {
  return Object.freeze({
    afterMs: tryParseDuration(step.after) as number,
    approvers: Object.freeze([...step.approvers]) as string[],
    ...(step.channel === undefined ? {} : { channel: step.channel }),
  });
}
