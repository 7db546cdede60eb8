/** A held call's subscription to changes of its request, open for the whole wait. */
export interface Watch {
  /** How many change notices arrived since the watch opened. */
  readonly changes: number;
  /** Resolves true once `changes` differs from `seen` (at once if it already does), false on timeout or abort. */
  wait(seen: number, ms: number, signal: AbortSignal): Promise<boolean>;
  close(): void;
}

interface WatchState {
  changes: number;
  notify?: () => void;
}

/**
 * Calls held on this replica, by request id. The approval store publishes every change on a Redis
 * channel; the service's subscriber counts it here. A watch stays registered for the whole wait and
 * counts notices, so one that arrives while the waiter is busy re-reading the record is not lost.
 */
export class ReleaseWaiters {
  private readonly watches = new Map<string, Set<WatchState>>();

  /** Counts a change of `id` for every watch on it. */
  wake(id: string): void {
    const set = this.watches.get(id);
    if (!set) return;
    for (const w of set) {
      w.changes++;
      w.notify?.();
    }
  }

  /** Wakes every watch (on shutdown, so held calls answer at once). */
  wakeAll(): void {
    for (const id of this.watches.keys()) this.wake(id);
  }

  /** Starts counting changes of `id`; close it when the wait ends. */
  watch(id: string): Watch {
    const state: WatchState = { changes: 0 };
    let set = this.watches.get(id);
    if (!set) this.watches.set(id, (set = new Set()));
    set.add(state);
    const watches = this.watches;
    return {
      get changes() {
        return state.changes;
      },
      wait(seen, ms, signal) {
        if (state.changes !== seen) return Promise.resolve(true);
        return new Promise((resolve) => {
          const done = (v: boolean) => {
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            state.notify = undefined;
            resolve(v);
          };
          const onAbort = () => done(false);
          const timer = setTimeout(() => done(false), ms);
          state.notify = () => done(true);
          if (signal.aborted) return done(false);
          signal.addEventListener('abort', onAbort, { once: true });
        });
      },
      close() {
        state.notify?.();
        set!.delete(state);
        if (!set!.size) watches.delete(id);
      },
    };
  }
}
