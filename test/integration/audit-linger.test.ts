import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, verifyAuditFile } from '../../src/audit/index.js';

test('with lingerMs, appends from concurrent calls share batches and the chain stays intact', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-linger-')), 'audit.jsonl');
  const log = new AuditLog({ file, replica: 'r1', lingerMs: 20 });
  const appends = Array.from({ length: 200 }, (_, i) =>
    log.append({ event: 'request.expired', requestId: `ar_${String(i).padStart(20, '0')}` }),
  );
  await Promise.all(appends);
  await log.close();
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 200);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 200 });
});
