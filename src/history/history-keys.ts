import { keyPart } from '../redis/keys.js';

/**
 * Key names of the history indexes, under the same prefix (and so the same Redis Cluster hash tag) as
 * the records they point at, so one Lua script can write a record and all its index entries atomically.
 *
 * Every index is a sorted set of request ids scored by `createdAt`. User-supplied parts (tool, server,
 * agent names) are percent-encoded: a value can neither forge another key (`:`) nor move the key to
 * another cluster slot (`{}`), and it is never a pattern.
 */
export function historyKeys(prefix: string) {
  const k = (...parts: string[]) => [prefix, 'h', ...parts].join(':');
  return {
    /** Every record. */
    all: k('all'),
    /** Records in one status. */
    status: (status: string) => k('status', keyPart(status)),
    server: (server: string) => k('server', keyPart(server)),
    tool: (tool: string) => k('tool', keyPart(tool)),
    agent: (agent: string) => k('agent', keyPart(agent)),
    /** The composite index that answers "tool X in status Y, newest first" without filtering. */
    toolStatus: (tool: string, status: string) => k('tool-status', keyPart(tool), keyPart(status)),
    /** Set of every index key in use, so retention can trim them without KEYS/SCAN. */
    registry: k('indexes'),
    /** Held by the replica currently trimming, so replicas do not repeat each other's work. */
    retentionLock: k('retention-lock'),
  };
}

/** The key builders of {@link historyKeys}. */
export type HistoryKeys = ReturnType<typeof historyKeys>;

/** The fields a record is indexed by. */
export interface IndexedFields {
  server: string;
  tool: string;
  agent: string;
  status: string;
}

/** How many indexes each record is in (the length of {@link indexKeysOf}). */
export const INDEXES_PER_RECORD = 6;

/** Every index key a record with these fields belongs to; the status-dependent ones come last. */
export function indexKeysOf(keys: HistoryKeys, r: IndexedFields): string[] {
  return [keys.all, keys.server(r.server), keys.tool(r.tool), keys.agent(r.agent), ...statusKeysOf(keys, r)];
}

/** The two index keys that change when a record's status changes. */
export function statusKeysOf(keys: HistoryKeys, r: { tool: string; status: string }): [string, string] {
  return [keys.status(r.status), keys.toolStatus(r.tool, r.status)];
}
