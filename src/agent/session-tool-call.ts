// A 2025 session's `tools/call`, whichever transport carries it: the SDK session (AgentSession) and the
// hand-written fast path (session-fast-call.ts) both come here, so the hooks a call gets from its session
// (signal, disconnect, capabilities, log level, progress) are built in exactly one place.
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { CallAnswer } from '../gateway/task-calls.js';
import type { RpcMessage } from '../upstream/types.js';
import type { AgentMethods, Params } from './agent-methods.js';
import type { LogLevel } from './wire/envelope.js';

/** What one call of a 2025 session brings from its session and its transport. */
export interface SessionCallContext {
  /** Fires when the agent cancels the call or goes away. */
  readonly signal: AbortSignal;
  /** True when the signal fired because the agent went away (a held call then stays pending). */
  readonly disconnected: () => boolean;
  /** What the agent declared at initialize. */
  readonly clientCapabilities: ClientCapabilities | undefined;
  /** The session's level from `logging/setLevel`. */
  readonly logLevel: LogLevel;
  /** The session negotiated the tasks extension at initialize: held and task-policy calls answer with a task. */
  readonly tasks: boolean;
  /** Sends a notification tied to this call (on its own stream); never throws. */
  readonly sendNotification: (notification: RpcMessage) => void;
  /** Called when the call is held for approval, so a transport can start streaming keep-alives. */
  readonly onHeld?: () => void;
}

/**
 * Runs `params` (a validated tools/call) through the gateway for `agent`: a tool result, or a task for a
 * session that negotiated them. Progress goes to the agent only when it asked for it with a progressToken,
 * under that token.
 */
export function sessionToolCall(
  methods: AgentMethods,
  agent: string,
  params: Params,
  call: SessionCallContext,
): Promise<CallAnswer> {
  const token = (params['_meta'] as { progressToken?: string | number } | undefined)?.progressToken;
  return methods.callTool(agent, params, {
    signal: call.signal,
    disconnected: call.disconnected,
    clientCapabilities: call.clientCapabilities,
    logLevel: call.logLevel,
    tasks: call.tasks,
    ...(call.onHeld && { onHeld: call.onHeld }),
    onProgress:
      token === undefined
        ? undefined
        : (p) =>
            call.sendNotification({
              method: 'notifications/progress',
              params: { ...p, progressToken: token },
            }),
  });
}
