import type { App, BlockAction, webApi } from '@slack/bolt';
import type { ApprovalService } from '../approval/approval-service.js';
import type { GrantService } from '../grants/grant-service.js';
import type { Logger } from '../log.js';
import {
  APPROVE_ACTION_ID,
  APPROVE_FOR_ACTION_ID,
  REJECT_ACTION_ID,
  REJECT_REASON_ACTION_ID,
  homeView,
} from './blocks/index.js';
import type { GrantAccess } from './grant-access.js';
import type { PendingSnapshot, ReviewerQueue } from './reviewer-queue.js';

/** What the Home tab is wired with. */
export interface AppHomeOptions {
  /** Where changes come from; any creation, decision, refusal, expiry or cancellation refreshes open Homes. */
  approvals: Pick<ApprovalService, 'on' | 'off'>;
  queue: ReviewerQueue;
  /** The active grants section: which grants a viewer may revoke, and the grant events that refresh it. */
  grants?: { access: GrantAccess; events: Pick<GrantService, 'on' | 'off'> };
  /** Fail-fast Web API client; a failed publish is logged and the next change or visit tries again. */
  client: webApi.WebClient;
  /** Base URL of the console (config `publicUrl`); enables console links. */
  publicUrl?: string;
  logger: Logger;
  /** Delay that folds a burst of changes into one re-publish per viewer. @defaultValue 500 */
  refreshDelayMs?: number;
  /** How long after their last visit a viewer's Home is kept fresh. @defaultValue 1800000 (30 min) */
  viewerTtlMs?: number;
  /** Viewers kept fresh at most, the most recent ones. @defaultValue 200 */
  maxViewers?: number;
  now?: () => number;
}

/** One user's publish in flight, and whether another change arrived meanwhile. */
interface Publishing {
  again: boolean;
  done: Promise<void>;
}

/**
 * Airlock's App Home: on `app_home_opened` it publishes the viewer's pending approvals with the same
 * buttons as the channel message, and keeps the Homes of recent viewers fresh after every change
 * (debounced, best effort: Slack keeps the last view published, so a missed refresh only lasts until
 * the next change or visit). Refreshes follow this replica's events only.
 */
export class AppHome {
  private readonly viewers = new Map<string, number>();
  private readonly publishing = new Map<string, Publishing>();
  private readonly refreshDelayMs: number;
  private readonly viewerTtlMs: number;
  private readonly maxViewers: number;
  private readonly now: () => number;
  private readonly detach: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly o: AppHomeOptions) {
    this.refreshDelayMs = o.refreshDelayMs ?? 500;
    this.viewerTtlMs = o.viewerTtlMs ?? 30 * 60 * 1000;
    this.maxViewers = o.maxViewers ?? 200;
    this.now = o.now ?? Date.now;
  }

  /** Adds the `app_home_opened` listener, and notes who clicks a button on their Home. */
  register(app: App): void {
    app.event('app_home_opened', async ({ event }) => {
      // The event also fires for the Messages tab, which has nothing to publish.
      if (event.tab !== undefined && event.tab !== 'home') return;
      this.remember(event.user);
      await this.publish(event.user);
    });
    // The decision itself is interactions.ts's; this only makes sure the clicker's Home is refreshed after
    // it, even when their visit was seen by another replica or has aged out.
    for (const actionId of [
      APPROVE_ACTION_ID,
      APPROVE_FOR_ACTION_ID,
      REJECT_ACTION_ID,
      REJECT_REASON_ACTION_ID,
    ]) {
      app.action<BlockAction>(actionId, async ({ body }) => {
        if (body.view?.type === 'home') this.remember(body.user.id);
      });
    }
  }

  /** Subscribes to the approval service's events; call once. */
  attach(): void {
    const refresh = () => this.refreshSoon();
    const events = ['created', 'decided', 'refused', 'expired', 'cancelled'] as const;
    for (const name of events) {
      this.o.approvals.on(name, refresh);
      this.detach.push(() => this.o.approvals.off(name, refresh));
    }
    const grants = this.o.grants?.events;
    for (const name of ['created', 'revoked', 'expired'] as const) {
      grants?.on(name, refresh);
      this.detach.push(() => grants?.off(name, refresh));
    }
  }

  /** Publishes `userId`'s Home now (one publish per user at a time; a change meanwhile publishes again). */
  publish(userId: string, snapshot?: PendingSnapshot): Promise<void> {
    const running = this.publishing.get(userId);
    if (running) {
      running.again = true;
      return running.done;
    }
    const entry: Publishing = { again: false, done: Promise.resolve() };
    this.publishing.set(userId, entry);
    entry.done = (async () => {
      try {
        let shared = snapshot;
        do {
          entry.again = false;
          await this.publishOnce(userId, shared);
          // Whatever changed during the publish is only in a fresh read.
          shared = undefined;
        } while (entry.again && !this.closed);
      } finally {
        this.publishing.delete(userId);
      }
    })();
    return entry.done;
  }

  /** Re-publishes every recent viewer's Home from one read of the pending requests. */
  async refresh(): Promise<void> {
    const viewers = this.recentViewers();
    if (viewers.length === 0 || this.closed) return;
    let snapshot: PendingSnapshot;
    try {
      snapshot = await this.o.queue.snapshot();
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'could not read pending requests for Home tabs');
      return;
    }
    await Promise.all(viewers.map((user) => this.publish(user, snapshot)));
  }

  /** Stops refreshing and waits for publishes in flight. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const off of this.detach.splice(0)) off();
    await Promise.allSettled([...this.publishing.values()].map((p) => p.done));
  }

  private remember(userId: string): void {
    // Re-inserting keeps the map in visit order, so the oldest viewers are the first dropped.
    this.viewers.delete(userId);
    this.viewers.set(userId, this.now());
    while (this.viewers.size > this.maxViewers) {
      const oldest = this.viewers.keys().next().value;
      if (oldest === undefined) break;
      this.viewers.delete(oldest);
    }
  }

  private recentViewers(): string[] {
    const cutoff = this.now() - this.viewerTtlMs;
    for (const [user, at] of this.viewers) if (at < cutoff) this.viewers.delete(user);
    return [...this.viewers.keys()];
  }

  // The first change starts the clock and later ones ride along: a steady stream of changes still
  // refreshes every `refreshDelayMs`, where a plain debounce could wait forever.
  private refreshSoon(): void {
    if (this.closed || this.timer || this.viewers.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, this.refreshDelayMs);
    this.timer.unref();
  }

  private async publishOnce(userId: string, snapshot?: PendingSnapshot): Promise<void> {
    try {
      const read = snapshot ?? (await this.o.queue.snapshot());
      const waiting = this.o.queue.waitingFor(read, userId);
      // Grants are a section of the Home; when they cannot be read, the pending requests still show.
      const grants = this.o.grants
        ? await this.o.grants.access.revocableBy(userId).catch((err: Error) => {
            this.o.logger.warn({ user: userId, err: err.message }, 'could not read grants for the Home tab');
            return [];
          })
        : [];
      const view = homeView(waiting.records, {
        grants,
        now: read.at,
        isReviewer: waiting.isReviewer,
        moreUnread: waiting.moreUnread,
        ...(this.o.publicUrl ? { publicUrl: this.o.publicUrl } : {}),
      });
      await this.o.client.views.publish({ user_id: userId, view });
    } catch (err) {
      this.o.logger.warn(
        { user: userId, err: (err as Error).message },
        'could not publish the Slack Home tab',
      );
    }
  }
}
