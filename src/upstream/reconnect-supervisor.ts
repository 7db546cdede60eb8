import type { Logger } from '../log.js';
import { Backoff, type BackoffOptions } from './backoff.js';

/** Options of ReconnectSupervisor. */
export interface ReconnectOptions {
  /** Delays between reconnect attempts. @defaultValue 250 ms doubling to 30 s, ±20% jitter */
  reconnect?: BackoffOptions;
  /** After this many ms of being ready, a failure starts the backoff from its first delay again. @defaultValue 60000 */
  healthyMs?: number;
}

/** The connection a supervisor keeps alive. */
export interface Reconnectable {
  /** One connect attempt; resolves true once connected, false when it failed. Never throws. */
  connectOnce(): Promise<boolean>;
  /** Why the connection is down, for the log line of each retry. */
  downReason(): string;
}

/**
 * Retries a connection with backoff until an attempt succeeds or it is stopped. Only a connection that
 * stayed ready for `healthyMs` starts again from the first delay: one that fails soon after every
 * connect keeps backing off instead of hammering its upstream.
 */
export class ReconnectSupervisor {
  private readonly backoff: Backoff;
  private readonly healthyMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readyAt = 0;
  private stopped = false;

  constructor(
    private readonly target: Reconnectable,
    private readonly log: Logger,
    options: ReconnectOptions = {},
  ) {
    this.backoff = new Backoff(options.reconnect);
    this.healthyMs = options.healthyMs ?? 60_000;
  }

  /** The connection is ready; its healthy period starts now. */
  ready(): void {
    this.readyAt = Date.now();
  }

  /** The connection went down; after a healthy period the next delay is the first one again. */
  down(): void {
    if (this.readyAt && Date.now() - this.readyAt >= this.healthyMs) this.backoff.reset();
    this.readyAt = 0;
  }

  /** Attempts to connect after the next delay, and again after each failed attempt. */
  schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay = this.backoff.next();
    this.log.warn(
      { reason: this.target.downReason(), retryInMs: delay },
      'upstream unavailable; will reconnect',
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.target.connectOnce().then((ok) => {
        if (!ok) this.schedule();
      });
    }, delay);
  }

  /** Cancels the pending attempt and schedules none again. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
