import type { types } from '@slack/bolt';
import { REASON_ACTION_ID, REASON_BLOCK_ID, REJECT_MODAL_CALLBACK_ID } from './ids.js';
import { BLOCK_KIT_LIMITS } from './limits.js';
import { inlineCode } from './text.js';

/**
 * The `views.open` modal behind "Reject with reason". The request id travels in private_metadata; the
 * reason comes back in `view.state.values[REASON_BLOCK_ID][REASON_ACTION_ID].value`.
 */
export function rejectReasonModal(requestId: string): types.ModalView {
  return {
    type: 'modal',
    callback_id: REJECT_MODAL_CALLBACK_ID,
    private_metadata: requestId.slice(0, BLOCK_KIT_LIMITS.privateMetadata),
    title: { type: 'plain_text', text: 'Reject request' },
    submit: { type: 'plain_text', text: 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `Rejecting request ${inlineCode(requestId, 100)}. The agent receives your reason as the tool error.`,
        },
      },
      {
        type: 'input',
        block_id: REASON_BLOCK_ID,
        label: { type: 'plain_text', text: 'Reason' },
        element: {
          type: 'plain_text_input',
          action_id: REASON_ACTION_ID,
          multiline: true,
          min_length: 1,
          max_length: BLOCK_KIT_LIMITS.inputMaxLength,
          placeholder: {
            type: 'plain_text',
            text: 'What is wrong with this call, and what should the agent do instead?',
          },
        },
      },
    ],
  };
}
