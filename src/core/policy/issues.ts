import type { z } from 'zod';
import { describeZodIssues } from '../zod-issues.js';
import { KNOWN_KEYS } from './schema.js';
import type { PolicyIssue } from './types.js';

/** Turns zod's issues into PolicyIssues with JSON paths and messages written for policy authors. */
export function zodIssuesToPolicyIssues(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  file: string,
): PolicyIssue[] {
  return describeZodIssues(issues, raw, KNOWN_KEYS).map((issue) => ({ file, ...issue }));
}
