import { AgentSession, type AgentSessionDeps } from './agent-session.js';
import type { CreateSharedSession } from './legacy-sessions.js';
import type { SessionRegistry } from './session-registry.js';
import type { SessionStore } from './session-store.js';

/**
 * Builds the session object that serves one request of a 2025 session shared through Redis: what the
 * request changes (log level, subscriptions) is written back to the record, and the registry routes
 * upstream notifications to it while it is open.
 */
export function sharedSessionFactory(
  registry: SessionRegistry,
  store: SessionStore,
  deps: Pick<AgentSessionDeps, 'methods' | 'upstreams' | 'logger'>,
): CreateSharedSession {
  return (agent, id, restore) => {
    const session = new AgentSession(agent, {
      ...deps,
      persist: {
        setLogLevel: (level) => store.setLogLevel(id, level),
        setSubscribed: (uri, on) => store.setSubscribed(id, uri, on),
      },
      restore: restore ?? { id, clientCapabilities: {}, clientInfo: {} },
    });
    registry.add(session);
    return session;
  };
}
