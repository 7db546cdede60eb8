import {
  ErrorCode,
  McpError,
  type Resource,
  type ResourceTemplate,
} from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { Upstream, RpcMessage, UpstreamRequestOptions } from '../upstream/types.js';

/**
 * Resources have no server in their name, so Airlock remembers which upstream listed each URI
 * (and which URI templates) and routes reads, subscriptions and completions there.
 */
export class ResourceRouter {
  private readonly owners = new Map<string, string>();
  private templates: { server: string; pattern: RegExp; template: string }[] = [];

  constructor(
    private readonly upstreams: UpstreamPool,
    /** False for servers with no policy file: they fail closed for resources too. */
    private readonly governed: (server: string) => boolean = () => true,
  ) {}

  /** resources/list across every upstream that has resources, all pages. */
  async listResources(signal?: AbortSignal): Promise<{ resources: Resource[] }> {
    const out: Resource[] = [];
    for (const u of this.withResources()) {
      const items = await this.paginate<Resource>(u, 'resources/list', 'resources', signal);
      for (const r of items) {
        if (!this.owners.has(r.uri)) this.owners.set(r.uri, u.name);
        out.push(r);
      }
    }
    return { resources: out };
  }

  /** resources/templates/list across every upstream that has resources. */
  async listTemplates(signal?: AbortSignal): Promise<{ resourceTemplates: ResourceTemplate[] }> {
    const out: ResourceTemplate[] = [];
    const templates: typeof this.templates = [];
    for (const u of this.withResources()) {
      const items = await this.paginate<ResourceTemplate>(
        u,
        'resources/templates/list',
        'resourceTemplates',
        signal,
      );
      for (const t of items) {
        templates.push({ server: u.name, pattern: templateRegex(t.uriTemplate), template: t.uriTemplate });
        out.push(t);
      }
    }
    this.templates = templates;
    return { resourceTemplates: out };
  }

  /** Sends a resource request to the upstream that owns `uri`. */
  async forward(
    uri: string,
    req: RpcMessage,
    signal?: AbortSignal,
    options: Omit<UpstreamRequestOptions, 'signal'> = {},
  ): Promise<Record<string, unknown>> {
    const server = await this.ownerOf(uri, signal);
    const u = this.governed(server) ? this.upstreams.get(server) : undefined;
    if (!u) throw new McpError(ErrorCode.InvalidParams, `Unknown resource "${uri}"`);
    return u.request({ method: req.method, params: req.params }, { signal, ...options });
  }

  /**
   * resources/subscribe (or unsubscribe) for `holder`, an agent session: the owning upstream hears of a
   * URI once for all holders, in whatever form its era has (see Upstream.subscribeResource).
   */
  async subscription(
    method: 'resources/subscribe' | 'resources/unsubscribe',
    uri: string,
    holder: string,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const server = await this.ownerOf(uri, signal);
    const u = this.governed(server) ? this.upstreams.get(server) : undefined;
    if (!u) throw new McpError(ErrorCode.InvalidParams, `Unknown resource "${uri}"`);
    if (method === 'resources/subscribe') await u.subscribeResource(uri, holder);
    else await u.unsubscribeResource(uri, holder);
    return {};
  }

  /** Ends every resource subscription of `holder` on every upstream (its session ended). */
  release(holder: string): void {
    for (const u of this.upstreams.list()) u.releaseResources(holder);
  }

  /** Which upstream serves `uri`: listed resources first, then templates, then the only candidate. */
  async ownerOf(uri: string, signal?: AbortSignal): Promise<string> {
    const known = this.owners.get(uri);
    if (known) return known;
    const candidates = this.withResources();
    if (candidates.length === 1) return candidates[0]!.name;
    if (!this.templates.length) await this.listTemplates(signal).catch(() => {});
    const t = this.templates.find((x) => x.pattern.test(uri) || x.template === uri);
    if (t) return t.server;
    await this.listResources(signal).catch(() => {});
    const found = this.owners.get(uri);
    if (found) return found;
    throw new McpError(ErrorCode.InvalidParams, `Unknown resource "${uri}"`);
  }

  /** Forgets cached routes (on resources/list_changed). */
  invalidate(): void {
    this.owners.clear();
    this.templates = [];
  }

  private withResources(): Upstream[] {
    return this.upstreams
      .list()
      .filter((u) => u.state === 'ready' && u.capabilities?.resources && this.governed(u.name));
  }

  private async paginate<T>(u: Upstream, method: string, key: string, signal?: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const res = await u.request({ method, params: cursor ? { cursor } : {} }, { signal });
      out.push(...((res[key] as T[] | undefined) ?? []));
      cursor = typeof res.nextCursor === 'string' ? res.nextCursor : undefined;
      if (!cursor) break;
    }
    return out;
  }
}

/** RFC 6570 level-1 template → regex, enough to route `file:///{path}`-style templates. */
function templateRegex(template: string): RegExp {
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/\\?\{[^}]*\\?\}|\{[^}]*\}/g, '.+')}$`);
}
