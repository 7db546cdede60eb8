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
 * Counts calls against policy limits in Redis, shared by every replica.
 *
 * Algorithm: a sliding-window log per counter, a sorted set holding one entry (unique member, score =
 * Redis time in ms) per counted call. A check trims entries older than the window, counts the rest,
 * and adds the call only if every limit of the call has room, all in one Lua script
 * (`scripts/check-rate-limits.lua`), so concurrent calls on any replica can never overshoot and a
 * refused call consumes nothing. It is exact (no fixed-window bursts at boundaries, unlike counters;
 * no approximation, unlike GCRA) at a memory cost of O(max) entries per counter (~tens of bytes each),
 * since an over-limit call is never recorded; a counter shared by a shorter and a longer window keeps
 * entries for the longer one. Keys expire after their retention of inactivity.
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
    if (limits.length === 0) return { allowed: true };
    const keys: string[] = [];
    const args: string[] = [`${Date.now()}-${randomBytes(8).toString('hex')}`];
    for (const limit of limits) {
      const parts = counterParts(limit, ctx);
      keys.push(this.keys.log(...parts), this.keys.retention(...parts));
      args.push(String(Math.max(1, Math.round(limit.windowMs))), String(limit.max));
    }
    const [index, retryMs] = await this.run(keys, args);
    if (index === 0) return { allowed: true };
    const limit = limits[index - 1];
    if (!limit) throw new AirlockError('INTERNAL', `Rate limit script returned unknown limit #${index}`);
    return { allowed: false, limit, retryAfterSec: Math.max(1, Math.ceil(retryMs / 1000)) };
  }

  private async run(keys: string[], args: string[]): Promise<[number, number]> {
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
    if (!Array.isArray(reply) || reply.length !== 2) {
      throw new AirlockError('INTERNAL', `Rate limit script returned ${JSON.stringify(reply)}`);
    }
    return [Number(reply[0]), Number(reply[1])];
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
