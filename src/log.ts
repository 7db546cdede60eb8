import { pino, type Logger } from 'pino';

/** Structured JSON logger; always writes to stderr so stdio mode keeps stdout for the protocol. */
export type { Logger };

/** Creates the process logger at the given level. */
export function createLogger(level: string = process.env.AIRLOCK_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination(2),
  );
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
