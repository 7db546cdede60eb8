import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PolicyError, parsePolicyText, type PolicyIssue } from '../core/policy/index.js';
import { isNotFound, listPolicyFiles, serverOfFileName } from './policy-files.js';

/** Everything `airlock policy check` found: errors (exit 1) and warnings (printed, exit 0). */
export interface PolicyCheckReport {
  /** The policy files checked. */
  files: string[];
  issues: PolicyIssue[];
  /** Fail-closed situations worth knowing about but not errors: a server without a file, a file without a server. */
  warnings: string[];
}

/** Validates every policy file in a directory; returns all issues (empty when everything is valid). */
export async function checkPolicyDir(dir: string, servers?: string[]): Promise<PolicyIssue[]> {
  return (await checkPolicyDirReport(dir, servers)).issues;
}

/** Validates every policy file in a directory and, given the configured servers, warns about mismatches. */
export async function checkPolicyDirReport(dir: string, servers?: string[]): Promise<PolicyCheckReport> {
  try {
    if (!(await stat(dir)).isDirectory()) {
      return { files: [], issues: [{ file: dir, path: '$', message: 'is not a directory' }], warnings: [] };
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return { files: [], issues: [{ file: dir, path: '$', message: 'directory not found' }], warnings: [] };
  }
  const names = await listPolicyFiles(dir);
  const issues: PolicyIssue[] = [];
  const warnings: string[] = [];
  const byServer = new Map<string, string[]>();
  for (const name of names) {
    const file = join(dir, name);
    const server = serverOfFileName(name) as string;
    byServer.set(server, [...(byServer.get(server) ?? []), file]);
    try {
      parsePolicyText(await readFile(file, 'utf8'), file);
    } catch (err) {
      if (err instanceof PolicyError) issues.push(...err.issues);
      else issues.push({ file, path: '$', message: `cannot read: ${(err as Error).message}` });
    }
  }
  for (const [server, files] of byServer) {
    if (files.length > 1) {
      issues.push({
        file: files[0] as string,
        path: '$',
        message: `server ${server} has more than one policy file (${files.join(', ')}); keep exactly one`,
      });
    }
    if (servers && !servers.includes(server))
      warnings.push(`${files.join(', ')}: matches no configured server; it is ignored`);
  }
  for (const server of servers ?? []) {
    if (!byServer.has(server))
      warnings.push(
        `${join(dir, `${server}.json`)}: no policy file for server ${server}; every tool call to it is denied`,
      );
  }
  return { files: names.map((n) => join(dir, n)), issues, warnings };
}

/** Formats issues one per line: `file: $.path: message`. */
export function formatIssues(issues: readonly PolicyIssue[]): string {
  return issues.map((i) => `${i.file}: ${i.path}: ${i.message}`).join('\n');
}
