import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load-config.js';
import { createLogger } from '../../log.js';
import { AirlockError } from '../../core/errors.js';
import { StartupError } from '../exit-codes.js';

/**
 * `airlock stdio --agent ID`: the agent-facing MCP over stdin/stdout, 2025 (initialize) or 2026-07-28
 * (per-request envelope) as the client's first message says; logs go to stderr only.
 */
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
      const { StdioFront } = await import('../../agent/stdio-front.js');
      const airlock = await startAirlock(config, { logger, listen: false }).catch(startupFailed);
      const front = new StdioFront({
        agent: opts.agent,
        modern: airlock.modern,
        createSession: airlock.createSession,
        listens: airlock.listens,
        write: (message) => void process.stdout.write(`${JSON.stringify(message)}\n`),
        logger,
      });
      let stopping = false;
      const shutdown = async () => {
        if (stopping) return;
        stopping = true;
        // Listen streams end with their completion response while stdout is still ours.
        await airlock.listens.closeAll();
        await front.close();
        await airlock.stop();
        process.exit(0);
      };
      front.onclose = () => void shutdown();
      // A client that stopped reading cannot be answered any more.
      process.stdout.on('error', () => void shutdown());
      const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
      lines.on('line', (line) => front.receive(line));
      lines.on('close', () => void shutdown());
      process.on('SIGINT', () => void shutdown());
      process.on('SIGTERM', () => void shutdown());
    });
}

function startupFailed(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  throw new StartupError(err instanceof AirlockError ? err.code : 'INTERNAL', `could not start: ${message}`);
}
