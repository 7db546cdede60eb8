import type { webApi } from '@slack/bolt';
import type { ApprovalStore, StoredRecord } from '../approval/approval-store.js';
import type { ReviewerRef } from '../core/approval/identity.js';
import type { SlackMessageRef } from '../core/approval/types.js';
import type { Logger } from '../log.js';
import {
  escalationReply,
  executionReply,
  messageFor,
  reminderReply,
  type MessageOptions,
  type SlackMessage,
} from './blocks/index.js';

/** The request message is not in Slack yet, so it cannot be updated or replied to; retried with backoff. */
export class NotPostedYetError extends Error {
  override readonly name = 'NotPostedYetError';
}

/** Neither the rule nor the config names a channel, so there is nowhere to post; never retried. */
export class NoChannelError extends Error {
  override readonly name = 'NoChannelError';
}

/** What {@link MessageSync} needs. */
export interface MessageSyncOptions {
  client: webApi.WebClient;
  store: ApprovalStore;
  /** The channel a request's message goes to (the rule's, else config `slack.channel`). */
  channelOf: (record: Pick<StoredRecord, 'approval'>) => string | undefined;
  /** Rendering options for a record (console links, risk hints). */
  messageOptions: (record: StoredRecord) => MessageOptions;
  logger: Logger;
  /** Configured reviewers, so reminders can mention them by their Slack ids. @defaultValue none */
  reviewers?: readonly ReviewerRef[];
  /** Called once when a request's message has been posted and recorded (for the audit log). */
  onPosted?: (record: StoredRecord, ref: SlackMessageRef) => void;
}

// Rounds of "update, then check nothing changed meanwhile" before leaving the rest to later jobs.
const MAX_CONVERGE_ROUNDS = 5;

/**
 * Keeps a request's Slack message in step with its record: posts it once, updates it in place, and
 * threads the execution outcome. Every operation renders the record as it is *now*, so jobs that run
 * late or out of order still leave the message showing the latest state.
 */
export class MessageSync {
  // Posted but not yet recorded (Redis hiccup): a retry on this replica stores the ref instead of posting twice.
  private readonly unsaved = new Map<string, SlackMessageRef>();

  constructor(private readonly o: MessageSyncOptions) {}

  /** The channel a request is posted in: the rule's, else the config's. */
  channelOf(record: Pick<StoredRecord, 'approval'>): string | undefined {
    return this.o.channelOf(record);
  }

  /** Posts the request message and stores `{channel, ts}` in the record; a no-op once posted. */
  async post(id: string): Promise<void> {
    const record = await this.o.store.get(id);
    if (!record) return;
    if (record.slack) {
      this.unsaved.delete(id);
      await this.converge(record);
      return;
    }
    let ref = this.unsaved.get(id);
    // The version the posted message shows; unknown when it was posted by an earlier attempt.
    let shown: number | undefined;
    if (!ref) {
      const channel = this.channelOf(record);
      if (!channel)
        throw new NoChannelError(`request ${id}: no Slack channel in rule ${record.rule} or slack.channel`);
      const msg = this.render(record);
      const res = await this.o.client.chat.postMessage({
        channel,
        text: msg.text,
        blocks: msg.blocks,
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!res.ts) throw new Error(`chat.postMessage for ${id} returned no ts`);
      ref = { channel: res.channel ?? channel, ts: res.ts };
      shown = record.version;
      this.unsaved.set(id, ref);
    }
    const stored = await this.storeRef(id, ref);
    this.unsaved.delete(id);
    if (!stored) return;
    if (stored.slack?.ts !== ref.ts) {
      // Another post won the race to be recorded; ours would be a stray second copy.
      await this.o.client.chat.delete({ channel: ref.channel, ts: ref.ts }).catch(() => {});
      return;
    }
    // A decision may have landed between rendering and recording the ref, and its update job found no
    // message to update; bring the message up to date now rather than after that job's backoff.
    if (shown === undefined || stored.version !== shown + 1) await this.converge(stored);
  }

  /** Rewrites the message to match the record; fails with NotPostedYetError until it was posted. */
  async update(id: string): Promise<void> {
    const record = await this.o.store.get(id);
    if (!record) return;
    if (!record.slack) throw new NotPostedYetError(`request ${id} has no Slack message yet`);
    await this.converge(record);
  }

  /** Replies in the message's thread with how the approved call ran. */
  async reply(id: string): Promise<void> {
    const record = await this.o.store.get(id);
    if (!record) return;
    if (!record.slack) throw new NotPostedYetError(`request ${id} has no Slack message yet`);
    await this.o.client.chat.postMessage({
      channel: record.slack.channel,
      thread_ts: record.slack.ts,
      text: executionReply(record).text,
      unfurl_links: false,
      unfurl_media: false,
    });
  }

  /** Re-pings the approvers in the request's thread; a request decided meanwhile gets no reminder. */
  async remind(id: string): Promise<void> {
    const record = await this.o.store.get(id);
    if (!record || record.status !== 'pending') return;
    if (!record.slack) throw new NotPostedYetError(`request ${id} has no Slack message yet`);
    await this.threadReply(record.slack, reminderReply(record, this.o.reviewers ?? []).text);
  }

  /**
   * Tells the approvers escalation step `step` added: with a channel, posts the request message there
   * (same buttons; its ref is stored so updates edit it too) and names them under it; else names them
   * in the request's thread.
   */
  async escalate(id: string, step: number): Promise<void> {
    const record = await this.o.store.get(id);
    const entry = record?.escalations?.find((e) => e.step === step);
    if (!record || !entry) return;
    const text = escalationReply(record, step, this.o.reviewers ?? []).text;
    if (!entry.channel) {
      if (record.status !== 'pending') return;
      if (!record.slack) throw new NotPostedYetError(`request ${id} has no Slack message yet`);
      await this.threadReply(record.slack, text);
      return;
    }
    if (entry.slack) return;
    if (record.status !== 'pending') return;
    const key = `${id}#${step}`;
    let ref = this.unsaved.get(key);
    if (!ref) {
      const msg = this.render(record);
      const res = await this.o.client.chat.postMessage({
        channel: entry.channel,
        text: msg.text,
        blocks: msg.blocks,
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!res.ts) throw new Error(`chat.postMessage for ${id} (escalation ${step}) returned no ts`);
      ref = { channel: res.channel ?? entry.channel, ts: res.ts };
      this.unsaved.set(key, ref);
    }
    const stored = await this.storeEscalationRef(id, step, ref);
    this.unsaved.delete(key);
    if (!stored) return;
    if (stored.escalations?.find((e) => e.step === step)?.slack?.ts !== ref.ts) {
      await this.o.client.chat.delete({ channel: ref.channel, ts: ref.ts }).catch(() => {});
      return;
    }
    await this.threadReply(ref, text);
    // A decision may have landed before the ref was stored; its update job did not know this message.
    if (stored.status !== 'pending' && stored.slack) await this.converge(stored);
  }

  private async threadReply(ref: SlackMessageRef, text: string): Promise<void> {
    await this.o.client.chat.postMessage({
      channel: ref.channel,
      thread_ts: ref.ts,
      text,
      unfurl_links: false,
      unfurl_media: false,
    });
  }

  private render(record: StoredRecord): SlackMessage {
    return messageFor(record, this.o.messageOptions(record));
  }

  // Update, then re-read: if the record changed while we wrote, the message may show an older state
  // than a concurrent job's, so write again. The last writer always ends on the latest state.
  private async converge(start: StoredRecord): Promise<void> {
    let record = start;
    for (let round = 0; round < MAX_CONVERGE_ROUNDS; round++) {
      const ref = record.slack;
      if (!ref) throw new NotPostedYetError(`request ${record.id} has no Slack message yet`);
      const sent = this.render(record);
      // Escalation channels carry a copy of the request message; every copy shows the same state.
      const copies = (record.escalations ?? []).flatMap((e) => (e.slack ? [e.slack] : []));
      for (const target of [ref, ...copies]) {
        await this.o.client.chat.update({
          channel: target.channel,
          ts: target.ts,
          text: sent.text,
          blocks: sent.blocks,
        });
      }
      const latest = await this.o.store.get(record.id);
      if (!latest || latest.version === record.version) return;
      // Bookkeeping writes (e.g. "outcome delivered") bump the version without changing the message.
      if (sameMessage(this.render(latest), sent)) return;
      record = latest;
    }
    this.o.logger.debug({ id: start.id }, 'Slack message still changing; later jobs will catch up');
  }

  // Like storeRef, for the copy posted in an escalation step's channel.
  private async storeEscalationRef(
    id: string,
    step: number,
    ref: SlackMessageRef,
  ): Promise<StoredRecord | undefined> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await this.o.store.get(id);
      if (!current) return undefined;
      const entry = current.escalations?.find((e) => e.step === step);
      if (!entry || entry.slack) return current;
      const escalations = (current.escalations ?? []).map((e) =>
        e.step === step ? { ...e, slack: ref } : e,
      );
      const written = await this.o.store.compareAndSet(current, { ...current, escalations });
      if (written) return written;
    }
    throw new Error(`request ${id}: too many concurrent updates to record its escalation message`);
  }

  // Compare-and-set loop: the record is written by deciders on every replica at the same time.
  private async storeRef(id: string, ref: SlackMessageRef): Promise<StoredRecord | undefined> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await this.o.store.get(id);
      if (!current) return undefined;
      if (current.slack) return current;
      const written = await this.o.store.compareAndSet(current, { ...current, slack: ref });
      if (written) {
        this.o.onPosted?.(written, ref);
        return written;
      }
    }
    throw new Error(`request ${id}: too many concurrent updates to record its Slack message`);
  }
}

function sameMessage(a: SlackMessage, b: SlackMessage): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
