import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../core/errors.js';
import { humanDuration } from '../core/human-duration.js';
import type { ApprovalStore, StoredRecord } from './approval-store.js';

/** The answer for a request that has one, or undefined while it is still open. */
export async function outcomeOf(r: StoredRecord, store: ApprovalStore): Promise<CallToolResult | undefined> {
  switch (r.status) {
    case 'executed':
    case 'failed': {
      const result = await store.result(r.id);
      if (result) return result;
      throw new AirlockError(
        'UPSTREAM_ERROR',
        `Approved call ${r.id} ran (${r.status}), but its result is no longer kept.`,
        { requestId: r.id, rule: r.rule },
      );
    }
    case 'rejected': {
      await markDelivered(r, store);
      const last = r.decisions.filter((d) => d.decision === 'reject').pop();
      const who = last?.display ?? r.decidedBy ?? 'a reviewer';
      const reason = last?.reason ?? r.reason;
      throw new AirlockError(
        'APPROVAL_REJECTED',
        `Rejected by ${who}${reason ? `: ${reason.trim().replace(/[.!?]?$/, '.')}` : '.'} The call to ${r.server}/${r.tool} was not run (request ${r.id}).`,
        { requestId: r.id, rule: r.rule, reviewer: r.decidedBy, reason },
      );
    }
    case 'expired':
      await markDelivered(r, store);
      throw new AirlockError(
        'APPROVAL_EXPIRED',
        `Approval request ${r.id} expired: no reviewer decided within ${humanDuration(r.approval.timeoutMs)}. The call to ${r.server}/${r.tool} was not run.`,
        { requestId: r.id, rule: r.rule },
      );
    case 'cancelled':
      await markDelivered(r, store);
      throw new AirlockError(
        'APPROVAL_CANCELLED',
        `Approval request ${r.id} was cancelled${r.reason ? ` (${r.reason})` : ''}. The call to ${r.server}/${r.tool} was not run.`,
        { requestId: r.id, rule: r.rule, reason: r.reason },
      );
    default:
      return undefined;
  }
}

async function markDelivered(r: StoredRecord, store: ApprovalStore): Promise<void> {
  // Answered once: the agent's next identical call asks anew instead of hearing this again.
  if (!r.delivered) await store.compareAndSet(r, { ...r, delivered: true }).catch(() => {});
}

/** A tool error result with one text block. */
export function errorResult(text: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}

/** A short, single-line summary of a tool result for history and Slack. */
export function summarize(result: CallToolResult): string {
  const text = (result.content ?? [])
    .map((c) => (c.type === 'text' ? c.text : `[${c.type}]`))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || (result.isError ? 'error' : 'ok');
}
