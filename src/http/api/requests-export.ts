import { once } from 'node:events';
import type { Request, Response } from 'express';
import { AirlockError } from '../../core/errors.js';
import type { HistoryStore } from '../../history/history-store.js';
import type { HistoryRecord } from '../../history/history-record.js';
import type { Logger } from '../../log.js';
import { EXPORT_FORMATS, exportQuery } from './api-schemas.js';
import { csvRow } from './csv.js';
import { EXPORT_COLUMNS, exportRow } from './export-columns.js';
import { publicRecord } from './public-record.js';
import { parseFilter, single } from './query-params.js';

/** Records read from Redis per page of an export. */
export const EXPORT_PAGE_SIZE = 500;

/**
 * `GET /requests/export?format=csv|json&<filters>`: every matching record, newest first, streamed page
 * by page with backpressure, so memory stays flat however large the export. It stops reading as soon as
 * the client goes away. A failure after the first byte can no longer change the status, so the response
 * is cut off (the client sees an incomplete transfer, never a truncated file that looks whole).
 */
export function exportHandler(history: HistoryStore, logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const filter = parseFilter(req.query as Record<string, unknown>, exportQuery);
    const parsed = exportQuery.shape.format.safeParse(single(req.query as Record<string, unknown>, 'format'));
    if (!parsed.success) {
      const formats = EXPORT_FORMATS.join(' or ');
      throw new AirlockError('BAD_REQUEST', `format must be ${formats}`, { field: 'format' });
    }
    const format = parsed.data;
    let gone = false;
    res.on('close', () => {
      gone = true;
    });
    const pages = history.pages(filter, EXPORT_PAGE_SIZE);
    // The first page is read before any header is sent, so a Redis outage is still a clean 503.
    let next = await pages.next();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    res.status(200);
    res.setHeader(
      'Content-Type',
      format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
    );
    res.setHeader('Content-Disposition', `attachment; filename="airlock-requests-${stamp}.${format}"`);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const write = async (chunk: string) => {
      if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    };
    try {
      await write(format === 'csv' ? csvRow(EXPORT_COLUMNS.map(([name]) => name)) : '[');
      let first = true;
      while (!next.done && !gone) {
        await write(render(next.value, format, first));
        first = false;
        if (gone) break;
        next = await pages.next();
      }
      if (gone) return;
      res.end(format === 'csv' ? '' : first ? ']\n' : '\n]\n');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'export stopped by an error; the response was cut off');
      res.destroy();
    } finally {
      await pages.return(undefined);
    }
  };
}

function render(records: HistoryRecord[], format: 'csv' | 'json', first: boolean): string {
  if (format === 'csv') return records.map((r) => csvRow(exportRow(publicRecord(r)))).join('');
  return `${first ? '\n' : ',\n'}${records.map((r) => JSON.stringify(publicRecord(r))).join(',\n')}`;
}
