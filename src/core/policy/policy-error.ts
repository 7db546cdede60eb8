import { AirlockError } from '../errors.js';
import type { PolicyIssue } from './types.js';

/** A policy file (or set of files) failed validation; `issues` lists every problem found, not only the first. */
export class PolicyError extends AirlockError {
  constructor(readonly issues: PolicyIssue[]) {
    super('POLICY_INVALID', summarize(issues), { issues });
  }
}

function summarize(issues: PolicyIssue[]): string {
  const first = issues[0];
  if (!first) return 'Invalid policy';
  const more =
    issues.length > 1 ? ` (and ${issues.length - 1} more issue${issues.length > 2 ? 's' : ''})` : '';
  return `Invalid policy ${first.file}: ${first.path}: ${first.message}${more}`;
}
