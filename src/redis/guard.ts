import { AirlockError, type AirlockErrorCode } from '../core/errors.js';

/**
 * Runs a Redis operation and turns a driver failure into an AirlockError that says which store is
 * unavailable, so callers fail closed with a message instead of a raw ioredis error.
 */
export async function guardRedis<T>(code: AirlockErrorCode, store: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AirlockError) throw err;
    throw new AirlockError(code, `${store} unavailable: ${(err as Error).message}`, {}, { cause: err });
  }
}
