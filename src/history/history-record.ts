import { APPROVAL_STATUSES, type ApprovalStatus, type StoredRecord } from '../core/approval/types.js';
import type { ShadowVerdict } from '../core/policy/shadow.js';

/** Statuses of calls that policy decided on its own, without a human. */
export type DirectStatus = 'allowed' | 'denied' | 'rate_limited' | 'invalid' | 'error';

/** Every status a history record can have. */
export type HistoryStatus = ApprovalStatus | DirectStatus;

/** Direct-decision statuses, in display order. */
export const DIRECT_STATUSES: readonly DirectStatus[] = [
  'allowed',
  'denied',
  'rate_limited',
  'invalid',
  'error',
];

/** Every status, approval lifecycle first; filters are checked against this list. */
export const HISTORY_STATUSES: readonly HistoryStatus[] = [...APPROVAL_STATUSES, ...DIRECT_STATUSES];

/** What happened upstream for an allowed call. */
export interface DirectExecution {
  startedAt: number;
  finishedAt: number;
  isError: boolean;
}

/**
 * A call policy decided directly (allowed, denied, rate-limited, invalid, failed), stored in the same
 * hash layout as approval records so one history holds both.
 */
export interface DecisionRecord {
  id: string;
  /** Epoch ms when the call reached the gateway. */
  createdAt: number;
  /** Empty when the tool was unknown. */
  server: string;
  tool: string;
  agent: string;
  /** Redacted display copy, capped in size; never what ran. */
  args: Record<string, unknown>;
  /** Set when `args` holds only a truncated preview of a large display copy. */
  argsTruncated?: boolean;
  /** argumentHash(server, tool, args), when the arguments were valid. */
  argsHash?: string;
  /** Policy rule that decided, e.g. `lab/delete_*`; empty when none applied (unknown tool, invalid call). */
  rule: string;
  status: DirectStatus;
  /** AirlockError code of a refusal or failure. */
  code?: string;
  /** Policy reason (denied) or limit (rate limited). */
  reason?: string;
  /** Rate limit counter that refused the call, and the seconds it asked the agent to wait. */
  counter?: string;
  retryAfter?: number;
  /** Time from receiving the call to answering it. */
  responseMs: number;
  execution?: DirectExecution;
  /** The grant (`gr_…`) an allowed call ran under instead of a new approval request. */
  grant?: string;
  /** An allowed call that ran only because its policy is in shadow mode: what enforcement would have done. */
  shadow?: ShadowVerdict;
  /** Always 1: direct records never change. */
  version: number;
}

/** Either kind of history record, as stored. */
export type HistoryRecord = StoredRecord | DecisionRecord;

const DIRECT = new Set<string>(DIRECT_STATUSES);

/** True for records written from a direct policy decision rather than an approval request. */
export function isDecisionRecord(r: HistoryRecord): r is DecisionRecord {
  return DIRECT.has(r.status);
}

/** True for strings naming a known status. */
export function isHistoryStatus(value: string): value is HistoryStatus {
  return (HISTORY_STATUSES as readonly string[]).includes(value);
}
