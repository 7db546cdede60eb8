// `npm run conformance`: the MCP conformance suite against `airlock serve` in front of the conformance
// upstream, and optionally against the upstream alone as a reference. Runs on Airlock's Node 20; only the
// suite's CLIs run on the Node 22 of the nested `conformance/` package.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/helpers/airlock-harness.js';
import { startUpstream } from '../test/helpers/conformance-upstream.js';
import { startServe, type ServeProcess } from '../test/helpers/serve-process.js';
import {
  notScoredScenarios,
  SUITE_RUNS,
  summaryFailures,
  type SuiteInvocation,
  type SuiteRun,
} from './conformance/suite-runs.js';
import { readChecks, renderTable, scoredFailures, type ResultColumn } from './conformance/suite-results.js';

const USAGE = `usage: npm run conformance -- [options]
  --against airlock|upstream|both  what the suite talks to (default airlock; upstream = reference, no Airlock)
  --runs a,b                       runs to do (default all: ${SUITE_RUNS.map((r) => r.name).join(', ')})
  --mode dual|modern|legacy        eras the upstream serves (default dual)
  --report-only                    exit 0 even when a scored scenario fails
  --gate a,b                       only these runs' scored failures fail the exit code (default: every run's)
  --out DIR                        where the suite writes checks.json (default: a new temp dir)
  --json FILE                      the table as JSON (default: DIR/results.json)
  --from DIR                       re-read the output of an earlier run (same --against/--runs), run nothing`;

const PACKAGE = join(ROOT, 'conformance');
const NODE22 = join(PACKAGE, 'node_modules', 'node', 'bin', 'node');
const cli = (suite: string) => join(PACKAGE, 'node_modules', suite, 'dist', 'index.js');

const { values } = parseArgs({
  options: {
    against: { type: 'string', default: 'airlock' },
    runs: { type: 'string' },
    mode: { type: 'string', default: 'dual' },
    'report-only': { type: 'boolean', default: false },
    gate: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'string' },
    from: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
const targets = { airlock: ['airlock'], upstream: ['upstream'], both: ['upstream', 'airlock'] }[
  values.against
];
const wanted = values.runs?.split(',');
const runs = SUITE_RUNS.filter((r) => !wanted || wanted.includes(r.name));
const gated = values.gate?.split(',');
const badGate = gated?.some((g) => !runs.some((r) => r.name === g));
if (values.help || !targets || runs.length === 0 || (wanted && runs.length !== wanted.length) || badGate) {
  console.error(USAGE);
  process.exit(values.help ? 0 : 2);
}

const out = values.from ?? values.out ?? mkdtempSync(join(tmpdir(), 'airlock-conformance-'));
const columns: ResultColumn[] = [];
if (values.from) {
  for (const target of targets) await runTarget(target, '');
} else {
  ensureSuiteInstalled();
  const upstream = await startUpstream(values.mode);
  let airlock: ServeProcess | undefined;
  try {
    if (targets.includes('airlock')) airlock = await startAirlock(upstream.url, out);
    for (const target of targets)
      await runTarget(target, target === 'airlock' ? `${airlock!.url}/mcp` : upstream.url);
  } finally {
    await airlock?.stop();
    await upstream.stop();
  }
}

const failures = scoredFailures(columns.filter((c) => targets.length === 1 || c.label.endsWith(' airlock')));
const jsonFile = values.json ?? join(out, 'results.json');
writeFileSync(
  jsonFile,
  JSON.stringify({ targets, mode: values.mode, columns, scoredFailures: failures }, null, 2),
);
console.log(renderTable(columns));
console.log(`\nchecks.json files under ${out}; this table as JSON: ${jsonFile}`);
// A column's label starts with its run's name ("2025-11-25" or "2025-11-25 airlock").
const gates = (label: string) => !gated || gated.includes(label.split(' ')[0]!);
const failed = Object.entries(failures).some(([label, f]) => f.length > 0 && gates(label));
process.exit(failed && !values['report-only'] ? 1 : 0);

async function runTarget(target: string, url: string): Promise<void> {
  for (const run of runs) {
    const label = targets!.length > 1 ? `${run.name} ${target}` : run.name;
    columns.push({ label, cells: await runColumn(run, url, join(out, target, run.name)) });
  }
}

function ensureSuiteInstalled(): void {
  if (existsSync(NODE22) && existsSync(cli('conformance-0.1')) && existsSync(cli('conformance-0.2'))) return;
  console.error('Installing the conformance suite and Node 22 into conformance/node_modules …');
  // `node@22`'s preinstall fetches the real binary; it must run even where scripts are off by default.
  const npm = spawnSync(
    'npm',
    ['ci', '--prefix', PACKAGE, '--no-audit', '--no-fund', '--ignore-scripts=false'],
    {
      stdio: 'inherit',
    },
  );
  if (npm.status !== 0 || !existsSync(NODE22)) throw new Error('npm ci --prefix conformance failed');
}

async function startAirlock(upstreamUrl: string, dir: string): Promise<ServeProcess> {
  const template = JSON.parse(readFileSync(join(PACKAGE, 'airlock.config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const home = join(dir, 'airlock');
  mkdirSync(home, { recursive: true });
  process.env.CONFORMANCE_UPSTREAM_URL = upstreamUrl;
  return startServe((port) => {
    const file = join(home, 'airlock.config.json');
    const config = { ...template, listen: { host: '127.0.0.1', port }, dataDir: join(home, 'data') };
    writeFileSync(file, JSON.stringify({ ...config, policies: join(PACKAGE, 'policies') }, null, 2));
    return file;
  });
}

async function runColumn(run: SuiteRun, url: string, dir: string): Promise<ResultColumn['cells']> {
  const cells: ResultColumn['cells'] = {};
  for (const [i, invocation] of run.invocations.entries()) {
    const invocationDir = join(dir, String(i));
    const stdout = values.from
      ? readFileSync(join(invocationDir, 'stdout.log'), 'utf8')
      : await runSuite(invocation, url, invocationDir);
    const unscored = notScoredScenarios(stdout);
    const notScored = (s: string) => invocation.scored === false || unscored.has(s);
    Object.assign(cells, readChecks(invocationDir, notScored));
    for (const [scenario, failures] of summaryFailures(stdout)) {
      cells[scenario] ??= { status: failures ? 'fail' : 'skip', failures, scored: !notScored(scenario) };
    }
  }
  return cells;
}

function runSuite(invocation: SuiteInvocation, url: string, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const args = [cli(invocation.suite), 'server', '--url', url, ...invocation.args, '-o', dir];
  console.error(`→ ${invocation.suite} ${invocation.args.join(' ') || '(default suite)'} against ${url}`);
  return new Promise((resolve, reject) => {
    const child = spawn(NODE22, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stdout += d));
    child.once('error', reject);
    // The CLI exits 1 on any scored failure; that is a result, not an error of the run.
    child.once('exit', () => {
      writeFileSync(join(dir, 'stdout.log'), stdout);
      resolve(stdout);
    });
  });
}
