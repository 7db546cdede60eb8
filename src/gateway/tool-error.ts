import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError, ERROR_CODES, type AirlockErrorCode, type DecisionStatus } from '../core/errors.js';

/** What an agent reads in `_meta["airlock/decision"]`. */
export interface DecisionMeta {
  status: DecisionStatus;
  requestId: string;
  rule?: string;
  reviewer?: string;
  reason?: string;
  retryAfter?: number;
}

/** The `_meta` key carrying Airlock's decision on refusals. */
export const DECISION_META_KEY = 'airlock/decision';

/** What an agent reads in `_meta["airlock/decision"]` of a call a reviewer approved with changed arguments. */
export interface EditedDecisionMeta {
  status: 'approved';
  requestId: string;
  rule: string;
  /** Who changed the arguments, and the hash of the arguments the agent sent; what ran is `argsHash`. */
  edited: { by: string; originalHash: string; argsHash: string };
}

/**
 * The upstream result of a call that ran with edited arguments, telling the agent so in `_meta` (the
 * upstream's own `_meta` keys are kept).
 */
export function withEditedMeta(
  result: CallToolResult,
  r: { id: string; rule: string; argsHash: string; edited?: { by: string; originalHash: string } },
): CallToolResult {
  if (!r.edited) return result;
  const meta: EditedDecisionMeta = {
    status: 'approved',
    requestId: r.id,
    rule: r.rule,
    edited: { by: r.edited.by, originalHash: r.edited.originalHash, argsHash: r.argsHash },
  };
  return { ...result, _meta: { ...result._meta, [DECISION_META_KEY]: meta } };
}

/**
 * The one place an AirlockError becomes what the agent sees: a tool result with `isError: true`,
 * one plain sentence, and the decision in `_meta`.
 */
export function toToolError(err: AirlockError, requestId: string): CallToolResult {
  const d = err.details;
  const meta: DecisionMeta = { status: ERROR_CODES[err.code].decision, requestId };
  if (typeof d.rule === 'string') meta.rule = d.rule;
  if (typeof d.reviewer === 'string') meta.reviewer = d.reviewer;
  if (typeof d.reason === 'string') meta.reason = d.reason;
  if (typeof d.retryAfter === 'number') meta.retryAfter = d.retryAfter;
  if (typeof d.requestId === 'string') meta.requestId = d.requestId;
  return {
    isError: true,
    content: [{ type: 'text', text: err.message }],
    _meta: { [DECISION_META_KEY]: meta },
  };
}

/** Reads the decision back out of a tool result (for clients and tests). */
export function decisionOf(result: { _meta?: Record<string, unknown> }): DecisionMeta | undefined {
  return result._meta?.[DECISION_META_KEY] as DecisionMeta | undefined;
}

/** Ensures a sentence ends with a full stop. */
export function sentence(text: string): string {
  const t = text.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** Shorthand used by the gateway. */
export function refusal(
  code: AirlockErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): AirlockError {
  return new AirlockError(code, sentence(message), details);
}

/**
 * The answer to a 2026-07-28 call whose upstream asked the client for input (sampling, elicitation,
 * roots) that Airlock could not relay: no relay is configured, or several calls were open on the upstream
 * and the request could not be told apart.
 */
export function clientInputUnsupported(tool: string, method: string): CallToolResult {
  return {
    isError: true,
    content: [
      {
        type: 'text',
        text: `Tool ${tool} asked the client for ${method}, which Airlock could not relay to this request; call it again, or use a 2025-11-25 session (initialize).`,
      },
    ],
  };
}

/**
 * The answer to a 2026-07-28 agent's answers for a legacy upstream's call that no longer waits for them
 * (it was not answered in time, or the replica holding it stopped). It never ran again by itself.
 */
export function parkedCallLost(tool: string): CallToolResult {
  return {
    isError: true,
    content: [
      {
        type: 'text',
        text: `The call of ${tool} that asked these questions is no longer waiting for answers (it timed out or the Airlock replica holding it stopped); call the tool again.`,
      },
    ],
  };
}
