// The reviewer CLI (pending, show, approve, reject, history) as a process, against an in-process gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { freePort } from '../helpers/redis.js';
import type { TestAirlock } from '../helpers/airlock-harness.js';
import { LAB_TOKENS, startLabGateway, type LabGateway } from '../helpers/lab-gateway.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';
import { ApiClient } from '../../src/cli/api-client.js';

const ALICE = LAB_TOKENS.alice;
const BOB = LAB_TOKENS.bob;
const AGENT = LAB_TOKENS.agent;

let lab: LabGateway;
let gw: TestAirlock;
let agent: Client;

before(async () => {
  lab = await startLabGateway({
    list_vms: {},
    start_vm: {
      action: 'require_approval',
      approval: { approvers: ['alice', 'bob'], timeout: '5m', wait: '60s' },
    },
  });
  ({ gw } = lab);
  agent = await gw.connect({ token: AGENT });
});
after(async () => {
  await lab?.stop();
});

/** Runs the CLI against the test gateway as a reviewer. */
function cli(token: string | undefined, ...args: string[]): Promise<CliResult> {
  return runCli(['--url', gw.url, ...(token ? ['--token', token] : []), ...args]);
}

/** Starts an agent call that needs approval and resolves once the gateway holds it. */
async function holdCall(
  args: Record<string, unknown>,
): Promise<{ id: string; call: Promise<CallToolResult> }> {
  const created = once(gw.airlock.approvals, 'created') as Promise<[StoredRecord]>;
  const call = agent.callTool({ name: 'start_vm', arguments: args }) as Promise<CallToolResult>;
  const [record] = await created;
  return { id: record.id, call };
}

const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;

test('pending lists the held call; approve releases it; approving again is refused with exit 5', async () => {
  const { id, call } = await holdCall({ vm_name: 'kali-01' });

  const table = await cli(ALICE, 'pending');
  assert.equal(table.code, 0, table.stderr);
  const [header, ...rows] = table.stdout.trimEnd().split('\n');
  assert.match(header!, /^ID\s+AGE\s+EXPIRES IN\s+AGENT\s+SERVER\/TOOL\s+RULE\s+ARGS$/);
  const row = rows.find((r) => r.startsWith(id));
  assert.ok(row, `${id} in:\n${table.stdout}`);
  assert.match(row, /ci-bot\s+lab\/start_vm\s+start_vm\s+vm_name: "kali-01"$/);
  assert.ok(
    table.stdout.split('\n').every((l) => l.length <= 100),
    'fits 100 columns',
  );
  assert.ok(!table.stdout.includes('\x1b['), 'no colours when stdout is not a terminal');

  const json = await cli(ALICE, 'pending', '--json');
  assert.equal(json.code, 0, json.stderr);
  const pending = JSON.parse(json.stdout) as { id: string; args: unknown }[];
  assert.deepEqual(pending.find((r) => r.id === id)?.args, { vm_name: 'kali-01' });

  const approve = await cli(ALICE, 'approve', id, '--comment', 'go ahead');
  assert.equal(approve.code, 0, approve.stderr);
  assert.equal(approve.stdout, `Approved ${id} (lab/start_vm): the call is being released.\n`);
  const result = await call;
  assert.notEqual(result.isError, true, text(result));
  assert.match(text(result), /kali-01/);

  const record = (await gw.airlock.approvals.get(id))!;
  assert.equal(record.decisions[0]?.via, 'cli', 'history records the surface');
  assert.equal(record.decisions[0]?.comment, 'go ahead');

  const again = await cli(BOB, 'approve', id);
  assert.equal(again.code, 5);
  assert.match(again.stderr, /already decided by alice/i);
});

test('reject needs --reason; the agent sees who rejected and why', async () => {
  const { id, call } = await holdCall({ vm_name: 'dc-01' });
  const noReason = await cli(BOB, 'reject', id);
  assert.equal(noReason.code, 2);
  assert.match(noReason.stderr, /--reason/);
  const blank = await cli(BOB, 'reject', id, '--reason', '  ');
  assert.equal(blank.code, 1);
  assert.match(blank.stderr, /--reason must not be empty/);
  assert.equal((await gw.airlock.approvals.get(id))?.status, 'pending', 'nothing was decided');

  const reject = await cli(BOB, 'reject', id, '--reason', 'Not during the change freeze');
  assert.equal(reject.code, 0, reject.stderr);
  assert.equal(
    reject.stdout,
    `Rejected ${id} (lab/start_vm): the agent is told "Not during the change freeze".\n`,
  );
  const result = await call;
  assert.equal(result.isError, true);
  assert.match(text(result), /Rejected by bob: Not during the change freeze/);
  assert.equal(decisionOf(result)?.status, 'rejected');
});

test('show prints the fields, pretty arguments, decisions and a timeline; --json is the record', async () => {
  const { id, call } = await holdCall({
    vm_name: 'web-01',
    note: 'line one\nline two',
    api_token: 'hunter2',
  });
  const pendingView = await cli(ALICE, 'show', id);
  assert.equal(pendingView.code, 0, pendingView.stderr);
  const out = pendingView.stdout;
  assert.match(out, new RegExp(`^Request\\s+${id}$`, 'm'));
  assert.match(out, /^Status\s+pending$/m);
  assert.match(out, /^Server\/tool\s+lab\/start_vm$/m);
  assert.match(out, /^Agent\s+ci-bot$/m);
  assert.match(out, /^Expires\s+.+\(in \d+m( \d+s)?\)$/m);
  assert.match(out, /^Approvers\s+alice, bob \(1 needed\)$/m);
  assert.match(out, /^Args hash\s+[0-9a-f]{64}$/m);
  assert.match(out, /Arguments.*\n {2}\{\n {4}"vm_name": "web-01",\n/);
  assert.match(out, /"api_token": "\[REDACTED\]"/, 'the display copy, secrets redacted');
  assert.doesNotMatch(out, /hunter2/);
  assert.match(out, /Timeline\n.+requested by agent ci-bot; rule lab\/start_vm\n.+expires unless decided/);

  await cli(ALICE, 'approve', id, '--comment', 'ok');
  await call;
  const done = await cli(ALICE, 'show', id);
  assert.match(done.stdout, /^Decisions\n.+approve {2}alice via cli: ok$/m);
  assert.match(done.stdout, /approved by alice via cli: "ok"/);
  assert.match(done.stdout, /released: the call started upstream/);

  const json = await cli(ALICE, 'show', id, '--json');
  const record = JSON.parse(json.stdout);
  assert.equal(record.id, id);
  assert.equal(record.decisions[0].by, 'alice');
});

test('an unknown request id exits 4', async () => {
  for (const args of [
    ['show', 'ar_doesnotexist000000000'],
    ['approve', 'ar_doesnotexist000000000'],
    ['reject', 'ar_doesnotexist000000000', '--reason', 'x'],
  ]) {
    const r = await cli(ALICE, ...args);
    assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /not found/);
  }
});

test('a wrong or missing token exits 5 and says what to do', async () => {
  const wrong = await cli('not-a-reviewer-token-xxxxxxxx', 'pending');
  assert.equal(wrong.code, 5);
  assert.match(wrong.stderr, /refused the reviewer token .*--token or AIRLOCK_TOKEN/);
  const agentToken = await cli(AGENT, 'pending');
  assert.equal(agentToken.code, 5, 'agent tokens are not reviewer tokens');
  const none = await cli(undefined, 'pending');
  assert.equal(none.code, 5);
  assert.match(none.stderr, /needs a reviewer token: pass --token or set AIRLOCK_TOKEN/);
  const fromEnv = await runCli(['pending', '--json'], { env: { AIRLOCK_URL: gw.url, AIRLOCK_TOKEN: ALICE } });
  assert.equal(fromEnv.code, 0, `AIRLOCK_URL and AIRLOCK_TOKEN work too: ${fromEnv.stderr}`);
});

test('without --url or AIRLOCK_URL the config says where the gateway is', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-cli-url-'));
  const env = { AIRLOCK_TOKEN: ALICE };
  const port = Number(new URL(gw.url).port);
  await writeFile(
    join(dir, 'airlock.config.json'),
    JSON.stringify({
      listen: { host: '0.0.0.0', port },
      agents: [{ id: 'a', token: 'agent-token-for-the-config-file' }],
      reviewers: [{ id: 'r', token: 'reviewer-token-for-the-config' }],
    }),
  );
  const fromListen = await runCli(['pending', '--json'], { cwd: dir, env });
  assert.equal(fromListen.code, 0, `listen address (0.0.0.0 → loopback): ${fromListen.stderr}`);
  await writeFile(
    join(dir, 'airlock.config.json'),
    JSON.stringify({ publicUrl: `${gw.url}/`, listen: { port: 1 } }),
  );
  const fromPublicUrl = await runCli(['pending', '--json'], { cwd: dir, env });
  assert.equal(fromPublicUrl.code, 0, `publicUrl first: ${fromPublicUrl.stderr}`);
  await writeFile(join(dir, 'airlock.config.json'), JSON.stringify({ listen: { prt: 1 } }));
  const broken = await runCli(['pending'], { cwd: dir, env });
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /\$\.listen\.prt: unknown key/);
  assert.match(broken.stderr, /pass --url or set AIRLOCK_URL to skip it/);
  await rm(dir, { recursive: true, force: true });
});

test('the gateway down exits 3 with a clear message', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const r = await runCli(['--url', url, '--token', ALICE, 'pending']);
  assert.equal(r.code, 3);
  assert.equal(
    r.stderr,
    `airlock: Cannot reach the Airlock gateway at ${url}: is \`airlock serve\` running?\n`,
  );
});

test('history --json parses; the table has the expected columns', async () => {
  const { id, call } = await holdCall({ vm_name: 'db-01' });
  const json = await cli(ALICE, 'history', '--json');
  assert.equal(json.code, 0, json.stderr);
  const records = JSON.parse(json.stdout) as { id: string }[];
  assert.ok(Array.isArray(records));
  assert.ok(records.some((r) => r.id === id));
  const table = await cli(ALICE, 'history');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ID\s+CREATED\s+STATUS\s+AGENT\s+SERVER\/TOOL\s+BY\s+OUTCOME$/m);
  await cli(ALICE, 'reject', id, '--reason', 'cleanup');
  await call;
});

test('history option values are checked before anything is sent', async () => {
  const badStatus = await cli(ALICE, 'history', '--status', 'pending,bogus');
  assert.equal(badStatus.code, 2);
  assert.match(badStatus.stderr, /expected one or more of pending, approved/);
  const badSince = await cli(ALICE, 'history', '--since', 'yesterday-ish');
  assert.equal(badSince.code, 2);
  assert.match(badSince.stderr, /relative time \(30m, 1h, 2d\) or an ISO date/);
  const both = await cli(ALICE, 'history', '--json', '--csv');
  assert.equal(both.code, 1);
  const csvLimit = await cli(ALICE, 'history', '--csv', '--limit', '5');
  assert.equal(csvLimit.code, 1);
  assert.match(csvLimit.stderr, /--csv exports every match/);
});

test('history filters follow the API contract (status, tool, agent, since, until, limit)', async () => {
  const approved = await holdCall({ vm_name: 'web-01', ticket: 'hist-1' });
  // The agent can have its result a moment before the record says executed: wait for the record.
  const executedEvent = once(gw.airlock.approvals, 'executed');
  await cli(ALICE, 'approve', approved.id);
  await approved.call;
  await executedEvent;
  const rejected = await holdCall({ vm_name: 'web-01', ticket: 'hist-2' });
  await cli(ALICE, 'reject', rejected.id, '--reason', 'no');
  await rejected.call;

  const parse = (r: CliResult) => {
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      id: string;
      status: string;
      tool: string;
      agent: string;
      createdAt: number;
    }[];
  };
  const executed = parse(await cli(ALICE, 'history', '--status', 'executed', '--tool', 'start_vm', '--json'));
  const seen = JSON.stringify(executed.map((r) => [r.id, r.status, r.tool]));
  assert.ok(
    executed.some((r) => r.id === approved.id),
    `${approved.id} in ${seen}`,
  );
  assert.ok(
    executed.every((r) => r.status === 'executed' && r.tool === 'start_vm'),
    seen,
  );
  const both = parse(
    await cli(
      ALICE,
      'history',
      '--status',
      'executed,rejected',
      '--agent',
      'ci-bot',
      '--since',
      '1h',
      '--json',
    ),
  );
  assert.ok(
    both.some((r) => r.id === rejected.id),
    JSON.stringify(both.map((r) => [r.id, r.status])) + rejected.id,
  );
  assert.ok(both.some((r) => r.id === approved.id));
  assert.deepEqual(
    both.map((r) => r.createdAt),
    [...both.map((r) => r.createdAt)].sort((a, b) => b - a),
    'newest first',
  );
  const one = parse(await cli(ALICE, 'history', '--status', 'executed,rejected', '--limit', '1', '--json'));
  assert.equal(one.length, 1);
  const old = parse(await cli(ALICE, 'history', '--until', '2001-01-01', '--json'));
  assert.deepEqual(old, []);
  const other = parse(await cli(ALICE, 'history', '--agent', 'nobody', '--json'));
  assert.deepEqual(other, []);
});

test('the client follows cursors until it has --limit records', async () => {
  // Several records exist by now (earlier tests); pages of 2 make the client walk the cursor.
  const client = new ApiClient({ url: gw.url, token: ALICE }, { pageSize: 2 });
  const all = await client.collectRequests({}, 1000);
  assert.ok(all.length >= 5, `enough history to page through: ${all.length}`);
  const five = await client.collectRequests({}, 5);
  assert.deepEqual(
    five.map((r) => r.id),
    all.slice(0, 5).map((r) => r.id),
    'same records, same order, across pages',
  );
  assert.equal(new Set(all.map((r) => r.id)).size, all.length, 'no record twice');
});

test('history --csv streams the export endpoint', async () => {
  const { id, call } = await holdCall({ vm_name: 'web-01', ticket: 'csv' });
  const csv = await cli(ALICE, 'history', '--csv', '--status', 'pending');
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trimEnd().split(/\r?\n/);
  assert.match(lines[0]!, /\bid\b/);
  assert.ok(lines.some((l) => l.includes(id)));
  await cli(ALICE, 'reject', id, '--reason', 'cleanup');
  await call;
});
