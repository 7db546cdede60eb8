// The Slack app's one import for message and modal shapes; every builder here is pure.
export { requestMessage } from './request-message.js';
export { messageFor, decidedMessage, expiredMessage, cancelledMessage } from './outcome-messages.js';
export { executionReply } from './execution-reply.js';
export { rejectReasonModal } from './reject-reason-modal.js';
export { refusalText } from './refusal-text.js';
export type { SlackMessage, MessageOptions } from './message.js';
export type { ArgumentsDisplayOptions } from './arguments.js';
export type { RiskHints } from './risk.js';
export { riskLabel } from './risk.js';
export { escapeSlack } from './text.js';
export { BLOCK_KIT_LIMITS } from './limits.js';
export * from './ids.js';
export { homeView, HOME_VIEW_MAX_BLOCKS, HOME_VIEW_CALLBACK_ID, type HomeViewOptions } from './home-view.js';
export * from './request-summary.js';
export { approverMention, reminderReply, escalationReply } from './follow-up-replies.js';
export {
  APPROVE_FOR_ACTION_ID,
  approveForMenu,
  grantDurations,
  parseGrantChoice,
  grantChoiceValue,
} from './grant-choice.js';
export { REVOKE_GRANT_ACTION_ID, HOME_GRANTS_MAX, homeGrantBlocks } from './home-grants.js';
export * from './edit-args-modal.js';
