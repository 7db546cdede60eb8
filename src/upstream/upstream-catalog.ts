import type { Prompt, Tool } from '@modelcontextprotocol/sdk/types.js';
import { CoalescedTask } from './coalesced-task.js';
import type { UpstreamSession } from './upstream-session.js';

/** The event a catalog reports when one of its lists changed. */
export type CatalogChange = 'tools-changed' | 'prompts-changed';

/** Where a catalog lists from. */
export interface CatalogSource {
  /** The session to list from; undefined while none is connected. */
  current(): UpstreamSession | undefined;
  /** Timeout of a refresh of a ready session: the server's configured timeout. */
  readonly timeoutMs: number;
  /** Timeout of the listing that is part of connecting. */
  readonly connectTimeoutMs: number;
}

type Lister<T> = (session: UpstreamSession, timeoutMs: number) => Promise<T[]>;

/** One cached list, reloaded through a CoalescedTask so a burst of list_changed costs two reloads at most. */
class CachedList<T> {
  items: T[] = [];
  readonly refresh = new CoalescedTask(() => this.load());

  constructor(
    private readonly source: CatalogSource,
    private readonly list: Lister<T>,
    private readonly changed: () => void,
  ) {}

  private async load(): Promise<void> {
    const session = this.source.current();
    if (!session || session.lost) return;
    // Listing during connect shares the connect budget; later refreshes are ordinary requests.
    const timeoutMs = session.ready ? this.source.timeoutMs : this.source.connectTimeoutMs;
    const items = await this.list(session, timeoutMs);
    if (session !== this.source.current()) return; // a reconnect replaced this session meanwhile
    if (JSON.stringify(items) === JSON.stringify(this.items)) return;
    this.items = items;
    this.changed();
  }
}

/** An upstream's tools and prompts, cached so they outlive the session they were listed from. */
export class UpstreamCatalog {
  private readonly toolList: CachedList<Tool>;
  private readonly promptList: CachedList<Prompt>;

  constructor(source: CatalogSource, changed: (event: CatalogChange) => void) {
    this.toolList = new CachedList(
      source,
      // SDK v2 lists, SDK 1.x types for the rest of Airlock: the same JSON.
      async (s, ms) => (await s.listTools(ms)) as unknown as Tool[],
      () => changed('tools-changed'),
    );
    this.promptList = new CachedList(
      source,
      async (s, ms) => (await s.listPrompts(ms)) as unknown as Prompt[],
      () => changed('prompts-changed'),
    );
  }

  /** The cached tools. */
  tools(): Tool[] {
    return this.toolList.items;
  }

  /** The cached prompts. */
  prompts(): Prompt[] {
    return this.promptList.items;
  }

  /** Reloads both lists from the current session. */
  async refreshAll(): Promise<void> {
    await Promise.all([this.toolList.refresh.run(), this.promptList.refresh.run()]);
  }

  /** Reloads the list a `notifications/…/list_changed` names; other notifications change nothing. */
  async refreshFor(method: string): Promise<void> {
    if (method === 'notifications/tools/list_changed') await this.toolList.refresh.run();
    if (method === 'notifications/prompts/list_changed') await this.promptList.refresh.run();
  }
}
