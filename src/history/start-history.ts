import type { Redis, Cluster } from 'ioredis';
import type { Logger } from '../log.js';
import { HistoryStore } from './history-store.js';
import { HistoryWriter } from './history-writer.js';
import { HistoryRetention } from './history-retention.js';
import { retentionMs } from '../core/retention.js';
import { RequestEvents } from './request-events.js';

/** What {@link startHistory} needs from the composition root. */
export interface HistoryOptions {
  redis: Redis | Cluster;
  /** Opens the dedicated pub/sub connection for live events. */
  subscriber: () => Redis | Cluster;
  prefix: string;
  retentionDays: number;
  logger: Logger;
}

/** The running history: store and query, the direct-decision writer, retention and live events. */
export interface History {
  store: HistoryStore;
  writer: HistoryWriter;
  retention: HistoryRetention;
  events: RequestEvents;
  /** Writes what is queued, stops retention and live events. */
  close(): Promise<void>;
}

/** Wires the history parts and starts retention. */
export function startHistory(o: HistoryOptions): History {
  const retainMs = retentionMs(o.retentionDays);
  const store = new HistoryStore(o.redis, o.prefix, { recordTtlMs: retainMs });
  const writer = new HistoryWriter(store, { logger: o.logger });
  const retention = new HistoryRetention(o.redis, o.prefix, { retentionMs: retainMs, logger: o.logger });
  const events = new RequestEvents({
    redis: o.redis,
    subscriber: o.subscriber,
    prefix: o.prefix,
    logger: o.logger,
  });
  retention.start();
  return {
    store,
    writer,
    retention,
    events,
    close: async () => {
      events.close();
      await retention.stop();
      await writer.flush();
    },
  };
}
