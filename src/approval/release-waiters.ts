/**
 * Calls held on this replica, by request id. The approval store publishes every change on a Redis
 * channel; the service's subscriber wakes the waiters here, which then re-read the record.
 */
export class ReleaseWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Wakes every waiter (on shutdown, so held calls answer "pending" at once). */
  wakeAll(): void {
    for (const set of this.waiters.values()) for (const fn of set) fn();
  }

  /** Wakes every call waiting on `id`. */
  wake(id: string): void {
    const set = this.waiters.get(id);
    if (set) for (const fn of set) fn();
  }

  /** Resolves true when the request changed, false on timeout or abort. */
  sleep(id: string, ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const done = (v: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set!.delete(wake);
        if (!set!.size) this.waiters.delete(id);
        resolve(v);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      set.add(wake);
      if (signal.aborted) return done(false);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
