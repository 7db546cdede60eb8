import type { webApi } from '@slack/bolt';

/** Options for {@link UserNames}. */
export interface UserNamesOptions {
  /** How long a looked-up name is reused. @defaultValue 600000 (10 minutes) */
  ttlMs?: number;
  /** How long a click waits for `users.info` before settling for the handle. @defaultValue 1500 */
  lookupTimeoutMs?: number;
  now?: () => number;
}

/**
 * The name people know a Slack user by (display name, else real name), for decision messages and the
 * agent's "Rejected by …". Display only: authorization always uses the user id. When `users.info` is
 * slow or fails, the handle Slack sent with the click is used.
 */
export class UserNames {
  private readonly cache = new Map<string, { name: string; until: number }>();
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: webApi.WebClient,
    options: UserNamesOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 10 * 60 * 1000;
    this.timeoutMs = options.lookupTimeoutMs ?? 1500;
    this.now = options.now ?? Date.now;
  }

  /** The best name for `userId`, falling back to `handle` (the click's `user.name`/`username`). */
  async nameOf(userId: string, handle: string | undefined): Promise<string | undefined> {
    const hit = this.cache.get(userId);
    if (hit && hit.until > this.now()) return hit.name;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.timeoutMs);
    });
    const lookup = this.client.users
      .info({ user: userId })
      .then((res) => {
        const profile = res.user?.profile;
        const name = profile?.display_name || profile?.real_name || res.user?.real_name || res.user?.name;
        if (name) this.cache.set(userId, { name, until: this.now() + this.ttlMs });
        return name;
      })
      .catch(() => undefined);
    try {
      return (await Promise.race([lookup, timeout])) ?? nonEmpty(handle);
    } finally {
      clearTimeout(timer);
    }
  }
}

function nonEmpty(s: string | undefined): string | undefined {
  return s !== undefined && s !== '' ? s : undefined;
}
