import type { Redis, Cluster } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../core/errors.js';
import { humanDuration } from '../core/human-duration.js';
import type { CallHooks } from '../gateway/gateway.js';
import type { ApprovalStore, StoredRecord } from './approval-store.js';
import { outcomeOf } from './outcome.js';
import { ReleaseWaiters } from './release-waiters.js';

/** How often a held call gets a progress notification. @defaultValue 5 s (the contract asks for ≤ 10 s) */
export const PROGRESS_INTERVAL_MS = 5_000;

/** Options for {@link HeldCallWaiter}. */
export interface HeldCallWaiterOptions {
  store: ApprovalStore;
  /** Opens the blocking connection that listens for record changes; opened on start, closed on close. */
  blockingConnection: (name: string) => Redis | Cluster;
  /** Withdraws the request when the agent cancels its call. */
  cancel: (id: string, reason: string) => Promise<unknown>;
  /** Where reviewers are asked, for the agent's progress message. @defaultValue 'the Airlock console' */
  channelLabel?: (record: StoredRecord) => string;
  /**
   * Questions the approved call's tool asks this waiting request (an answer for the agent instead of the
   * outcome); asked while the request is executing, after each change. @defaultValue none
   */
  questions?: (id: string, hooks: CallHooks) => Promise<CallToolResult | undefined>;
  /** The clock. @defaultValue Date.now */
  now?: () => number;
}

/**
 * Keeps an agent's held call open until its request has an outcome or the wait runs out, woken by the
 * store's change channel (a decision may land on any replica) and sending progress meanwhile.
 */
export class HeldCallWaiter {
  private subscriber?: Redis | Cluster;
  private readonly waiters = new ReleaseWaiters();
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly o: HeldCallWaiterOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Starts listening for changes of requests held on this replica. */
  async start(): Promise<void> {
    this.subscriber = this.o.blockingConnection('airlock-sub');
    this.subscriber.on('message', (_channel: string, id: string) => this.waiters.wake(id));
    await this.subscriber.subscribe(this.o.store.keys.events);
  }

  /** Ends every wait at once (those calls answer "pending") and stops listening. */
  close(): void {
    this.closed = true;
    this.waiters.wakeAll();
    this.subscriber?.disconnect();
  }

  /** Waits for the request's outcome up to its `wait`, with progress; then answers "pending". */
  async wait(initial: StoredRecord, hooks: CallHooks): Promise<CallToolResult> {
    const id = initial.id;
    const started = this.now();
    // When the wait reaches the deadline, wait for the expiry itself so the agent hears "expired", not "pending".
    const waitUntil =
      started + initial.approval.waitMs >= initial.expiresAt
        ? initial.expiresAt + 2000
        : started + initial.approval.waitMs;
    let record: StoredRecord | undefined = initial;
    let ticks = 0;
    const progress = () => {
      if (!hooks.onProgress || !record) return;
      const left = Math.max(0, record.expiresAt - this.now());
      hooks.onProgress({
        progress: ++ticks,
        message: `waiting for approval in ${this.o.channelLabel?.(record) ?? 'the Airlock console'}, request ${id}, expires in ${humanDuration(left)}`,
      });
    };
    progress();
    // Watch before the first read, so a decision landing in between is seen.
    const watch = this.waiters.watch(id);
    try {
      let seen = watch.changes;
      record = await this.o.store.get(id);
      while (record) {
        const outcome = await outcomeOf(record, this.o.store);
        if (outcome) return outcome;
        const asked = record.status === 'executing' ? await this.o.questions?.(id, hooks) : undefined;
        if (asked) return asked;
        const left = waitUntil - this.now();
        if (left <= 0 || this.closed) break;
        const woke = await watch.wait(seen, Math.min(left, PROGRESS_INTERVAL_MS), hooks.signal);
        if (hooks.signal.aborted) {
          // A closed session is a disconnect (the call still runs if approved); a cancel withdraws it.
          await new Promise((r) => setImmediate(r));
          if (!hooks.disconnected?.()) await this.o.cancel(id, 'cancelled by the agent').catch(() => {});
          break;
        }
        if (!woke) progress();
        seen = watch.changes;
        record = await this.o.store.get(id);
      }
    } finally {
      watch.close();
    }
    if (record && !hooks.signal.aborted) {
      const outcome = await outcomeOf(record, this.o.store);
      if (outcome) return outcome;
    }
    throw new AirlockError(
      'APPROVAL_PENDING',
      `Approval pending (request ${id}). Call again with the same arguments to get the result; it will run at most once.`,
      { requestId: id, rule: initial.rule },
    );
  }
}
