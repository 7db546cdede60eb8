import type {
  CallToolResult,
  ClientCapabilities,
  Implementation,
  LoggingLevel,
  Progress,
  Prompt,
  ServerCapabilities,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';

/** A JSON-RPC request or notification as it crosses Airlock, method plus params. */
export interface RpcMessage {
  method: string;
  params?: Record<string, unknown>;
}

/** How an upstream reaches back to the agent side. */
export interface UpstreamHooks {
  /**
   * A request the upstream sends to its client during a call (sampling/createMessage, elicitation/create,
   * roots/list). Airlock routes it to the agent whose call is in flight; rejects when none is.
   */
  onRequest(server: string, request: RpcMessage, signal: AbortSignal): Promise<Record<string, unknown>>;
  /** A notification from the upstream (list_changed, resources/updated, logging message, ...). */
  onNotification(server: string, notification: RpcMessage): void;
}

/** Per-request options for calls into an upstream. */
export interface UpstreamRequestOptions {
  /** Aborting sends notifications/cancelled upstream. */
  signal?: AbortSignal;
  /** Called with each notifications/progress the upstream sends for this request. */
  onprogress?: (progress: Progress) => void;
  /** Overrides the server's configured timeout. */
  timeoutMs?: number;
  /**
   * The calling agent's capabilities. A modern upstream gets their elicitation, sampling and roots in the
   * request's `_meta`, so it asks only for what the agent can answer; a legacy upstream saw Airlock's own.
   */
  clientCapabilities?: ClientCapabilities;
  /**
   * The calling agent's log level. A modern upstream gets it as the request's `_meta` logLevel and sends
   * log messages during the request at that level and above; legacy upstreams ignore it.
   */
  logLevel?: LoggingLevel;
  /**
   * A 2026-07-28 upstream's `input_required` answer comes back as the result instead of failing, for a
   * caller that gets the answers itself and calls again (a task). @defaultValue false
   */
  allowInputRequired?: boolean;
}

/** Which MCP revisions an upstream speaks: `modern` is 2026-07-28 (stateless), `legacy` the 2025 ones. */
export type UpstreamEra = 'modern' | 'legacy';

/** Connection state of one upstream. */
export type UpstreamState = 'starting' | 'ready' | 'down' | 'closed';

/** One upstream MCP server as the proxy sees it. */
export interface Upstream {
  readonly name: string;
  readonly state: UpstreamState;
  /** The era found out on the last successful connect; undefined before one. */
  readonly era: UpstreamEra | undefined;
  /** Capabilities from the last successful initialize. */
  readonly capabilities: ServerCapabilities | undefined;
  readonly serverInfo: Implementation | undefined;
  readonly instructions: string | undefined;
  /** The upstream's tools as it names them, cached; refreshed on tools/list_changed and reconnect. */
  tools(): Tool[];
  /** The upstream's prompts, cached like tools (empty when it has no prompts capability). */
  prompts(): Prompt[];
  /** Requests (tools/call and any other) Airlock has in flight on this upstream now. */
  readonly inFlight: number;
  /** Calls a tool; throws AirlockError UPSTREAM_UNAVAILABLE when not connected. */
  callTool(params: ToolCallParams, options?: UpstreamRequestOptions): Promise<CallToolResult>;
  /** Any other request, passed through; JSON-RPC errors from the upstream are rethrown as McpError. */
  request(message: RpcMessage, options?: UpstreamRequestOptions): Promise<Record<string, unknown>>;
  /** Sends a notification upstream (e.g. notifications/roots/list_changed). */
  notify(message: RpcMessage): Promise<void>;
  /**
   * Starts `notifications/resources/updated` for `uri` on behalf of `holder` (an agent session); only the
   * first holder of a URI reaches the upstream. Updates arrive through the hooks' onNotification.
   */
  subscribeResource(uri: string, holder: string): Promise<void>;
  /** Ends `holder`'s interest in `uri`; the last holder's leaving reaches the upstream. */
  unsubscribeResource(uri: string, holder: string): Promise<void>;
  /** Ends every subscription of `holder` (its session closed). */
  releaseResources(holder: string): void;
}

/**
 * A tools/call towards an upstream. `inputResponses` and `requestState` answer a 2026-07-28 upstream's
 * `input_required` result (the retry of the same call), as a task's later rounds do.
 */
export type ToolCallParams = {
  name: string;
  arguments?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
  inputResponses?: Record<string, unknown>;
  requestState?: string;
};
