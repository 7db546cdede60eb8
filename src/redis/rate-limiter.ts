import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { AirlockError } from '../core/errors.js';
import type { LimitSpec } from '../core/policy/types.js';
import type { RedisClient } from './connection.js';
import { assertClusterPrefix, keyspace, type RateKeys } from './keyspace.js';
import { loadScripts, queueScript, runScript, scriptPipeline } from './lua-scripts.js';

/** Who is calling what; picks the counter a limit's scope refers to. */
export interface RateLimitContext {
  agent: string;
  server: string;
  tool: string;
  /** A shadow-mode call: counted apart, so shadowed calls never use up what enforced rules allow. */
  shadow?: boolean;
}

/** The outcome of one rate-limit check; when refused, nothing was counted. */
export type RateLimitResult = { allowed: true } | { allowed: false; limit: LimitSpec; retryAfterSec: number };

/**
 * Calls a lease asks to count ahead: the first for a counter, and at most; in between, twice what the
 * counter's last lease spent. The script grants at most an eighth of the room left.
 */
const LEASE_FIRST = 8;
const LEASE_MOST = 64;
/** How long a lease's calls may be spent: at most this, and at most a twentieth of the shortest window. */
const LEASE_MAX_MS = 250;
/** Limits whose shortest window gives a lease less than this are counted one call at a time. */
const LEASE_MIN_MS = 10;

const ALLOWED: RateLimitResult = { allowed: true };

/**
 * Counts calls against policy limits in Redis, shared by every replica.
 *
 * Algorithm: a sliding-window log per counter, a sorted set holding one entry (unique member, score =
 * Redis time in ms) per counted call. A check trims entries older than the window, counts the rest,
 * and adds the call only if every limit of the call has room, all in one Lua script
 * (`scripts/check-rate-limits.lua`), so concurrent calls on any replica can never overshoot and a
 * refused call consumes nothing. No fixed-window bursts at boundaries (unlike counters) and no
 * approximation (unlike GCRA), at a memory cost of O(max) entries per counter (~tens of bytes each),
 * since an over-limit call is never recorded; a counter shared by a shorter and a longer window keeps
 * entries for the longer one. Keys expire after their retention of inactivity.
 *
 * Leases: where a limit has plenty of room, one script run counts calls ahead for this replica (8 at
 * first, then twice what the counter's last lease spent, at most 64, and never more than an eighth of
 * the room the fullest limit has left), scored at the lease's end, and the calls that follow within
 * the lease (at most 250 ms, and a twentieth of the shortest window) spend them without a round trip.
 * When the lease ends, the calls it did not spend are removed from the logs. So the window never
 * admits more than its max, on any number of replicas; what leasing changes is only that a call may be
 * counted up to the lease's length longer than its own time, and that calls leased but not yet spent
 * by one replica count as used for the others until they are spent or given back. Near the max (less
 * than 16 left) and for limits below 16, every call is one exact script run. Concurrent calls that find
 * no lease wait for the one request under way rather than each sending one.
 *
 * Counter keys by scope: `grant` → agent + server + tool + counter; `agent` → agent + counter (shared
 * by every rule and tool naming the counter); `global` → counter. Shadow-mode calls count under
 * `shadow` + the same parts.
 *
 * Checks that arrive in the same turn of the event loop go to Redis as one pipeline (one write, one
 * read): each script still runs atomically and in arrival order, so the outcome is the same as one
 * round trip per check, at a fraction of the system calls under concurrency.
 */
export class RateLimiter {
  private readonly keys: RateKeys;
  private batch: PendingCheck[] = [];
  /** Live leases by the limits they count (their keys, windows and maxes). */
  private readonly leases = new Map<string, Lease>();
  /** Lease requests under way, by the same key: concurrent calls wait for it. */
  private readonly leasing = new Map<string, Promise<RateLimitResult>>();
  /** What the next lease asks for, where its last lease ended on time and that is not LEASE_FIRST. */
  private readonly demand = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    assertClusterPrefix(prefix, redis instanceof Cluster);
    this.keys = keyspace(prefix).rate;
    loadScripts(redis);
  }

  /** Consumes one call from every limit, or from none when any is full; Redis failures throw REDIS_UNAVAILABLE. */
  async check(limits: readonly LimitSpec[], ctx: RateLimitContext): Promise<RateLimitResult> {
    if (limits.length === 0) return ALLOWED;
    const keys: string[] = [];
    const limitArgs: string[] = [];
    let shortest = Infinity;
    for (const limit of limits) {
      const parts = counterParts(limit, ctx);
      const windowMs = Math.max(1, Math.round(limit.windowMs));
      keys.push(this.keys.log(...parts), this.keys.retention(...parts));
      limitArgs.push(String(windowMs), String(limit.max));
      shortest = Math.min(shortest, windowMs);
    }
    const leaseMs = Math.min(LEASE_MAX_MS, Math.floor(shortest / 20));
    if (leaseMs < LEASE_MIN_MS) return this.count(limits, keys, limitArgs, 1, 0);

    const key = JSON.stringify([keys, limitArgs]);
    if (this.leases.get(key)?.take()) return ALLOWED;
    const underWay = this.leasing.get(key);
    if (underWay) {
      const outcome = await underWay;
      if (!outcome.allowed) return outcome;
      if (this.leases.get(key)?.take()) return ALLOWED;
      return this.count(limits, keys, limitArgs, 1, 0);
    }
    const request = this.count(limits, keys, limitArgs, this.nextWant(key), leaseMs, key);
    this.leasing.set(key, request);
    try {
      return await request;
    } finally {
      this.leasing.delete(key);
    }
  }

  /**
   * One script run: counts this call, and with `want` > 1 asks to count that many; a grant of more than
   * one becomes the lease under `leaseKey`.
   */
  private async count(
    limits: readonly LimitSpec[],
    keys: string[],
    limitArgs: string[],
    want: number,
    leaseMs: number,
    leaseKey?: string,
  ): Promise<RateLimitResult> {
    const id = `${Date.now()}-${randomBytes(8).toString('hex')}`;
    const sentAt = performance.now();
    const [index, retryMs, granted] = await this.run(keys, [id, String(want), String(leaseMs), ...limitArgs]);
    if (index === 0) {
      if (granted > 1 && leaseKey !== undefined)
        this.startLease(leaseKey, keys, id, granted, sentAt + leaseMs);
      return ALLOWED;
    }
    const limit = limits[index - 1];
    if (!limit) throw new AirlockError('INTERNAL', `Rate limit script returned unknown limit #${index}`);
    return { allowed: false, limit, retryAfterSec: Math.max(1, Math.ceil(retryMs / 1000)) };
  }

  /** Twice what the counter's last lease spent: all of it when used up before its end, else what it did. */
  private nextWant(key: string): number {
    const last = this.leases.get(key);
    if (last) return Math.min(LEASE_MOST, 2 * last.spentCalls);
    return this.demand.get(key) ?? LEASE_FIRST;
  }

  /** Keeps a granted lease (its first call is the one that asked) until it is spent or ends. */
  private startLease(key: string, keys: string[], id: string, granted: number, endsAt: number): void {
    const lease = new Lease(granted, endsAt);
    this.leases.set(key, lease);
    const timer = setTimeout(
      () => {
        if (this.leases.get(key) === lease) {
          this.leases.delete(key);
          const want = Math.min(LEASE_MOST, Math.max(2, 2 * lease.spentCalls));
          if (want === LEASE_FIRST) this.demand.delete(key);
          else this.demand.set(key, want);
        }
        const unspent = lease.close();
        if (unspent.length) this.giveBack(keys, id, unspent);
      },
      Math.max(0, endsAt - performance.now()),
    );
    timer.unref();
  }

  /**
   * Removes a lease's unspent calls from its logs. Best effort: if Redis cannot be reached they stay
   * counted until they leave the window, which refuses early but never admits too many.
   */
  private giveBack(keys: string[], id: string, unspent: number[]): void {
    const members = unspent.map((j) => `${id}:${j}`);
    const pipe = this.redis.pipeline();
    for (let i = 0; i < keys.length; i += 2) pipe.zrem(keys[i]!, ...members);
    pipe.exec().catch(() => undefined);
  }

  private async run(keys: string[], args: string[]): Promise<[number, number, number]> {
    let reply: unknown;
    try {
      reply = await this.send(keys, args);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new AirlockError(
        'REDIS_UNAVAILABLE',
        `Rate limit store unavailable: ${message}`,
        {},
        { cause: err },
      );
    }
    if (!Array.isArray(reply) || reply.length !== 3) {
      throw new AirlockError('INTERNAL', `Rate limit script returned ${JSON.stringify(reply)}`);
    }
    return [Number(reply[0]), Number(reply[1]), Number(reply[2])];
  }

  /** Queues one script run for the batch of this event-loop turn; resolves with its reply. */
  private send(keys: string[], args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.batch.push({ keys, args, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 1) {
      const [only] = batch as [PendingCheck];
      runScript(this.redis, 'check-rate-limits', only.keys, only.args).then(only.resolve, only.reject);
      return;
    }
    let pipe;
    try {
      pipe = scriptPipeline(this.redis);
      for (const c of batch) queueScript(pipe, 'check-rate-limits', c.keys, c.args);
    } catch (err) {
      for (const c of batch) c.reject(err);
      return;
    }
    pipe.exec().then(
      (replies) => {
        batch.forEach((c, i) => {
          const [err, reply] = replies?.[i] ?? [new Error('no reply in the pipeline'), undefined];
          if (err) c.reject(err);
          else c.resolve(reply);
        });
      },
      (err: unknown) => {
        for (const c of batch) c.reject(err);
      },
    );
  }
}

/** Calls counted ahead for this replica: spent one at a time until all are, or its time is up. */
class Lease {
  private spent = 1;

  constructor(
    private readonly granted: number,
    /** `performance.now()` by which the last call must be spent: never after the lease's end in Redis. */
    private readonly endsAt: number,
  ) {}

  /** Spends one call of the lease; false when none is left or its time is up. */
  take(): boolean {
    if (this.spent >= this.granted || performance.now() >= this.endsAt) return false;
    this.spent++;
    return true;
  }

  get spentCalls(): number {
    return this.spent;
  }

  /** Ends the lease; returns the indexes of the calls it did not spend. */
  close(): number[] {
    const unspent: number[] = [];
    for (let j = this.spent; j < this.granted; j++) unspent.push(j);
    this.spent = this.granted;
    return unspent;
  }
}

/** One check waiting for its batch to be sent. */
interface PendingCheck {
  keys: string[];
  args: string[];
  resolve: (reply: unknown) => void;
  reject: (err: unknown) => void;
}

/** The key parts naming a limit's counter: the scope first, so scopes never share a key. */
function counterParts(limit: LimitSpec, ctx: RateLimitContext): string[] {
  return ctx.shadow ? ['shadow', ...scopeParts(limit, ctx)] : scopeParts(limit, ctx);
}

function scopeParts(limit: LimitSpec, ctx: RateLimitContext): string[] {
  switch (limit.scope) {
    case 'grant':
      return ['grant', ctx.agent, ctx.server, ctx.tool, limit.counter];
    case 'agent':
      return ['agent', ctx.agent, limit.counter];
    case 'global':
      return ['global', limit.counter];
  }
}
