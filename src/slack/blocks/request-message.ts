import type { types } from '@slack/bolt';
import { approvers } from '../../core/approval/state-machine.js';
import type { ApprovalRecord } from '../../core/approval/types.js';
import { personMrkdwn } from './format.js';
import { ACTIONS_BLOCK_ID, APPROVE_ACTION_ID, REJECT_ACTION_ID, REJECT_REASON_ACTION_ID } from './ids.js';
import { approveForMenu } from './grant-choice.js';
import { BLOCK_KIT_LIMITS } from './limits.js';
import { recordMessage, type MessageOptions, type SlackMessage } from './message.js';
import { clip } from './text.js';
import { editButtons } from './edit-args-modal.js';

/**
 * The message asking reviewers to decide: facts, risk, expiry, redacted and escaped arguments, ids,
 * and Approve / Reject / Reject with reason buttons whose value is the request id.
 */
export function requestMessage(record: ApprovalRecord, opts: MessageOptions = {}): SlackMessage {
  const status: string[] = [];
  const needed = Math.max(1, record.approval.minApprovals);
  const got = approvers(record);
  if (needed > 1) {
    const names = got.map((id) => personMrkdwn(id, record.decisions.find((d) => d.by === id)?.display));
    status.push(`*Approvals:* ${got.length} of ${needed}${names.length > 0 ? ` (${names.join(', ')})` : ''}`);
  }
  return recordMessage(record, opts, { title: 'Approval needed', status, actions: actions(record) });
}

function actions(record: ApprovalRecord): types.ActionsBlock {
  const value = record.id.slice(0, BLOCK_KIT_LIMITS.buttonValue);
  // Only where the rule offers grants; built in grant-choice.ts.
  const approveFor = approveForMenu(record);
  return {
    type: 'actions',
    block_id: ACTIONS_BLOCK_ID,
    elements: [
      {
        type: 'button',
        action_id: APPROVE_ACTION_ID,
        text: { type: 'plain_text', text: 'Approve' },
        style: 'primary',
        value,
        // A phone tap should not run an infrastructure call by accident.
        confirm: {
          title: { type: 'plain_text', text: 'Approve this call?' },
          text: {
            type: 'plain_text',
            text: clip(
              `Run ${record.tool} on ${record.server} for ${record.agent} with exactly the arguments shown.`,
              BLOCK_KIT_LIMITS.confirmText,
            ),
          },
          confirm: { type: 'plain_text', text: 'Approve' },
          deny: { type: 'plain_text', text: 'Cancel' },
        },
      },
      ...(approveFor ? [approveFor] : []),
      {
        type: 'button',
        action_id: REJECT_ACTION_ID,
        text: { type: 'plain_text', text: 'Reject' },
        style: 'danger',
        value,
      },
      {
        type: 'button',
        action_id: REJECT_REASON_ACTION_ID,
        text: { type: 'plain_text', text: 'Reject with reason' },
        value,
      },
      ...editButtons(record),
    ],
  };
}
