import { AirlockError } from '../core/errors.js';

/**
 * The Redis Cluster hash tag of a key prefix: the text between the first `{` and the next `}`, when
 * not empty (Redis hashes only that part of a key to pick its slot). Undefined when there is none.
 */
export function hashTagOf(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return prefix.slice(open + 1, close);
}

/** Rejects a cluster prefix without a hash tag: multi-key scripts would fail with CROSSSLOT on every call. */
export function assertClusterPrefix(prefix: string, cluster: boolean): void {
  if (!cluster || hashTagOf(prefix) !== undefined) return;
  throw new AirlockError(
    'CONFIG_INVALID',
    `redis.prefix "${prefix}" has no hash tag; with redis.cluster every Airlock key must share one slot, ` +
      `so write the prefix in braces, e.g. "{${prefix}}"`,
  );
}

/**
 * Escapes one user-supplied key part so `:` cannot forge another key and `{}` cannot move its slot.
 * encodeURIComponent throws on lone UTF-16 surrogates (which JSON can carry), so they become U+FFFD
 * first; the rare collision that makes is harmless because readers re-check the stored fields.
 */
export function keyPart(value: string): string {
  return encodeURIComponent(value.replace(/\p{Surrogate}/gu, '\ufffd'));
}

/**
 * Builds every Airlock key name under `prefix`. With Redis Cluster the prefix must carry a hash tag
 * such as `{airlock}`: then every key below hashes to one slot, which is what lets a single Lua script
 * (rate limits, first-decision-wins, a record with its history indexes) touch several keys atomically.
 * User-supplied parts are escaped, so an agent named `x{y}` or `a:b` can neither change a key's slot
 * nor collide with another key. BullMQ builds its queues' keys itself, under the same prefix.
 */
export function keyspace(prefix: string) {
  const k = (...parts: string[]): string => [prefix, ...parts].join(':');
  return {
    /** The prefix itself (e.g. `airlock` or `{airlock}`). */
    prefix,
    rate: {
      /** Sliding-window log (sorted set of call timestamps) of one counter; parts are scope then ids. */
      log: (...parts: string[]) => k('rate', ...parts.map(keyPart)),
      /** The longest window any limit has used on that counter, so no shorter limit trims what a longer one needs. */
      retention: (...parts: string[]) => k('rate-retention', ...parts.map(keyPart)),
    },
    approval: {
      /** Hash of one record (`json`, `v`); direct-decision history records share this layout. */
      record: (id: string) => k('ar', id),
      /** What `record` puts before the id, for scripts that derive record keys from ids. */
      recordPrefix: k('ar', ''),
      /** The upstream result of an executed request, kept for the agent's identical retry. */
      result: (id: string) => k('ar', id, 'result'),
      /** The questions an approved call's tool asks the agent's held long poll (src/gateway/held-questions.ts). */
      questions: (id: string) => k('ar', id, 'questions'),
      /** Points an identical call at the request it repeats. */
      dedupe: (key: string) => k('dedupe', key),
      /** Sorted set of pending request ids by `createdAt`. */
      pending: k('pending'),
      /** Pub/sub channel every replica's record writes announce the request id on. */
      events: k('released'),
      /** Held by the replica currently running the repair sweep, so replicas do not repeat each other's work. */
      sweepLock: k('approval-sweep-lock'),
    },
    task: {
      /** Hash of one task's fields (see src/tasks/task-store.ts). */
      record: (id: string) => k('task', keyPart(id)),
      /** What `record` puts before the id, for scripts that derive record keys from ids. */
      recordPrefix: k('task', ''),
      /** Points an approval request id (`ar_…`) at the task its release completes. */
      ofApproval: (approvalId: string) => k('task-of', keyPart(approvalId)),
      /** Sorted set of one agent's task ids, scored by their readable deadline (for cleanup and views). */
      agent: (agent: string) => k('agent-tasks', keyPart(agent)),
      /** Pub/sub channel every task status change announces the task id on. */
      changes: k('task-changes'),
    },
    session: {
      /** Hash of one 2025-era agent session (see src/agent/session-store.ts); expires when idle. */
      record: (id: string) => k('sess', keyPart(id)),
      /** Set of the resource URIs one session subscribed to; expires with its record. */
      subscriptions: (id: string) => k('sess', keyPart(id), 'subs'),
      /** The key every replica signs session ids with, made by the first replica that needs it. */
      secret: k('sess-secret'),
    },
    requestState: {
      /** The key every replica seals 2026-07-28 `requestState` values with (see src/agent/request-state.ts). */
      secret: k('rs-secret'),
    },
    bus: {
      /** Pub/sub channel of the replica bus: messages for 2025 sessions, for whichever replica holds their streams. */
      sessions: k('bus', 'sessions'),
      /** Pub/sub channel of messages for one address on some replica (src/agent/input-relay.ts). */
      relay: k('bus', 'relay'),
    },
    // Grants: one hash each (`json`, `uses`), and sorted sets of ids scored by `expiresAt`.
    grants: {
      /** Hash of one grant: `json` (the grant without `uses`) and `uses` (a counter). */
      grant: (id: string) => k('gr', id),
      /** Grants of one agent for one tool of one server, so a call's lookup reads only its own. */
      byCall: (agent: string, server: string, tool: string) =>
        k('gr-call', keyPart(agent), keyPart(server), keyPart(tool)),
      /** Every grant, for listing and for the sweep that reports expiries. */
      all: k('gr-all'),
    },
    // Every history index is a sorted set of request ids scored by `createdAt`; none is ever a pattern.
    history: {
      /** Every record. */
      all: k('h', 'all'),
      /** Records in one status. */
      status: (status: string) => k('h', 'status', keyPart(status)),
      /** Records of one upstream server. */
      server: (server: string) => k('h', 'server', keyPart(server)),
      /** Records of one tool. */
      tool: (tool: string) => k('h', 'tool', keyPart(tool)),
      /** Records of one agent. */
      agent: (agent: string) => k('h', 'agent', keyPart(agent)),
      /** The composite index that answers "tool X in status Y, newest first" without filtering. */
      toolStatus: (tool: string, status: string) => k('h', 'tool-status', keyPart(tool), keyPart(status)),
      /** Set of every index key in use, so retention can trim them without KEYS/SCAN. */
      registry: k('h', 'indexes'),
      /** Held by the replica currently trimming, so replicas do not repeat each other's work. */
      retentionLock: k('h', 'retention-lock'),
    },
  };
}

/** Every key builder of {@link keyspace}. */
export type Keyspace = ReturnType<typeof keyspace>;

/** Keys of the rate limiter's counters. */
export type RateKeys = Keyspace['rate'];

/** Keys of approval records, their results, dedupe pointers, the pending index and the events channel. */
export type ApprovalKeys = Keyspace['approval'];

/** Keys of tasks, their approval pointers and the per-agent index. */
export type TaskKeys = Keyspace['task'];
/** Keys of grants and their indexes. */
export type GrantKeys = Keyspace['grants'];

/** Keys of the history indexes. */
export type HistoryKeys = Keyspace['history'];

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
