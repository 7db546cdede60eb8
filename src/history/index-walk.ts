import type { Redis, Cluster } from 'ioredis';
import { isBefore, type Position } from './history-cursor.js';

/** One index entry: a request id and its score (`createdAt`). */
export type IndexEntry = Position;

/** Bounds of a walk; scores are epoch ms. */
export interface WalkBounds {
  /** Newest score included. @defaultValue +∞ */
  max?: number;
  /** Oldest score included. @defaultValue −∞ */
  min?: number;
  /** Start strictly after this position (a cursor). */
  after?: Position;
}

/**
 * Walks the union of one or more sorted-set indexes newest first, a chunk at a time. Each step re-reads
 * every index from the current position, so it keeps no Redis-side state and a position is all a cursor
 * needs; entries are merged, de-duplicated and only emitted up to where every index is known complete.
 */
export class IndexWalk {
  /** True once every index is exhausted within the bounds. */
  done = false;
  private pos: { score: number; id?: string };
  private readonly min: string;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: readonly string[],
    bounds: WalkBounds = {},
  ) {
    const max = bounds.max ?? Infinity;
    const after = bounds.after;
    // A cursor older than `until` starts at the cursor; otherwise `until` itself is the (inclusive) start.
    this.pos = after && after.score <= max ? { ...after } : { score: max };
    this.min = scoreArg(bounds.min ?? -Infinity);
    if (!keys.length) this.done = true;
  }

  /** The last position emitted (or the start), for a cursor that resumes after it. */
  get position(): Position | undefined {
    return this.pos.id === undefined ? undefined : { score: this.pos.score, id: this.pos.id };
  }

  /** Up to about `n` next entries, in newest-first order; fewer (possibly none) only when done. */
  async next(n: number): Promise<IndexEntry[]> {
    if (this.done) return [];
    const pipe = this.redis.pipeline();
    for (const key of this.keys)
      pipe.zrange(key, scoreArg(this.pos.score), this.min, 'BYSCORE', 'REV', 'LIMIT', 0, n, 'WITHSCORES');
    const replies = (await pipe.exec()) ?? [];
    const seen = new Set<string>();
    const merged: IndexEntry[] = [];
    let boundary: IndexEntry | undefined;
    for (let i = 0; i < this.keys.length; i++) {
      const [err, reply] = replies[i] ?? [new Error('no reply')];
      if (err) throw err;
      let raw = pairs(reply as string[]);
      let kept = raw.filter((e) => this.isAfterPos(e));
      // Many entries sharing the start score and all already emitted: step over them by offset.
      for (let offset = n; raw.length === n && kept.length === 0; offset += n) {
        raw = pairs(
          await this.redis.zrange(
            this.keys[i]!,
            scoreArg(this.pos.score),
            this.min,
            'BYSCORE',
            'REV',
            'LIMIT',
            offset,
            n,
            'WITHSCORES',
          ),
        );
        kept = raw.filter((e) => this.isAfterPos(e));
      }
      if (raw.length === n) {
        // This index may hold more past its last entry; nothing beyond that is known complete yet.
        const last = raw[raw.length - 1]!;
        if (!boundary || isBefore(last, boundary)) boundary = last;
      }
      for (const e of kept) {
        if (seen.has(e.id)) continue; // an id that changed status between two reads of one step
        seen.add(e.id);
        merged.push(e);
      }
    }
    merged.sort((a, b) => (isBefore(a, b) ? -1 : isBefore(b, a) ? 1 : 0));
    const out = boundary ? merged.filter((e) => !isBefore(boundary!, e)) : merged;
    if (!boundary) this.done = true;
    const last = out[out.length - 1];
    if (last) this.pos = { score: last.score, id: last.id };
    return out;
  }

  private isAfterPos(e: IndexEntry): boolean {
    if (e.score < this.pos.score) return true;
    return e.score === this.pos.score && (this.pos.id === undefined || e.id < this.pos.id);
  }
}

function scoreArg(score: number): string {
  return score === Infinity ? '+inf' : score === -Infinity ? '-inf' : String(score);
}

function pairs(reply: string[]): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push({ id: reply[i]!, score: Number(reply[i + 1]) });
  return out;
}
