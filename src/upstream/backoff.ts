/** Options of Backoff. */
export interface BackoffOptions {
  /** First delay in ms. @defaultValue 250 */
  initialMs?: number;
  /** Largest delay in ms. @defaultValue 30000 */
  maxMs?: number;
  /** Each delay is the previous one times this. @defaultValue 2 */
  factor?: number;
  /** Delays vary by ±jitter (0–1) so replicas don't retry a shared upstream in lockstep. @defaultValue 0.2 */
  jitter?: number;
}

/** Exponential backoff with jitter; `reset()` after a healthy period starts again from the first delay. */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private attempt = 0;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = options.initialMs ?? 250;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.2;
  }

  /** The delay before the next attempt, in ms; each call moves one step further. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    const spread = base * this.jitter * (this.random() * 2 - 1);
    return Math.max(0, Math.round(Math.min(this.maxMs, base + spread)));
  }

  /** Starts over from the first delay. */
  reset(): void {
    this.attempt = 0;
  }
}
