// How the listen hub reaches the rest of Airlock: the agent's visible tools, and resource subscriptions
// made upstream for the URIs a stream asks for.
import type { Logger } from '../log.js';
import type { UpstreamConnection } from '../upstream/upstream-connection.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { AgentMethods } from './agent-methods.js';
import { ListenHub, type ListenHubDeps } from './listen-stream.js';
import type { ResourceRouter } from './resource-router.js';
import type { SessionRegistry } from './session-registry.js';

/** What {@link createListenHub} wires together. */
export interface ListenWiring {
  methods: Pick<AgentMethods, 'listTools' | 'features'>;
  /** The pool and router, asked for when a stream needs them (they are built after the hub). */
  upstreams: () => UpstreamPool;
  resources: () => ResourceRouter;
  sessions: SessionRegistry;
  /** False for servers with no policy file: their resources stay hidden (fail closed). */
  governed: (server: string) => boolean;
  /** Follows an agent's task for `notifications/tasks`. @defaultValue none: `taskIds` acknowledged empty */
  followTask?: ListenHubDeps['followTask'];
  logger: Logger;
}

/**
 * Connected, governed upstreams that send `resources/updated` for a subscribed URI. Only 2025 ones: the
 * upstream client does not offer `resources/subscribe` towards a 2026-07-28 upstream.
 */
export function subscribableUpstreams(
  upstreams: UpstreamPool,
  governed: (server: string) => boolean,
): UpstreamConnection[] {
  return upstreams
    .list()
    .filter(
      (u) =>
        u.state === 'ready' && governed(u.name) && u.era === 'legacy' && u.capabilities?.resources?.subscribe,
    );
}

/** The listen hub of one Airlock. */
export function createListenHub(w: ListenWiring): ListenHub {
  const ownerOf = async (uri: string, signal?: AbortSignal) => {
    const server = await w
      .resources()
      .ownerOf(uri, signal)
      .catch(() => undefined);
    return subscribableUpstreams(w.upstreams(), w.governed).find((u) => u.name === server);
  };
  return new ListenHub({
    listTools: (agent) => w.methods.listTools(agent),
    features: () => w.methods.features(),
    subscribeResource: async (uri, signal) => {
      const upstream = await ownerOf(uri, signal);
      if (!upstream) return false;
      await upstream.request({ method: 'resources/subscribe', params: { uri } }, { signal });
      return true;
    },
    unsubscribeResource: async (uri) => {
      // A 2025 session subscribed to the same URI still needs the upstream's updates.
      if (w.sessions.all().some((s) => s.subscriptions.has(uri))) return;
      const upstream = await ownerOf(uri);
      await upstream?.request({ method: 'resources/unsubscribe', params: { uri } });
    },
    ...(w.followTask && { followTask: w.followTask }),
    logger: w.logger,
  });
}
