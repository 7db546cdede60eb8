/** Which installed suite version an invocation uses (the nested package's npm aliases). */
export type SuitePackage = 'conformance-0.1' | 'conformance-0.2';

/** One CLI invocation; `scored: false` marks a whole invocation as not scored (0.1.16's pending suite). */
export interface SuiteInvocation {
  suite: SuitePackage;
  args: string[];
  scored?: boolean;
}

/** One column of the table: the invocations whose scenarios it reports. */
export interface SuiteRun {
  name: string;
  invocations: SuiteInvocation[];
}

/** The runs of design doc section 4.4, in table order. */
export const SUITE_RUNS: readonly SuiteRun[] = [
  { name: '2025-11-25', invocations: [{ suite: 'conformance-0.2', args: ['--requirements', '2025-11-25'] }] },
  { name: '2025-06-18', invocations: [{ suite: 'conformance-0.2', args: ['--spec-version', '2025-06-18'] }] },
  { name: '2025-03-26', invocations: [{ suite: 'conformance-0.2', args: ['--spec-version', '2025-03-26'] }] },
  {
    name: '0.1.16',
    invocations: [
      { suite: 'conformance-0.1', args: [] },
      { suite: 'conformance-0.1', args: ['--suite', 'pending'], scored: false },
    ],
  },
  { name: '2026-07-28', invocations: [{ suite: 'conformance-0.2', args: ['--requirements', '2026-07-28'] }] },
];

/**
 * Scenarios a requirement-set run reports as "Not scored for <rev>" (extension, pending,
 * added-after-release). checks.json does not say, so this reads the CLI's summary.
 */
export function notScoredScenarios(stdout: string): Set<string> {
  const section = stdout.split(/^Not scored for /m)[1] ?? '';
  // eslint-disable-next-line no-control-regex -- the CLI colours its output; strip the escapes first.
  const plain = section.replace(/\u001b\[[0-9;]*m/g, '');
  return new Set([...plain.matchAll(/^\s+[✓✗] (\S+) \(/gm)].map((m) => m[1]!));
}

/**
 * The `=== SUMMARY ===` lines, scenario → failed count. A scenario that throws before it records a check
 * writes no checks.json but still appears here, failed.
 */
export function summaryFailures(stdout: string): Map<string, number> {
  // eslint-disable-next-line no-control-regex -- as above.
  const summary = (stdout.split(/^=== SUMMARY ===$/m)[1] ?? '').replace(/\u001b\[[0-9;]*m/g, '');
  return new Map(
    [...summary.matchAll(/^[✓✗] (\S+): \d+ passed, (\d+) failed/gm)].map((m) => [m[1]!, Number(m[2])]),
  );
}
