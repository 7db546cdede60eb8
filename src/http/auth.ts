import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Maps bearer tokens to ids in constant time per candidate; tokens are kept only as hashes in memory.
 * With no tokens configured, every caller is `anonymousId` (the config refuses that off loopback).
 */
export class TokenAuth {
  private readonly entries: { hash: Buffer; id: string }[];

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
    const h = sha(m[1]!);
    let found: string | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.hash, h)) found = e.id;
    return found ? { ok: true, id: found } : { ok: false, message: 'Invalid bearer token' };
  }
}

function sha(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
