import type { App } from '@slack/bolt';
import type { Logger } from '../log.js';

/** Options for {@link SocketConnection}. */
export interface SocketConnectionOptions {
  /** First wait after a failed connect, doubled up to `maxDelayMs`. @defaultValue 1000 */
  initialDelayMs?: number;
  /** @defaultValue 60000 */
  maxDelayMs?: number;
}

/**
 * Keeps a Socket Mode Bolt app connected in the background. Bolt's start() rejects on some failures
 * (HTTP errors, bad tokens) and waits forever on others; neither may hold up or stop Airlock, so
 * connecting is never awaited by startup and failed attempts are retried with backoff until close().
 */
export class SocketConnection {
  private closed = false;
  private wake?: () => void;
  private running?: Promise<void>;
  private started = false;

  constructor(
    private readonly bolt: App,
    private readonly logger: Logger,
    private readonly options: SocketConnectionOptions = {},
  ) {}

  /** Begins connecting; returns at once. */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops retrying and disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    if (!this.started) return;
    // A socket stuck reconnecting may never report "disconnected"; shutdown does not wait on it forever.
    await Promise.race([this.bolt.stop().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  private async loop(): Promise<void> {
    let delay = this.options.initialDelayMs ?? 1000;
    const max = this.options.maxDelayMs ?? 60_000;
    while (!this.closed) {
      try {
        this.started = true;
        await this.bolt.start();
        if (!this.closed) this.logger.info('Slack Socket Mode connected');
        return;
      } catch (err) {
        if (this.closed) return;
        this.logger.warn(
          { err: (err as Error).message, retryInMs: delay },
          'Slack Socket Mode connect failed',
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        delay = Math.min(delay * 2, max);
      }
    }
  }
}
