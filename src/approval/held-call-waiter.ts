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

  /**
   * Waits for the request's outcome up to its `wait`, with progress; then answers "pending". Only the
   * few fields the wait needs are kept across it, never `initial` itself (its arguments may be large, and
   * thousands of calls may be held at once); the record is read anew on every wake.
   */
  wait(initial: StoredRecord, hooks: CallHooks): Promise<CallToolResult> {
    const started = this.now();
    const { id, rule, expiresAt } = initial;
    const held: Held = {
      id,
      rule,
      // When the wait reaches the deadline, wait for the expiry itself so the agent hears "expired", not "pending".
      waitUntil:
        started + initial.approval.waitMs >= expiresAt ? expiresAt + 2000 : started + initial.approval.waitMs,
      expiresAt,
      channel: this.o.channelLabel?.(initial) ?? 'the Airlock console',
      ticks: 0,
    };
    return this.waitFor(held, hooks);
  }

  private async waitFor(held: Held, hooks: CallHooks): Promise<CallToolResult> {
    const id = held.id;
    this.progress(held, hooks);
    // Watch before the first read, so a decision landing in between is seen.
    const watch = this.waiters.watch(id);
    try {
      let seen = watch.changes;
      for (;;) {
        const read = await this.read(held, hooks);
        if (read === 'gone') break;
        if (read !== 'open') return read;
        const left = held.waitUntil - this.now();
        if (left <= 0 || this.closed) break;
        const woke = await watch.wait(seen, Math.min(left, PROGRESS_INTERVAL_MS), hooks.signal);
        if (hooks.signal.aborted) {
          // A closed session is a disconnect (the call still runs if approved); a cancel withdraws it.
          await new Promise((r) => setImmediate(r));
          if (!hooks.disconnected?.()) await this.o.cancel(id, 'cancelled by the agent').catch(() => {});
          break;
        }
        if (!woke) this.progress(held, hooks);
        seen = watch.changes;
      }
    } finally {
      watch.close();
    }
    throw new AirlockError(
      'APPROVAL_PENDING',
      `Approval pending (request ${id}). Call again with the same arguments to get the result; it will run at most once.`,
      { requestId: id, rule: held.rule },
    );
  }

  /** Reads the request: its outcome, 'open' while it has none (noting its deadline), or 'gone'. */
  private async read(held: Held, hooks: CallHooks): Promise<CallToolResult | 'open' | 'gone'> {
    const record = await this.o.store.get(held.id);
    if (!record) return 'gone';
    held.expiresAt = record.expiresAt;
    const outcome = await outcomeOf(record, this.o.store);
    if (outcome) return outcome;
    // The approved call running elsewhere may be waiting for the agent's answers.
    const asked = record.status === 'executing' ? await this.o.questions?.(held.id, hooks) : undefined;
    return asked ?? 'open';
  }

  private progress(held: Held, hooks: CallHooks): void {
    if (!hooks.onProgress) return;
    const left = Math.max(0, held.expiresAt - this.now());
    hooks.onProgress({
      progress: ++held.ticks,
      message: `waiting for approval in ${held.channel}, request ${held.id}, expires in ${humanDuration(left)}`,
    });
  }
}

/** What a wait keeps of its request between reads. */
interface Held {
  readonly id: string;
  readonly rule: string;
  /** When the wait gives up and answers "pending". */
  readonly waitUntil: number;
  /** The request's deadline, from the latest read. */
  expiresAt: number;
  /** Where reviewers are asked, for the progress message. */
  readonly channel: string;
  /** Progress notifications sent so far. */
  ticks: number;
}
