import type { Command } from 'commander';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { loadConfig } from '../../config/load-config.js';
import { createLogger } from '../../log.js';
import { AirlockError } from '../../core/errors.js';
import { StartupError } from '../exit-codes.js';

/** `airlock stdio --agent ID`: the agent-facing MCP over stdin/stdout; logs go to stderr only. */
export function registerStdio(program: Command): void {
  program
    .command('stdio')
    .description('serve one agent over stdio, for MCP clients that spawn a command')
    .requiredOption('--agent <id>', 'the agent id this client acts as')
    .option('-c, --config <file>', 'config file (default: ./airlock.config.json or .yaml)')
    .option('--demo', 'with no config file, run the bundled demo')
    .action(async (opts: { agent: string; config?: string; demo?: boolean }) => {
      const { config } = loadConfig({ file: opts.config ?? program.opts().config, demo: opts.demo });
      if (config.agents.length && !config.agents.some((a) => a.id === opts.agent)) {
        throw new AirlockError(
          'CONFIG_INVALID',
          `Unknown agent "${opts.agent}": it is not in the config's agents`,
        );
      }
      const logger = createLogger(
        process.env.AIRLOCK_LOG_LEVEL ?? (config.log.level === 'info' ? 'warn' : config.log.level),
      );
      // Loaded on demand so review commands start without loading the whole gateway.
      const { startAirlock } = await import('../../app.js');
      const airlock = await startAirlock(config, { logger, listen: false }).catch(startupFailed);
      const session = airlock.createSession(opts.agent);
      const transport = new StdioServerTransport();
      let stopping = false;
      const shutdown = async () => {
        if (stopping) return;
        stopping = true;
        await airlock.stop();
        process.exit(0);
      };
      session.onclose = () => void shutdown();
      process.stdin.on('end', () => void shutdown());
      process.on('SIGINT', () => void shutdown());
      process.on('SIGTERM', () => void shutdown());
      await session.connect(transport);
    });
}

function startupFailed(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  throw new StartupError(err instanceof AirlockError ? err.code : 'INTERNAL', `could not start: ${message}`);
}
