// `airlock policy init` as a process, against the demo lab and @modelcontextprotocol/server-everything.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicy, evaluate } from '../../src/core/policy/index.js';
import { ROOT, labServerCommand } from '../helpers/airlock-harness.js';
import { runCli } from '../helpers/run-cli.js';
import { freePort } from '../helpers/redis.js';
import { spawnServer } from '../fixtures/upstreams/harness.js';

const EVERYTHING = join(
  ROOT,
  'node_modules',
  '@modelcontextprotocol',
  'server-everything',
  'dist',
  'index.js',
);

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A temp dir holding an airlock.config.json with these servers. */
async function configDir(servers: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-cli-init-'));
  dirs.push(dir);
  await writeFile(join(dir, 'airlock.config.json'), JSON.stringify({ servers }));
  return dir;
}

const call = (tool: string) => ({ server: 'lab', tool, agent: 'ci-bot', args: {} });

test("the lab's tools: read-only allowed, execute rate-limited, destructive behind approval", async () => {
  const dir = await configDir({ lab: labServerCommand() });
  const r = await runCli(['policy', 'init', '--server', 'lab'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const policy = parsePolicy(doc, 'lab.json');
  assert.equal(doc.default, 'deny');
  assert.deepEqual(doc.tools.list_vms, {});
  assert.equal(evaluate(policy, call('list_vms')).action, 'allow');
  assert.equal(evaluate(policy, call('health_checks')).action, 'allow');
  const start = evaluate(policy, call('start_vm'));
  assert.equal(start.action, 'allow');
  assert.deepEqual(
    start.limits.map((l) => [l.counter, l.max, l.window, l.scope]),
    [['start_vm_rate', 10, 'minute', 'grant']],
  );
  for (const tool of ['delete_vm', 'stop_vm', 'vm_management']) {
    const d = evaluate(policy, call(tool));
    assert.equal(d.action, 'require_approval', tool);
    assert.equal(d.approval?.timeoutMs, 15 * 60_000);
    assert.equal(d.approval?.allowSelfApproval, false);
  }
  assert.equal(evaluate(policy, call('not_a_lab_tool')).action, 'deny', 'default deny');
  assert.equal(Object.keys(doc.tools).length, 8);

  // The report on stderr says how each tool was classified and why.
  assert.match(r.stderr, /^Classified 8 tool\(s\) on "lab"/);
  assert.match(r.stderr, /^list_vms\s+read-only\s+allow\s+annotations: readOnlyHint: true$/m);
  assert.match(r.stderr, /^delete_vm\s+destructive\s+approval\s+annotations: destructiveHint: true$/m);
  assert.match(
    r.stderr,
    /^start_vm\s+execute\s+limit 10\/min\s+annotations: destructiveHint: false, idempotent$/m,
  );
});

test('--per-minute sets the execute limit; the only server needs no --server', async () => {
  const dir = await configDir({ lab: labServerCommand() });
  const r = await runCli(['policy', 'init', '--per-minute', '3'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.tools.start_vm.limits[0].max, 3);
  parsePolicy(doc, 'lab.json');
});

test('server-everything: every tool is listed and the policy parses', async () => {
  const dir = await configDir({ everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } });
  const r = await runCli(['policy', 'init', '--server', 'everything'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const policy = parsePolicy(doc, 'everything.json');
  const at = (tool: string) => evaluate(policy, { server: 'everything', tool, agent: 'a', args: {} });
  assert.equal(at('echo').action, 'allow');
  assert.deepEqual(at('echo').limits, []);
  assert.equal(at('get-sum').action, 'allow');
  assert.equal(at('toggle-simulated-logging').limits[0]?.counter, 'toggle-simulated-logging_rate');
  // Registered only for clients that can sample; Airlock declares that, so it is in the starter policy.
  assert.ok('trigger-sampling-request' in doc.tools);
  assert.ok(Object.keys(doc.tools).length >= 10);
});

test('server-everything over Streamable HTTP: the same policy', async () => {
  const port = await freePort();
  const server = await spawnServer(
    process.execPath,
    [EVERYTHING, 'streamableHttp'],
    { PORT: String(port) },
    /listening on port/,
  );
  try {
    const dir = await configDir({ everything: { url: `http://127.0.0.1:${port}/mcp` } });
    const r = await runCli(['policy', 'init', '--server', 'everything'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    parsePolicy(doc, 'everything.json');
    assert.deepEqual(doc.tools.echo, {});
    assert.ok('toggle-simulated-logging' in doc.tools);
  } finally {
    await server.kill();
  }
});

test('unknown server, ambiguous server, unreachable upstream', async () => {
  const dir = await configDir({
    lab: labServerCommand(),
    broken: { command: process.execPath, args: ['-e', 'process.exit(3)'] },
  });
  const unknown = await runCli(['policy', 'init', '--server', 'nope'], { cwd: dir });
  assert.equal(unknown.code, 4);
  assert.match(unknown.stderr, /No server "nope" in the config \(servers: lab, broken\)/);
  const ambiguous = await runCli(['policy', 'init'], { cwd: dir });
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /Pass --server: one of lab, broken/);
  const down = await runCli(['policy', 'init', '--server', 'broken'], { cwd: dir });
  assert.equal(down.code, 3);
  assert.match(down.stderr, /Upstream server "broken" is unavailable/);
  assert.equal(down.stdout, '', 'no half policy on stdout');
});
