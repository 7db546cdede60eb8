import { describeError, isHttpConnectionFailure, isUpstreamRpcError } from './upstream-errors.js';
import type { UpstreamSession } from './upstream-session.js';

/**
 * HTTP transports report stream errors but never close by themselves; a ping tells a dead or restarted
 * server (reconnect, which re-initializes) from a stream that merely dropped and recovered.
 */
export class LivenessProbe {
  private probing = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly onDead: (session: UpstreamSession, reason: string) => void,
  ) {}

  /** Pings a ready session after the transport error `trigger`; one probe runs at a time. */
  async check(session: UpstreamSession, trigger: Error): Promise<void> {
    if (this.probing || !session.ready) return;
    this.probing = true;
    try {
      const options = { timeout: Math.min(5_000, this.timeoutMs) };
      // 2026-07-28 has no ping; server/discover is its cheapest request that any server answers.
      if (session.era === 'modern') await session.client.discover(options);
      else await session.client.ping(options);
    } catch (err) {
      // Any JSON-RPC answer, even an error, shows the server alive; a timeout or transport failure does not.
      if (!isUpstreamRpcError(err)) {
        this.onDead(
          session,
          `reconnecting after ${describeError(isHttpConnectionFailure(err) ? err : trigger)}`,
        );
      }
    } finally {
      this.probing = false;
    }
  }
}
