import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Maps bearer tokens to ids in constant time per candidate; tokens are kept only as hashes in memory.
 * With no tokens configured, every caller is `anonymousId` (the config refuses that off loopback).
 */
export class TokenAuth {
  private readonly entries: { hash: Buffer; id: string }[];
  /**
   * Tokens already matched, to their ids, so a client sending its token on every request is not hashed
   * every time. Only configured tokens get in, so it holds at most one entry per principal.
   */
  private readonly known = new Map<string, string>();

  constructor(
    principals: readonly { id: string; token?: string }[],
    private readonly anonymousId: string | undefined,
  ) {
    this.entries = principals
      .filter((p): p is { id: string; token: string } => Boolean(p.token))
      .map((p) => ({ hash: sha(p.token), id: p.id }));
  }

  /** True when tokens are required. */
  get required(): boolean {
    return this.entries.length > 0 || this.anonymousId === undefined;
  }

  /** The principal for an `Authorization` header value, or an error message for a 401. */
  authenticate(header: string | undefined): { ok: true; id: string } | { ok: false; message: string } {
    if (!this.required) return { ok: true, id: this.anonymousId! };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return { ok: false, message: 'Missing bearer token: send "Authorization: Bearer <token>"' };
    const token = m[1]!;
    const cached = this.known.get(token);
    if (cached !== undefined) return { ok: true, id: cached };
    const h = sha(token);
    let found: string | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.hash, h)) found = e.id;
    if (!found) return { ok: false, message: 'Invalid bearer token' };
    if (this.known.size < this.entries.length) this.known.set(token, found);
    return { ok: true, id: found };
  }
}

function sha(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
