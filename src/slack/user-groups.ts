import type { webApi } from '@slack/bolt';
import type { Logger } from '../log.js';

/** Options for {@link UserGroupDirectory}. */
export interface UserGroupDirectoryOptions {
  /** How long a group's member list is trusted. @defaultValue 300000 (5 minutes) */
  ttlMs?: number;
  now?: () => number;
}

/**
 * Members of Slack user groups (`S…` approvers), via `usergroups.users.list`, cached per group. A
 * lookup that fails yields no members (and a warning): eligibility fails closed, and the next click
 * asks Slack again because failures are not cached.
 */
export class UserGroupDirectory {
  private readonly cache = new Map<string, { members: string[]; until: number }>();
  private readonly inFlight = new Map<string, Promise<string[]>>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: webApi.WebClient,
    private readonly logger: Logger,
    options: UserGroupDirectoryOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5 * 60 * 1000;
    this.now = options.now ?? Date.now;
  }

  /** Member Slack user ids of each group id; unknown or unreachable groups map to `[]`. */
  async members(groupIds: readonly string[]): Promise<Record<string, string[]>> {
    const unique = [...new Set(groupIds)];
    const lists = await Promise.all(unique.map((id) => this.membersOf(id)));
    return Object.fromEntries(unique.map((id, i) => [id, lists[i] ?? []]));
  }

  private membersOf(groupId: string): Promise<string[]> {
    const hit = this.cache.get(groupId);
    if (hit && hit.until > this.now()) return Promise.resolve(hit.members);
    // A burst of clicks on one request shares one lookup.
    let pending = this.inFlight.get(groupId);
    if (!pending) {
      pending = this.fetch(groupId).finally(() => this.inFlight.delete(groupId));
      this.inFlight.set(groupId, pending);
    }
    return pending;
  }

  private async fetch(groupId: string): Promise<string[]> {
    try {
      const res = await this.client.usergroups.users.list({ usergroup: groupId });
      const members = (res.users ?? []).filter((u): u is string => typeof u === 'string');
      this.cache.set(groupId, { members, until: this.now() + this.ttlMs });
      return members;
    } catch (err) {
      this.logger.warn(
        { group: groupId, err: (err as Error).message },
        'could not list Slack user group members; treating the group as empty (fail closed)',
      );
      return [];
    }
  }
}
