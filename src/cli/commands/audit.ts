import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE_NAMES, loadConfig } from '../../config/load-config.js';
import { formatVerifyResult, resolveAuditFile, verifyAuditFile } from '../../audit/index.js';
import { EXIT } from '../exit-codes.js';

/** `airlock audit verify [FILE]`: checks the audit log's hash chain and names the first broken line. */
export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('check the tamper-evident audit log');

  audit
    .command('verify [file]')
    .description(
      "verify the hash chain (default file: the config's audit.file, else .airlock/audit.jsonl); exit 1 when broken",
    )
    .action(async (file: string | undefined) => {
      const target = file ? resolve(file) : defaultAuditFile(program.opts<{ config?: string }>().config);
      // A missing file throws NOT_FOUND, which main turns into exit code 4.
      const result = await verifyAuditFile(target);
      process.stdout.write(formatVerifyResult(result, target) + '\n');
      if (!result.ok) process.exitCode = EXIT.INVALID;
    });
}

/** The config's audit file (audit.file, else <dataDir>/audit.jsonl); with no config, the default dataDir's. */
function defaultAuditFile(configFile: string | undefined): string {
  if (configFile === undefined && !CONFIG_FILE_NAMES.some((name) => existsSync(name))) {
    return resolve('.airlock', 'audit.jsonl');
  }
  return resolveAuditFile(loadConfig({ file: configFile }).config);
}
