#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { AirlockError } from '../core/errors.js';
import { AIRLOCK_VERSION } from '../version.js';
import { EXIT, StartupError, exitCodeOf } from './exit-codes.js';
import { registerServe } from './commands/serve.js';
import { registerStdio } from './commands/stdio.js';
import { registerPolicy } from './commands/policy.js';
import { registerReview } from './commands/review.js';
import { registerGrants } from './commands/grants.js';
import { registerAudit } from './commands/audit.js';

const program = new Command();
program
  .name('airlock')
  .description('Human-approval gateway for AI agents’ MCP tool calls')
  .version(AIRLOCK_VERSION)
  .option('-c, --config <file>', 'config file (default: ./airlock.config.json or .yaml)')
  .option(
    '--url <url>',
    'gateway URL for pending/history/show/approve/reject (default: AIRLOCK_URL, else from the config)',
  )
  .option('--token <token>', 'reviewer token for the gateway API (default: AIRLOCK_TOKEN)')
  .exitOverride()
  .showHelpAfterError();

registerServe(program);
registerStdio(program);
registerPolicy(program);
registerReview(program);
registerGrants(program);
registerAudit(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  }
  const message =
    err instanceof AirlockError
      ? err.message
      : err instanceof Error
        ? (err.stack ?? err.message)
        : String(err);
  process.stderr.write(`airlock: ${message}\n`);
  process.exit(err instanceof StartupError ? EXIT.INVALID : exitCodeOf(err));
}
