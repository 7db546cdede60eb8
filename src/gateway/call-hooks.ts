import type { ClientCapabilities, Progress } from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamRequestOptions } from '../upstream/types.js';
import type { TaskResume } from './task-calls.js';

/** Per-call hooks into the agent's session. */
export interface CallHooks {
  signal: AbortSignal;
  /** Set when the agent asked for progress (it sent a progressToken). */
  onProgress?: (progress: Progress) => void;
  /** Called when the call is held for approval and the agent will wait (the long poll, not a task). */
  onHeld?: () => void;
  /** True when the signal fired because the agent went away rather than cancelled the call. */
  disconnected?: () => boolean;
  /** The agent's declared capabilities; a modern upstream reads them to know what it may ask the agent. */
  clientCapabilities?: ClientCapabilities;
  /** The agent's log level, for a modern upstream's log messages during the call. */
  logLevel?: UpstreamRequestOptions['logLevel'];
  /** The client negotiated the tasks extension for this call: held and task-policy calls become tasks. */
  tasks?: boolean;
  /**
   * An upstream's -32021 (it needs a capability the request did not declare) is thrown as the JSON-RPC
   * error it is, for 2026-07-28 requests whose client must then declare it. @defaultValue false: a tool error
   */
  relayCapabilityErrors?: boolean;
  /**
   * A 2026-07-28 upstream's `input_required` answer is the call's result, for a 2026-07-28 agent that
   * answers the questions itself and calls again. @defaultValue false: the SDK asks the agent's session
   */
  passInputRequired?: boolean;
  /** The agent's retry of such a call: its answers and the upstream's own state, for the upstream. */
  resume?: TaskResume;
  /**
   * Told when this call's own upstream call starts (true) and ends (false), so that a request the upstream
   * sends meanwhile can be known as this call's. Not told for calls that run elsewhere (approved, tasks).
   */
  onUpstream?: (running: boolean) => void;
}
