// A real pino logger whose records the test can read and wait for.
import { EventEmitter, once } from 'node:events';
import { pino } from 'pino';
import type { Logger } from '../../src/log.js';

/** A debug-level logger keeping every record in `all` and emitting each as 'record' on `records`. */
export function capturingLogger(): {
  logger: Logger;
  records: EventEmitter;
  all: Array<Record<string, unknown>>;
} {
  const records = new EventEmitter();
  const all: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(text: string) {
        const record = JSON.parse(text) as Record<string, unknown>;
        all.push(record);
        records.emit('record', record);
      },
    },
  );
  return { logger, records, all };
}

/** The first record logged from now on with message `msg`. */
export async function waitForLog(records: EventEmitter, msg: string): Promise<Record<string, unknown>> {
  for (;;) {
    const [record] = (await once(records, 'record')) as [Record<string, unknown>];
    if (record.msg === msg) return record;
  }
}
