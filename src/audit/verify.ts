import { access } from 'node:fs/promises';
import { AirlockError } from '../core/errors.js';
import { GENESIS_HASH, checkLine } from './audit-chain.js';
import { readFileLines, type FileLine } from './line-reader.js';

/** Outcome of verifying an audit file; `lines` is always the file's total line count. */
export type VerifyResult =
  | { ok: true; lines: number }
  | {
      ok: false;
      /** 1-based number of the first broken line. */ line: number;
      reason: string;
      lines: number;
    };

/**
 * Streams an audit file and checks every line: valid JSON in the exact form Airlock writes, hash over
 * its content, `prev` equal to the previous line's hash, `seq` one more than the previous line's.
 * Reports the first line that fails. Throws AirlockError('NOT_FOUND') when the file does not exist.
 */
export async function verifyAuditFile(file: string): Promise<VerifyResult> {
  try {
    await access(file);
  } catch (err) {
    throw new AirlockError('NOT_FOUND', `audit file ${file} does not exist`, { file }, { cause: err });
  }
  const lines = readFileLines(file)[Symbol.asyncIterator]();
  let count = 0;
  let prevHash = GENESIS_HASH;
  let prevSeq = 0;
  let failure: { line: number; reason: string } | undefined;
  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    count++;
    // After the first failure only count, so the report can say "line 7 of 2000".
    if (failure) continue;
    const current: FileLine = next.value;
    const check = checkLine(current.text, true);
    if (!check.ok) {
      if (!current.terminated) {
        failure = {
          line: count,
          reason: `truncated: the last line is incomplete (a writer stopped mid-write); ${check.reason}`,
        };
        continue;
      }
      // A torn write followed by AuditLog's recovery line reads better as what it is.
      const after = await lines.next();
      if (!after.done) {
        count++;
        const recovery = checkLine(after.value.text, true);
        if (
          recovery.ok &&
          recovery.line.event === 'audit.recovered' &&
          recovery.line.truncatedBytes === current.bytes &&
          recovery.line.prev === prevHash
        ) {
          failure = {
            line: count - 1,
            reason:
              `truncated: a writer stopped mid-write (${current.bytes} bytes); line ${count} records the recovery ` +
              `and the chain continues from line ${count - 2}`,
          };
          continue;
        }
      }
      failure = { line: count - (after.done ? 0 : 1), reason: check.reason };
      continue;
    }
    const { line } = check;
    if (line.prev !== prevHash) {
      failure = {
        line: count,
        reason:
          count === 1
            ? 'prev is not the genesis hash: lines were removed from the start of the file'
            : `prev does not match line ${count - 1}'s hash: a line was removed or reordered`,
      };
    } else if (line.seq !== prevSeq + 1) {
      failure = {
        line: count,
        reason: `seq is ${line.seq} where ${prevSeq + 1} was expected: a line was removed, inserted or reordered`,
      };
    }
    prevHash = line.hash;
    prevSeq = line.seq;
  }
  return failure ? { ok: false, ...failure, lines: count } : { ok: true, lines: count };
}

/** One human sentence for a verify result, as `airlock audit verify` prints it. */
export function formatVerifyResult(result: VerifyResult, file: string): string {
  if (result.ok) {
    return `${file}: OK — ${result.lines} ${result.lines === 1 ? 'line' : 'lines'}, hash chain intact`;
  }
  return `${file}: BROKEN at line ${result.line} of ${result.lines}: ${result.reason}`;
}
