import { watch } from 'node:fs';
import { Redis } from 'ioredis';
import { keyspace } from '../../src/redis/keyspace.js';

/**
 * Waits on Airlock's own change channel (`{prefix}:released`, published by every replica on every
 * record write): `check` runs once the subscription is live, then again after each change, until it
 * returns a value. Nothing is polled on a timer, and it works across processes.
 */
export async function untilChanged<T>(
  where: { redisUrl: string; prefix: string },
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const sub = new Redis(where.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  sub.on('error', () => {});
  try {
    await sub.connect();
    await sub.subscribe(keyspace(where.prefix).approval.events);
    return await new Promise<T>((resolve, reject) => {
      let running = false;
      let again = false;
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const run = async () => {
        if (running) {
          again = true;
          return;
        }
        running = true;
        try {
          do {
            again = false;
            const v = await check();
            if (v !== undefined) {
              clearTimeout(timer);
              resolve(v);
              return;
            }
          } while (again);
        } catch (err) {
          clearTimeout(timer);
          reject(err);
        } finally {
          running = false;
        }
      };
      sub.on('message', () => void run());
      void run();
    });
  } finally {
    sub.disconnect();
  }
}

/** Waits on file-system change events for `file` until `check` returns a value. */
export async function untilFile<T>(
  file: string,
  check: () => T | undefined,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const watcher = watch(file);
    const finish = (err: Error | undefined, v?: T) => {
      clearTimeout(timer);
      watcher.close();
      if (err) reject(err);
      else resolve(v as T);
    };
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), timeoutMs);
    const run = () => {
      try {
        const v = check();
        if (v !== undefined) finish(undefined, v);
      } catch (err) {
        finish(err as Error);
      }
    };
    watcher.on('change', run);
    run();
  });
}
