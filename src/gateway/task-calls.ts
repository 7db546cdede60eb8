// What the gateway needs to answer a tools/call with a task (the MCP extension
// `io.modelcontextprotocol/tasks`) instead of its result: a held call becomes a task bound to its approval
// request, and an allowed call whose policy says `task` runs in the background. The implementation lives in
// src/tasks/ (the gateway's TaskGate); the gateway only decides which of the two a call is.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { TASKS_EXTENSION, type CreateTaskResult } from '../core/tasks/index.js';

/** An allowed call about to run as a task. */
export interface TaskCall {
  requestId: string;
  agent: string;
  server: string;
  tool: string;
}

/** A later round of a task's call: the client's answers to the upstream's `input_required` result. */
export interface TaskResume {
  inputResponses?: Record<string, unknown>;
  /** The upstream's `requestState`, echoed byte for byte. */
  requestState?: string;
}

/**
 * Runs the upstream call of an allowed task; `signal` fires when the task is cancelled. A 2026-07-28
 * upstream may answer `input_required`; the task then asks the client and runs the call again with
 * `resume`.
 */
export type TaskRun = (signal: AbortSignal, resume?: TaskResume) => Promise<CallToolResult>;

/** What a tools/call answers: the tool's result, or a task when the client negotiated tasks. */
export type CallAnswer = CallToolResult | CreateTaskResult;

/** JSON-RPC -32021 MissingRequiredClientCapability, as the 2026-07-28 revision numbers it. */
export const MISSING_REQUIRED_CLIENT_CAPABILITY = -32021;

/**
 * The JSON-RPC error for a tool the policy runs only as a task, called by a client that did not declare
 * the tasks extension. It crosses the wire as an error, not a tool result: the client has to change what it
 * declares, not its arguments.
 */
export class TasksRequiredError extends McpError {
  constructor(server: string, tool: string) {
    super(
      MISSING_REQUIRED_CLIENT_CAPABILITY,
      `Tool ${server}/${tool} runs only as a task; declare the ${TASKS_EXTENSION} extension in the request's client capabilities`,
      { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    );
  }
}

/** True for a CreateTaskResult rather than a tool's result. */
export function isCreateTaskResult(answer: CallAnswer): answer is CreateTaskResult {
  return (answer as { resultType?: unknown }).resultType === 'task';
}
