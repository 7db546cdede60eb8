import { EventEmitter } from 'node:events';
import { AirlockError } from '../core/errors.js';
import { argumentHash } from '../core/approval/canonical.js';
import { isGrantId, type Grant } from '../core/grants/grant.js';
import type { DecisionVia } from '../core/approval/types.js';
import type { Logger } from '../log.js';
import type { GrantFilter, GrantStore } from './grant-store.js';

/** Events for audit and metrics, emitted on the replica where the change happened. */
export interface GrantEvents {
  created: [grant: Grant];
  revoked: [grant: Grant, by: string];
  /** Someone asked to revoke an active grant and was refused; the grant is unchanged. */
  revokeRefused: [grant: Grant, by: string, via: DecisionVia, refusal: AirlockError];
  expired: [grant: Grant];
}

/** Options for {@link GrantService}. */
export interface GrantServiceOptions {
  store: GrantStore;
  logger: Logger;
  /** How often this replica looks for expired grants to report. @defaultValue 1000 ms */
  sweepIntervalMs?: number;
  /** The clock. @defaultValue Date.now */
  now?: () => number;
}

/**
 * Time-bound grants: the one object the approval commands (create), the gateway (use), the API and CLI
 * (list, revoke) and later Slack and the console see. Surfaces that offer "Revoke" call {@link revoke}.
 */
export class GrantService extends EventEmitter<GrantEvents> {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly o: GrantServiceOptions) {
    super();
    this.now = o.now ?? Date.now;
  }

  /** Stores a grant an approval made. */
  async create(grant: Grant): Promise<void> {
    await this.o.store.create(grant);
    this.emit('created', grant);
  }

  /**
   * The id of an active grant covering this call, after counting the call as one of its uses; undefined
   * when none covers it (or it was revoked between lookup and use), so the call is held as usual.
   */
  async useFor(call: {
    agent: string;
    server: string;
    tool: string;
    args: Record<string, unknown>;
  }): Promise<string | undefined> {
    const argsHash = argumentHash(call.server, call.tool, call.args);
    const grant = await this.o.store.findMatch({ ...call, argsHash }, this.now());
    if (!grant) return undefined;
    return (await this.o.store.recordUse(grant.id)) === undefined ? undefined : grant.id;
  }

  /** Active grants matching the filter, soonest to expire first. */
  async list(filter: GrantFilter = {}): Promise<Grant[]> {
    return this.o.store.list(filter, this.now());
  }

  /** Ends grant `id` at once on every replica; NOT_FOUND when unknown, expired or already revoked. */
  async revoke(id: string, by: string): Promise<Grant> {
    const grant = isGrantId(id) ? await this.o.store.revoke(id) : undefined;
    if (!grant) throw new AirlockError('NOT_FOUND', `Grant ${id.slice(0, 40)} not found`);
    this.emit('revoked', grant, by);
    return grant;
  }

  /** Records that `by` was refused the revocation of `grant` (for the audit); nothing changes. */
  refuseRevoke(grant: Grant, by: string, via: DecisionVia, refusal: AirlockError): void {
    this.emit('revokeRefused', grant, by, via, refusal);
  }

  /** Reports grants that expired since the last sweep (each once, across replicas). */
  async sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        for (const grant of await this.o.store.takeExpired(this.now())) this.emit('expired', grant);
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'grant expiry sweep failed; retrying');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  /** Starts this replica's expiry sweep. */
  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), this.o.sweepIntervalMs ?? 1000).unref();
  }

  /** Stops the sweep. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }
}
