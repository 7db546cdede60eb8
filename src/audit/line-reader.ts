// Splits a file into lines on '\n' only (readline would also split on a bare '\r', shifting line
// numbers in an edited file) and says whether the last line had its newline (a torn write does not).
import { createReadStream } from 'node:fs';

/** One line of a file. */
export interface FileLine {
  /** The line without its newline, decoded as UTF-8. */
  text: string;
  /** Byte length without the newline. */
  bytes: number;
  /** False only for a last line that does not end with '\n'. */
  terminated: boolean;
}

/** Streams the lines of a file without loading it whole. */
export async function* readFileLines(file: string): AsyncGenerator<FileLine> {
  let pending: Buffer[] = [];
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      const line = pending.length > 0 ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      yield { text: line.toString('utf8'), bytes: line.length, terminated: true };
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) {
    const line = Buffer.concat(pending);
    yield { text: line.toString('utf8'), bytes: line.length, terminated: false };
  }
}
