import { EventEmitter } from 'node:events';
import type { Prompt, Tool } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../core/errors.js';
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { UpstreamConnection, type UpstreamConnectionOptions } from './upstream-connection.js';
import type { UpstreamHooks, UpstreamState } from './types.js';

/** Events an UpstreamPool emits. */
export interface UpstreamPoolEvents {
  /** The exposed tool set may have changed (some upstream's list changed, or it reconnected with new tools). */
  'tools-changed': [];
  /** The exposed prompt set may have changed. */
  'prompts-changed': [];
  /** One upstream's connection state changed. */
  state: [server: string, state: UpstreamState];
}

/** Where an exposed (possibly prefixed) name leads. */
export interface ResolvedName {
  server: string;
  /** The name as the upstream itself knows it. */
  tool: string;
}

/** Where an exposed prompt name leads. */
export interface ResolvedPrompt {
  server: string;
  /** The name as the upstream itself knows it. */
  prompt: string;
}

interface Entry<T> {
  server: string;
  original: string;
  item: T;
}

type Kind = 'Tool' | 'Prompt';

/** All configured upstreams, with one namespace of tool and prompt names across them. */
export class UpstreamPool extends EventEmitter<UpstreamPoolEvents> {
  private readonly connections = new Map<string, UpstreamConnection>();
  private toolIndex = new Map<string, Entry<Tool>>();
  private promptIndex = new Map<string, Entry<Prompt>>();
  private started = false;
  // Collisions already reported, so a chatty list_changed doesn't repeat the same error line.
  private readonly reported = new Set<string>();
  private readonly log: Logger;

  constructor(
    servers: Record<string, ServerConfig>,
    hooks: UpstreamHooks,
    logger: Logger,
    options: UpstreamConnectionOptions = {},
  ) {
    super();
    this.log = logger.child({ component: 'upstream-pool' });
    for (const [name, config] of Object.entries(servers)) {
      const connection = new UpstreamConnection(name, config, hooks, logger, options);
      connection.on('state', (state) => this.emit('state', name, state));
      connection.on('tools-changed', () => {
        if (!this.started) return;
        this.toolIndex = this.build('Tool', (c) => c.tools(), this.toolIndex);
        this.emit('tools-changed');
      });
      connection.on('prompts-changed', () => {
        if (!this.started) return;
        this.promptIndex = this.build('Prompt', (c) => c.prompts(), this.promptIndex);
        this.emit('prompts-changed');
      });
      this.connections.set(name, connection);
    }
  }

  /**
   * Connects to every upstream in parallel; resolves even when some are down (they keep retrying).
   * Throws CONFIG_INVALID, after closing them all, when two servers expose the same tool or prompt name.
   */
  async start(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.start()));
    const clashes = [
      ...this.collisions('Tool', (c) => c.tools()),
      ...this.collisions('Prompt', (c) => c.prompts()),
    ];
    if (clashes.length > 0) {
      await this.close();
      throw new AirlockError('CONFIG_INVALID', clashes.join('. '), { collisions: clashes });
    }
    this.toolIndex = this.build('Tool', (c) => c.tools(), new Map());
    this.promptIndex = this.build('Prompt', (c) => c.prompts(), new Map());
    this.started = true;
  }

  /** Closes every upstream connection. */
  async close(): Promise<void> {
    this.started = false;
    await Promise.all([...this.connections.values()].map((c) => c.close()));
  }

  /** The connection to one configured server. */
  get(name: string): UpstreamConnection | undefined {
    return this.connections.get(name);
  }

  /** All connections, in configuration order. */
  list(): UpstreamConnection[] {
    return [...this.connections.values()];
  }

  /** Which server and upstream tool an exposed tool name stands for. */
  resolveTool(exposedName: string): ResolvedName | undefined {
    const entry = this.toolIndex.get(exposedName);
    return entry && { server: entry.server, tool: entry.original };
  }

  /** One exposed tool, a copy of the upstream's with `name` set to the exposed name. */
  exposedTool(exposedName: string): Tool | undefined {
    const entry = this.toolIndex.get(exposedName);
    return entry && { ...entry.item, name: exposedName };
  }

  /** Every exposed tool, each a copy of the upstream's with `name` set to the exposed name. */
  exposedTools(): { server: string; tool: Tool }[] {
    return [...this.toolIndex.entries()].map(([name, e]) => ({
      server: e.server,
      tool: { ...e.item, name },
    }));
  }

  /** Which server and upstream prompt an exposed prompt name stands for. */
  resolvePrompt(exposedName: string): ResolvedPrompt | undefined {
    const entry = this.promptIndex.get(exposedName);
    return entry && { server: entry.server, prompt: entry.original };
  }

  /** Every exposed prompt, with `name` set to the exposed name. */
  exposedPrompts(): { server: string; prompt: Prompt }[] {
    return [...this.promptIndex.entries()].map(([name, e]) => ({
      server: e.server,
      prompt: { ...e.item, name },
    }));
  }

  private exposedName(connection: UpstreamConnection, name: string): string {
    return `${connection.config.toolPrefix ?? ''}${name}`;
  }

  /** Exposed name → servers offering it, in configuration order. */
  private owners(list: (c: UpstreamConnection) => { name: string }[]): Map<string, string[]> {
    const owners = new Map<string, string[]>();
    for (const connection of this.connections.values()) {
      for (const item of list(connection)) {
        const exposed = this.exposedName(connection, item.name);
        const servers = owners.get(exposed) ?? [];
        if (!servers.includes(connection.name)) servers.push(connection.name);
        owners.set(exposed, servers);
      }
    }
    return owners;
  }

  /** One message per set of clashing servers, naming the clashing names. */
  private collisions(kind: Kind, list: (c: UpstreamConnection) => { name: string }[]): string[] {
    const byServers = new Map<string, { servers: string[]; names: string[] }>();
    for (const [name, servers] of this.owners(list)) {
      if (servers.length < 2) continue;
      const key = servers.join('\0');
      const group = byServers.get(key) ?? { servers, names: [] };
      group.names.push(name);
      byServers.set(key, group);
    }
    return [...byServers.values()].map((g) => collisionMessage(kind, g.names, g.servers));
  }

  /**
   * Rebuilds a name index. A name that became ambiguous after startup stays with the server that had it
   * (else the first in configuration order): tools an agent already uses must not change meaning.
   */
  private build<T extends { name: string }>(
    kind: Kind,
    list: (c: UpstreamConnection) => T[],
    previous: Map<string, Entry<T>>,
  ): Map<string, Entry<T>> {
    const owners = this.owners(list);
    const index = new Map<string, Entry<T>>();
    for (const connection of this.connections.values()) {
      for (const item of list(connection)) {
        const exposed = this.exposedName(connection, item.name);
        if (index.has(exposed)) continue;
        const servers = owners.get(exposed) ?? [connection.name];
        const previousOwner = previous.get(exposed)?.server;
        const owner = previousOwner && servers.includes(previousOwner) ? previousOwner : servers[0];
        if (owner !== connection.name) continue;
        if (servers.length > 1) {
          const message = collisionMessage(kind, [exposed], [owner, ...servers.filter((s) => s !== owner)]);
          if (!this.reported.has(message)) {
            this.reported.add(message);
            this.log.error(
              { name: exposed, servers, kept: owner },
              `${message}; keeping the one from "${owner}"`,
            );
          }
        }
        index.set(exposed, { server: connection.name, original: item.name, item });
      }
    }
    return index;
  }
}

function quoteList(items: string[], max = Infinity): string {
  const quoted = items.slice(0, max).map((s) => `"${s}"`);
  if (items.length > max) quoted.push(`${items.length - max} more`);
  return quoted.length <= 2 ? quoted.join(' and ') : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
}

// `Tool "x" is offered by servers "a" and "b"; set "toolPrefix" on one of them`
function collisionMessage(kind: Kind, names: string[], servers: string[]): string {
  const subject =
    names.length === 1 ? `${kind} ${quoteList(names)} is` : `${kind}s ${quoteList(names, 3)} are`;
  const which = servers.length > 2 ? 'all but one of them' : 'one of them';
  return `${subject} offered by servers ${quoteList(servers)}; set "toolPrefix" on ${which}`;
}
