// The 2026-07-28 calls open on this replica, by upstream server. A stateless request has no session the
// upstreams could reach back to, so this is how an upstream's log message finds the request's stream, and
// how an upstream's sampling or elicitation request during a modern call reaches that call (parked for
// the agent's answers) instead of being sent to some other agent's 2025 session.
import type { RpcMessage } from '../upstream/types.js';
import { LOG_LEVELS, type LogLevel } from './wire/envelope.js';

/** One open modern call, as the upstream side sees it. */
export interface ModernCall {
  readonly server: string;
  /** The request's `_meta["io.modelcontextprotocol/logLevel"]`; absent means no log messages at all. */
  readonly logLevel?: LogLevel;
  /** Writes a request-related notification on the call's stream. */
  readonly notify: (message: RpcMessage) => void;
  /** The server→client method the upstream asked for that this call could not relay. */
  refusedInput?: string;
  /**
   * Relays a legacy upstream's request (sampling, elicitation, roots) during the call to the agent, as an
   * `input_required` round (pending-input.ts). @defaultValue none: such requests are refused
   */
  onInput?: (request: RpcMessage, signal: AbortSignal) => Promise<Record<string, unknown>>;
  /** True while the call's own upstream call runs (not while it is held, nor run by the approval worker). */
  upstreamRunning?: boolean;
}

/** The modern calls open on this replica. */
export class ModernCalls {
  private readonly calls = new Set<ModernCall>();

  /** Tracks `call` until the returned function is called. */
  open(call: ModernCall): () => void {
    this.calls.add(call);
    return () => this.calls.delete(call);
  }

  /** The modern calls open on `server`. */
  on(server: string): ModernCall[] {
    return [...this.calls].filter((c) => c.server === server);
  }

  /**
   * Relays an upstream's `notifications/message` to the one modern call open on `server`, when its request
   * asked for that level. With several calls open the message cannot be attributed, so none gets it.
   */
  relayLog(server: string, message: RpcMessage): void {
    const open = this.on(server);
    const call = open.length === 1 ? open[0] : undefined;
    if (!call?.logLevel) return;
    const level = message.params?.['level'];
    const rank = (l: unknown) => LOG_LEVELS.indexOf(l as LogLevel);
    if (rank(level) >= rank(call.logLevel)) call.notify(message);
  }
}
