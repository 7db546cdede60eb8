import type { EventEmitter } from 'node:events';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AirlockError } from '../core/errors.js';
import type { DecisionVia, ReviewerDecision } from '../core/approval/types.js';
import type { GrantRequest } from '../core/grants/grant.js';
import type { StoredRecord } from './approval-store.js';

/** Who is deciding, as each surface knows them. */
export interface DecisionInput {
  reviewerId?: string;
  slackUserId?: string;
  display?: string;
  via: DecisionVia;
  decision: 'approve' | 'reject';
  reason?: string;
  comment?: string;
  /** With an approval: let matching calls run without a new request (checked against the rule's grants). */
  grant?: GrantRequest;
  /** With an approval: run these arguments instead of the agent's (the rule must allow edits; checked again). */
  args?: Record<string, unknown>;
}

/** Events for Slack, audit, history and metrics, emitted on the replica where the change happened. */
export interface ApprovalEvents {
  created: [record: StoredRecord];
  decided: [record: StoredRecord, decision: ReviewerDecision];
  refused: [id: string, input: DecisionInput, error: AirlockError];
  expired: [record: StoredRecord];
  cancelled: [record: StoredRecord];
  executing: [record: StoredRecord];
  executed: [record: StoredRecord, result: CallToolResult];
  /** Reminder number `n` (1-based) of a pending request was recorded. */
  reminded: [record: StoredRecord, n: number];
  /** Escalation step `step` added its approvers to a pending request. */
  escalated: [record: StoredRecord, step: number];
}

/** What the approval parts emit on; the service is one, so listeners see a single emitter. */
export type ApprovalEmitter = Pick<EventEmitter<ApprovalEvents>, 'emit'>;
