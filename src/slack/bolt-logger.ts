import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from '../log.js';

// Bolt and the Web API client log a lot at info (every socket reconnect, every rate-limit pause);
// Airlock reports what matters itself, so their info becomes debug here.
const PINO_LEVEL: Record<LogLevel, 'debug' | 'info' | 'warn' | 'error'> = {
  [LogLevel.DEBUG]: 'debug',
  [LogLevel.INFO]: 'debug',
  [LogLevel.WARN]: 'warn',
  [LogLevel.ERROR]: 'error',
};

/** Bolt's logger interface on top of Airlock's pino logger, so Slack logs share its format and sink. */
export function boltLogger(logger: Logger, name = 'slack'): SlackLogger {
  let child = logger.child({ component: name });
  let level: LogLevel = LogLevel.INFO;
  const write = (at: LogLevel, parts: unknown[]): void => {
    const text = parts
      .map((p) => (typeof p === 'string' ? p : p instanceof Error ? p.message : safeJson(p)))
      .join(' ');
    child[PINO_LEVEL[at]](text);
  };
  return {
    debug: (...msg: unknown[]) => write(LogLevel.DEBUG, msg),
    info: (...msg: unknown[]) => write(LogLevel.INFO, msg),
    warn: (...msg: unknown[]) => write(LogLevel.WARN, msg),
    error: (...msg: unknown[]) => write(LogLevel.ERROR, msg),
    // pino's own level decides what is written; Bolt only asks so it can echo it back.
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: (n: string) => {
      child = logger.child({ component: n });
    },
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
