import { AirlockError } from '../core/errors.js';

/** A place in newest-first order: `createdAt` descending, then id descending (as Redis orders ties). */
export interface Position {
  score: number;
  id: string;
}

/** True when `a` comes strictly before `b` in newest-first order. */
export function isBefore(a: Position, b: Position): boolean {
  return a.score > b.score || (a.score === b.score && a.id > b.id);
}

/**
 * An opaque cursor for the page after `p`. It holds a position, not an offset, so records that arrive
 * while a client pages (always newer, so before the cursor) never shift later pages into duplicates or gaps.
 */
export function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify([p.score, p.id]), 'utf8').toString('base64url');
}

/** Reads a cursor made by {@link encodeCursor}; anything else is the caller's mistake (BAD_REQUEST). */
export function decodeCursor(cursor: string): Position {
  const invalid = () =>
    new AirlockError('BAD_REQUEST', 'cursor is not valid: pass nextCursor from the previous page unchanged', {
      field: 'cursor',
    });
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    typeof value[0] !== 'number' ||
    !Number.isFinite(value[0]) ||
    typeof value[1] !== 'string' ||
    value[1].length > 100
  ) {
    throw invalid();
  }
  return { score: value[0], id: value[1] };
}
