import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { PolicyError } from '../../src/core/policy/index.js';
import { PolicyStore, type PolicyStoreEvents } from '../../src/policy/index.js';

const root = mkdtempSync(join(tmpdir(), 'airlock-policy-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

const stores: PolicyStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

/** A logger whose records the test can read. */
function captureLogger() {
  const records: { level: number; msg: string; [k: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) records.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), records };
}

async function setup(files: Record<string, string>, servers = ['lab', 'virt']) {
  const dir = mkdtempSync(join(root, 'p-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const { logger, records } = captureLogger();
  const store = new PolicyStore({ dir, servers, logger });
  stores.push(store);
  return { dir, store, records };
}

/** Resolves with the next `event`, failing the test if it takes longer than `ms`. */
async function next<E extends keyof PolicyStoreEvents>(
  store: PolicyStore,
  event: E,
  ms = 1000,
): Promise<{ payload: PolicyStoreEvents[E][0]; elapsed: number }> {
  const started = Date.now();
  // A ref'd timer (AbortSignal.timeout's is not) keeps the process alive while waiting.
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    const [payload] = (await once(store as never, event, { signal: ac.signal })) as PolicyStoreEvents[E];
    return { payload, elapsed: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

const call = (tool: string, server = 'lab') => ({ server, tool, agent: 'bot', args: {} });
const allowAll = (extra = '') => `{"version":"1","default":"allow"${extra}}`;

describe('PolicyStore.load', () => {
  it('loads each configured server and warns about missing and unknown files', async () => {
    const { store, records } = await setup({
      'lab.json': '{"version":"1","tools":{"start_vm":{"action":"require_approval"}}}',
      'stale.yaml': 'version: "1"\n',
    });
    await store.load();
    assert.equal(store.evaluate(call('start_vm')).action, 'require_approval');
    assert.equal(store.evaluate(call('other')).rule, 'lab/default');
    assert.deepEqual(store.evaluate(call('x', 'virt')), {
      action: 'deny',
      rule: 'virt/(no policy)',
      reason: 'No policy file for server virt',
      limits: [],
    });
    assert.equal(store.isDeniedOutright('virt', 'x', 'bot'), true);
    assert.equal(store.isDeniedOutright('lab', 'start_vm', 'bot'), false);
    const warnings = records.filter((r) => r.level === 40).map((r) => r.msg);
    assert.ok(
      warnings.some((m) => /No policy file for server virt: every tool call to it is denied/.test(m)),
    );
    assert.ok(warnings.some((m) => /stale\.yaml matches no configured server/.test(m)));
    const [file] = store.files();
    assert.equal(file?.server, 'lab');
    assert.match(file?.file ?? '', /lab\.json$/);
    assert.match(file?.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(file?.policy, { version: '1', tools: { start_vm: { action: 'require_approval' } } });
  });

  it('throws one PolicyError with the issues of every invalid file', async () => {
    const { store } = await setup({
      'lab.json': '{"version":"1","tools":{"a":{"action":"nope"}}}',
      'virt.yaml': 'version: "1"\ntools:\n  b: { approval: { timeout: soon } }\n',
    });
    await assert.rejects(store.load(), (err: unknown) => {
      assert.ok(err instanceof PolicyError);
      assert.deepEqual(
        err.issues.map((i) => `${i.file.split('/').pop()}: ${i.path}`),
        ['lab.json: $.tools.a.action', 'virt.yaml: $.tools.b.approval.timeout'],
      );
      return true;
    });
  });

  it('refuses two files for one server', async () => {
    const { store } = await setup({ 'lab.json': allowAll(), 'lab.yml': 'version: "1"\n' });
    await assert.rejects(store.load(), /more than one policy file/);
  });
});

describe('PolicyStore.watch', () => {
  it('applies a valid edit within a second', async () => {
    const { dir, store } = await setup({ 'lab.json': allowAll() });
    await store.load();
    store.watch();
    assert.equal(store.evaluate(call('delete_vm')).action, 'allow');
    const reloaded = next(store, 'reload');
    await writeFile(join(dir, 'lab.json'), allowAll(',"tools":{"delete_*":{"action":"deny"}}'));
    const { payload, elapsed } = await reloaded;
    assert.equal(payload.server, 'lab');
    assert.match(payload.file, /lab\.json$/);
    assert.match(payload.sha256, /^[0-9a-f]{64}$/);
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
    assert.equal(store.evaluate(call('delete_vm')).rule, 'lab/delete_*');
  });

  it('keeps the last good policy on an invalid edit, logs every issue with file and path, and emits invalid', async () => {
    const { dir, store, records } = await setup({ 'lab.json': allowAll() });
    await store.load();
    store.watch();
    const invalid = next(store, 'invalid');
    await writeFile(
      join(dir, 'lab.json'),
      '{"version":"1","default":"sometimes","tools":{"a":{"aproval":{}}}}',
    );
    const { payload } = await invalid;
    assert.match(payload.file, /lab\.json$/);
    assert.deepEqual(
      payload.issues.map((i) => i.path),
      ['$.default', '$.tools.a.aproval'],
    );
    assert.equal(store.evaluate(call('anything')).action, 'allow');
    const errors = records.filter((r) => r.level === 50);
    assert.ok(errors.some((r) => r.path === '$.default' && /lab\.json: \$\.default: expected/.test(r.msg)));
    assert.ok(errors.some((r) => r.path === '$.tools.a.aproval'));
    assert.ok(records.some((r) => r.level === 40 && /keeping the last good policy/.test(r.msg)));

    // A later valid edit applies again.
    const reloaded = next(store, 'reload');
    await writeFile(join(dir, 'lab.json'), '{"version":"1"}');
    await reloaded;
    assert.equal(store.evaluate(call('anything')).action, 'deny');
  });

  it('follows editors that save by writing a temp file and renaming it over the policy', async () => {
    const { dir, store } = await setup({ 'lab.yaml': 'version: "1"\ndefault: allow\n' });
    await store.load();
    store.watch();
    const reloaded = next(store, 'reload');
    await writeFile(join(dir, '.lab.yaml.tmp'), 'version: "1"\ndefault: deny\n');
    await rename(join(dir, '.lab.yaml.tmp'), join(dir, 'lab.yaml'));
    await reloaded;
    assert.equal(store.evaluate(call('x')).action, 'deny');
  });

  it('falls back to deny-all when the file is deleted, and picks up a new file', async () => {
    const { dir, store, records } = await setup({ 'lab.json': allowAll() });
    await store.load();
    store.watch();
    const removed = next(store, 'removed');
    await rm(join(dir, 'lab.json'));
    const { payload } = await removed;
    assert.equal(payload.server, 'lab');
    assert.equal(store.evaluate(call('x')).rule, 'lab/(no policy)');
    assert.deepEqual(store.files(), []);
    assert.ok(
      records.some((r) => r.level === 40 && /was removed: every tool call to lab is now denied/.test(r.msg)),
    );

    const created = next(store, 'reload');
    await writeFile(join(dir, 'virt.yaml'), 'version: "1"\ndefault: allow\n');
    assert.equal((await created).payload.server, 'virt');
    assert.equal(store.evaluate(call('x', 'virt')).action, 'allow');
  });

  it('stops reloading after close', async () => {
    const { dir, store } = await setup({ 'lab.json': allowAll() });
    await store.load();
    store.watch();
    store.close();
    await writeFile(join(dir, 'lab.json'), '{"version":"1"}');
    await assert.rejects(next(store, 'reload', 400), { name: 'AbortError' });
    assert.equal(store.evaluate(call('x')).action, 'allow');
  });
});
