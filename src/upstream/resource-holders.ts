/**
 * Which agent sessions subscribed to which resource URIs on one upstream connection. The upstream hears
 * of a URI once: when its first holder arrives and when its last one leaves, and again after a reconnect.
 */
export class ResourceHolders {
  private readonly holders = new Map<string, Set<string>>();

  /** Records `holder` for `uri`; true when it is the URI's first, so the upstream must be told. */
  add(uri: string, holder: string): boolean {
    const set = this.holders.get(uri);
    if (set) {
      set.add(holder);
      return false;
    }
    this.holders.set(uri, new Set([holder]));
    return true;
  }

  /** Forgets `holder` for `uri`; true when that was the URI's last, so the upstream must be told. */
  remove(uri: string, holder: string): boolean {
    const set = this.holders.get(uri);
    if (!set?.delete(holder)) return false;
    if (set.size > 0) return false;
    this.holders.delete(uri);
    return true;
  }

  /** Forgets `holder` everywhere; the URIs nobody holds any more. */
  release(holder: string): string[] {
    const freed: string[] = [];
    for (const uri of [...this.holders.keys()]) if (this.remove(uri, holder)) freed.push(uri);
    return freed;
  }

  /** Every URI someone holds. */
  uris(): string[] {
    return [...this.holders.keys()];
  }
}
