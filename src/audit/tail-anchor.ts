// Finds what the next line chains on by reading the file backwards from its end, in growing windows,
// so a 100 MB log costs one small read per batch and a giant last line still works.
import type { FileHandle } from 'node:fs/promises';
import { GENESIS_HASH, checkLine } from './audit-chain.js';

/** Where the next appended line attaches. */
export interface TailAnchor {
  /** seq of the last intact line; 0 when there is none. */
  seq: number;
  /** hash of the last intact line; GENESIS_HASH when there is none. */
  hash: string;
  /** Bytes after the last intact line that are not part of the chain (a torn write); kept as they are. */
  brokenBytes: number;
  /** The file does not end with a newline, so one must be written before the next line. */
  needsNewline: boolean;
}

/** The anchor of an empty file. */
export const EMPTY_ANCHOR: TailAnchor = { seq: 0, hash: GENESIS_HASH, brokenBytes: 0, needsNewline: false };

/**
 * Reads the anchor of a file of `size` bytes. A newline-terminated line only needs to parse with a
 * valid seq and hash (a crash cannot produce one that is not intact; edits are verify's business). A
 * last line without its newline must also hash correctly: then only the newline was lost.
 */
export async function readTailAnchor(
  handle: FileHandle,
  size: number,
  windowBytes = 64 * 1024,
): Promise<TailAnchor> {
  if (size === 0) return EMPTY_ANCHOR;
  let window = windowBytes;
  for (;;) {
    const start = Math.max(0, size - window);
    const buf = Buffer.alloc(size - start);
    let read = 0;
    while (read < buf.length) {
      const { bytesRead } = await handle.read(buf, read, buf.length - read, start + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    const data = buf.subarray(0, read);
    const needsNewline = data[data.length - 1] !== 0x0a;
    // [segStart, segEnd) is the candidate line, without its newline.
    let segEnd = needsNewline ? data.length : data.length - 1;
    let terminated = !needsNewline;
    for (;;) {
      const nl = segEnd > 0 ? data.lastIndexOf(0x0a, segEnd - 1) : -1;
      // The candidate may begin before this window: read a bigger one.
      if (nl < 0 && start > 0) break;
      const check = checkLine(data.toString('utf8', nl + 1, segEnd), !terminated);
      if (check.ok) {
        const anchorEnd = start + segEnd + (terminated ? 1 : 0);
        return { seq: check.line.seq, hash: check.line.hash, brokenBytes: size - anchorEnd, needsNewline };
      }
      if (nl < 0) return { seq: 0, hash: GENESIS_HASH, brokenBytes: size, needsNewline };
      segEnd = nl;
      terminated = true;
    }
    window *= 4;
  }
}
