import { humanDuration } from '../human-duration.js';

/** What {@link waitingForApprovalMessage} needs. */
export interface WaitingForApproval {
  /** The approval request id (`ar_…`). */
  requestId: string;
  /** Where reviewers see it, as people read it (e.g. `#lab-approvals`); absent: the default channel. */
  channel?: string;
  /** The approval's deadline, epoch ms. */
  expiresAt: number;
  now: number;
}

/** "waiting for approval in #lab-approvals (request ar_…), expires in 14m". */
export function waitingForApprovalMessage(w: WaitingForApproval): string {
  const where = w.channel === undefined ? '' : ` in ${w.channel}`;
  const left = w.expiresAt - w.now;
  // The deadline job may fire a moment late; "expires in 0ms" would read like a bug.
  const when = left > 0 ? `expires in ${humanDuration(left)}` : 'expiring now';
  return `waiting for approval${where} (request ${w.requestId}), ${when}`;
}

/** "approved by alice, running"; several approvers are listed in the order they voted. */
export function approvedRunningMessage(approvers: readonly string[]): string {
  const by = approvers.length === 0 ? '' : ` by ${approvers.join(', ')}`;
  return `approved${by}, running`;
}

/** The message of a task the agent cancelled. */
export function cancelledByAgentMessage(): string {
  return 'cancelled by the agent';
}
