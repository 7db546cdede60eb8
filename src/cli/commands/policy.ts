import type { Command } from 'commander';
import { resolve } from 'node:path';
import { loadConfig } from '../../config/load-config.js';
import { AirlockError } from '../../core/errors.js';
import { silentLogger } from '../../log.js';
import { checkPolicyDir, formatIssues } from '../../policy/check.js';
import { PolicyStore } from '../../policy/policy-store.js';
import { explainCall, formatExplanation } from '../../policy/explain.js';
import { EXIT } from '../exit-codes.js';
import { registerPolicyInit } from './policy-init.js';

/** `airlock policy check|explain|init`. */
export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('validate, explain and write policies');

  policy
    .command('check [dir]')
    .description('validate policy files; each error names its file and JSON path')
    .action(async (dir: string | undefined) => {
      const target = dir ? resolve(dir) : policiesDir(program);
      const issues = await checkPolicyDir(target);
      if (issues.length) {
        process.stderr.write(formatIssues(issues) + '\n');
        process.stderr.write(`${issues.length} problem(s) in ${target}\n`);
        process.exit(EXIT.INVALID);
      }
      process.stdout.write(`policies in ${target}: OK\n`);
    });

  policy
    .command('explain')
    .description('show which rule decides a call and what it decides')
    .requiredOption('--server <server>', 'upstream server name (its policy file)')
    .requiredOption('--tool <tool>', 'tool name as the upstream names it')
    .option('--args <json>', 'tool arguments as JSON', '{}')
    .option('--agent <id>', 'agent id', 'anonymous')
    .option('--dir <dir>', 'policies directory (default: from the config, else ./policies)')
    .action(async (opts: { server: string; tool: string; args: string; agent: string; dir?: string }) => {
      let args: unknown;
      try {
        args = JSON.parse(opts.args);
      } catch {
        throw new AirlockError('BAD_REQUEST', `--args is not valid JSON: ${opts.args}`);
      }
      if (!args || typeof args !== 'object' || Array.isArray(args)) {
        throw new AirlockError('BAD_REQUEST', '--args must be a JSON object');
      }
      const dir = opts.dir ? resolve(opts.dir) : policiesDir(program);
      const store = new PolicyStore({ dir, servers: [opts.server], logger: silentLogger });
      await store.load();
      const explanation = explainCall(store, {
        server: opts.server,
        tool: opts.tool,
        agent: opts.agent,
        args: args as Record<string, unknown>,
      });
      process.stdout.write(formatExplanation(explanation) + '\n');
      store.close();
    });

  registerPolicyInit(policy, program);
}

/** The policies directory from the config when one is found, else ./policies. */
function policiesDir(program: Command): string {
  try {
    return loadConfig({ file: program.opts().config }).config.policies;
  } catch {
    return resolve('policies');
  }
}
