/**
 * Runs an async task at most once at a time. A call made while a run is in flight schedules exactly one
 * more run after it (calls in the meantime share it), so a burst of list_changed notifications costs at
 * most two refreshes and every caller sees a result fetched after its own call.
 */
export class CoalescedTask {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly task: () => Promise<void>) {}

  /** Resolves once a run that started after this call has finished; rejects with that run's error. */
  run(): Promise<void> {
    if (this.queued) return this.queued;
    if (this.running) {
      this.queued = this.running
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.start();
        });
      return this.queued;
    }
    return this.start();
  }

  private start(): Promise<void> {
    const run = this.task().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
