/*
 * Tasks as pure data: statuses, the transition rule, the wire shapes and the status sentences.
 * The Redis store is src/tasks/.
 */
export * from './task-types.js';
export { TASK_ID_PATTERN, newTaskId, isTaskId } from './task-id.js';
export {
  allowedFrom,
  checkTaskChange,
  transitionTask,
  type TaskChange,
  type TaskChanged,
  type TaskChangeRefused,
} from './task-transitions.js';
export {
  createTaskResult,
  getTaskResult,
  type CreateTaskResult,
  type GetTaskResult,
  type WireTask,
} from './task-wire.js';
export {
  approvedRunningMessage,
  cancelledByAgentMessage,
  waitingForApprovalMessage,
  type WaitingForApproval,
} from './task-status-message.js';
