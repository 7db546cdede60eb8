// Two places where a 2025 session must answer outside what the SDK 1.x Server lets its handlers do,
// both for the tasks extension: a tools/call answered with a CreateTaskResult, and the tasks/* methods.
import { z } from 'zod';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { Protocol, type RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ErrorCode,
  McpError,
  type CallToolRequest,
  type JSONRPCRequest,
  type Result,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { CallAnswer } from '../gateway/task-calls.js';
import { isCreateTaskResult } from '../gateway/task-calls.js';
import type { TaskMethods } from './agent-methods.js';
import { isTaskMethod, taskHandlers } from './task-methods.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Any tools/call request; the handler checks it against the SDK's schema itself. */
const TOOLS_CALL = z.looseObject({ method: z.literal('tools/call') });

/**
 * Registers the session's tools/call handler below the SDK Server's own wrapper, which checks every
 * answer against CallToolResult and so would add `content: []` to a CreateTaskResult (the extension
 * forbids it there). The checks the wrapper makes of requests and tool results are made here instead,
 * with the same -32602 answers.
 */
export function setToolCallHandler(
  server: Server,
  handler: (request: CallToolRequest, extra: Extra) => Promise<CallAnswer>,
): void {
  const register = Protocol.prototype.setRequestHandler as unknown as (
    this: Server,
    schema: typeof TOOLS_CALL,
    handler: (request: unknown, extra: Extra) => Promise<Result>,
  ) => void;
  register.call(server, TOOLS_CALL, async (request, extra) => {
    const parsed = CallToolRequestSchema.safeParse(request);
    if (!parsed.success) {
      throw new McpError(ErrorCode.InvalidParams, `Invalid tools/call request: ${parsed.error.message}`);
    }
    const answer = await handler(parsed.data, extra);
    if (isCreateTaskResult(answer)) return { ...answer };
    const result = CallToolResultSchema.safeParse(answer);
    if (!result.success) {
      throw new McpError(ErrorCode.InvalidParams, `Invalid tools/call result: ${result.error.message}`);
    }
    return result.data;
  });
}

/**
 * Serves tasks/get, tasks/update and tasks/cancel on the session as the fallback handler: the SDK 1.x
 * Server lets these be registered only beside its own (2025-11-25) `tasks` capability, which the
 * extension forbids advertising. Every other unknown method stays -32601, as the SDK answers it.
 */
export function setTaskMethods(
  server: Server,
  tasks: TaskMethods,
  caller: () => { agent: string; negotiated: boolean },
): void {
  const handlers = taskHandlers(tasks);
  server.fallbackRequestHandler = async (request: JSONRPCRequest) => {
    const handle = isTaskMethod(request.method) ? handlers[request.method] : undefined;
    if (!handle) throw { code: ErrorCode.MethodNotFound, message: 'Method not found' };
    const result = await handle({ ...caller(), params: request.params ?? {} });
    return { ...result, resultType: 'complete' };
  };
}
