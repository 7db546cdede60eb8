/** A held call's subscription to changes of its request, open for the whole wait. */
export interface Watch {
  /** How many change notices arrived since the watch opened. */
  readonly changes: number;
  /** Resolves true once `changes` differs from `seen` (at once if it already does), false on timeout or abort. */
  wait(seen: number, ms: number, signal: AbortSignal): Promise<boolean>;
  close(): void;
}

/**
 * Calls held on this replica, by request id. The approval store publishes every change on a Redis
 * channel; the service's subscriber counts it here. A watch stays registered for the whole wait and
 * counts notices, so one that arrives while the waiter is busy re-reading the record is not lost.
 */
export class ReleaseWaiters {
  /** One watch per request as a rule; an identical retry held beside the first makes it a list. */
  private readonly watches = new Map<string, RequestWatch | RequestWatch[]>();

  /** Counts a change of `id` for every watch on it. */
  wake(id: string): void {
    const w = this.watches.get(id);
    if (w === undefined) return;
    if (Array.isArray(w)) for (const one of [...w]) one.changed();
    else w.changed();
  }

  /** Wakes every watch (on shutdown, so held calls answer at once). */
  wakeAll(): void {
    for (const id of [...this.watches.keys()]) this.wake(id);
  }

  /** Starts counting changes of `id`; close it when the wait ends. */
  watch(id: string): Watch {
    const w = new RequestWatch(id, this);
    const had = this.watches.get(id);
    if (had === undefined) this.watches.set(id, w);
    else if (Array.isArray(had)) had.push(w);
    else this.watches.set(id, [had, w]);
    return w;
  }

  /** Forgets a closed watch. */
  remove(w: RequestWatch): void {
    const had = this.watches.get(w.id);
    if (had === w) this.watches.delete(w.id);
    else if (Array.isArray(had)) {
      const left = had.filter((x) => x !== w);
      if (left.length === 0) this.watches.delete(w.id);
      else this.watches.set(w.id, left.length === 1 ? left[0]! : left);
    }
  }
}

/**
 * One held call's watch. A class with no closures of its own, and the abort listener is the watch itself
 * (`handleEvent`): thousands of calls may be held at once, each waiting here.
 */
class RequestWatch implements Watch {
  changes = 0;
  private resolve: ((woke: boolean) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private signal: AbortSignal | undefined;

  constructor(
    readonly id: string,
    private readonly owner: ReleaseWaiters,
  ) {}

  wait(seen: number, ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.changes !== seen) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    // A watch has one wait at a time: the waiter loop awaits each before the next.
    this.done(false);
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.signal = signal;
      this.timer = setTimeout(timedOut, ms, this);
      signal.addEventListener('abort', this, { once: true });
    });
  }

  close(): void {
    this.done(true);
    this.owner.remove(this);
  }

  /** A change notice. */
  changed(): void {
    this.changes++;
    this.done(true);
  }

  /** The signal's abort (EventListener object form). */
  handleEvent(): void {
    this.done(false);
  }

  /** Ends the wait in progress, if any. */
  done(woke: boolean): void {
    const resolve = this.resolve;
    if (!resolve) return;
    this.resolve = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.signal?.removeEventListener('abort', this);
    this.signal = undefined;
    resolve(woke);
  }
}

function timedOut(w: RequestWatch): void {
  w.done(false);
}
