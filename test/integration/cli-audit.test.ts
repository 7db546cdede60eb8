// `airlock audit verify` as a process: an intact chain, a tampered copy, a missing file, the config's file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/index.js';
import { runCli } from '../helpers/run-cli.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-cli-audit-'));
  dirs.push(dir);
  return dir;
}

/** An audit file as the gateway writes it: a request, a refused click, a decision. */
async function writeAudit(file: string): Promise<void> {
  const log = new AuditLog({ file, replica: 'test' });
  const requestId = 'ar_AAAAAAAAAAAAAAAAAAAA';
  await log.append({
    event: 'request.created',
    requestId,
    server: 'lab',
    tool: 'start_vm',
    agent: 'ci-bot',
    argsHash: 'a'.repeat(64),
    rule: 'lab/start_vm',
    action: 'require_approval',
  });
  await log.append({
    event: 'decision.refused',
    requestId,
    by: 'bob',
    via: 'cli',
    code: 'NOT_AN_APPROVER',
    message: 'no',
  });
  await log.append({ event: 'decision', requestId, by: 'alice', via: 'cli', decision: 'approve' });
  await log.close();
}

test('an intact file verifies (exit 0); a tampered copy names the broken line (exit 1)', async () => {
  const dir = await tempDir();
  const file = join(dir, 'audit.jsonl');
  await writeAudit(file);

  const ok = await runCli(['audit', 'verify', file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `${file}: OK — 3 lines, hash chain intact\n`);

  const tampered = join(dir, 'tampered.jsonl');
  const text = await readFile(file, 'utf8');
  assert.match(text, /"by":"alice"/);
  await writeFile(tampered, text.replace('"by":"alice"', '"by":"mallory"'));
  const broken = await runCli(['audit', 'verify', tampered]);
  assert.equal(broken.code, 1);
  assert.match(
    broken.stdout,
    new RegExp(`^${tampered.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: BROKEN at line 3 of 3: `),
  );
});

test('a missing file exits 4', async () => {
  const dir = await tempDir();
  const r = await runCli(['audit', 'verify', join(dir, 'nope.jsonl')]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /does not exist/);
});

test("with no FILE, the config's audit.file is verified", async () => {
  const dir = await tempDir();
  const file = join(dir, 'logs', 'audit.jsonl');
  await writeAudit(file);
  await writeFile(
    join(dir, 'airlock.config.json'),
    JSON.stringify({ audit: { file: './logs/audit.jsonl' } }),
  );
  const r = await runCli(['audit', 'verify'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /logs\/audit\.jsonl: OK — 3 lines/);

  const bare = await tempDir();
  const none = await runCli(['audit', 'verify'], { cwd: bare });
  assert.equal(none.code, 4, 'no config: the default .airlock/audit.jsonl, which does not exist');
  assert.match(none.stderr, /\.airlock\/audit\.jsonl does not exist/);
});
