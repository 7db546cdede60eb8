/** action_id of the Approve button. */
export const APPROVE_ACTION_ID = 'airlock_approve';
/** action_id of the Reject button. */
export const REJECT_ACTION_ID = 'airlock_reject';
/** action_id of the Reject-with-reason button, which opens the reason modal. */
export const REJECT_REASON_ACTION_ID = 'airlock_reject_reason';
/** block_id of the request message's buttons. */
export const ACTIONS_BLOCK_ID = 'airlock_actions';
/** callback_id of the reject-with-reason modal; its private_metadata is the request id. */
export const REJECT_MODAL_CALLBACK_ID = 'airlock_reject_modal';
/** block_id of the modal's reason input: `view.state.values[REASON_BLOCK_ID][REASON_ACTION_ID].value`. */
export const REASON_BLOCK_ID = 'airlock_reason';
/** action_id of the modal's reason input. */
export const REASON_ACTION_ID = 'airlock_reason_input';
