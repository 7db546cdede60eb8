import type { Command } from 'commander';
import type { AirlockConfig } from '../../config/schema.js';
import { BUNDLED_POLICIES, loadConfig } from '../../config/load-config.js';
import { createLogger } from '../../log.js';
import { AirlockError } from '../../core/errors.js';
import { StartupError } from '../exit-codes.js';
import { BIN_PATH } from '../paths.js';

/** `airlock serve`: the gateway over HTTP. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the gateway (MCP at /mcp, console at /, API at /api)')
    .option('-c, --config <file>', 'config file (default: ./airlock.config.json or .yaml)')
    .option('--demo', 'with no config file, run the bundled demo (demo lab upstream, ./policies)')
    .action(async (opts: { config?: string; demo?: boolean }) => {
      const { config, file } = loadConfig({ file: opts.config ?? program.opts().config, demo: opts.demo });
      const logger = createLogger(process.env.AIRLOCK_LOG_LEVEL ?? config.log.level);
      logger.info({ config: file ?? '(built-in demo)' }, 'starting airlock');
      // Loaded on demand so review commands start without loading the whole gateway.
      const { startAirlock } = await import('../../app.js');
      const airlock = await startAirlock(config, { logger }).catch(startupFailed);
      const servers = airlock.upstreams
        .list()
        .map((u) => `${u.name} (${u.state}, ${u.tools().length} tools)`)
        .join(', ');
      const agent = config.agents[0]?.id ?? 'local';
      process.stdout.write(
        [
          '',
          `Airlock is running${file ? '' : ' with the bundled demo'}.`,
          `  MCP endpoint (Streamable HTTP): ${airlock.url}/mcp`,
          `  stdio command for MCP clients:  ${process.execPath} ${BIN_PATH} stdio --agent ${agent}${file ? ` --config ${file}` : ' --demo'}`,
          `  Console:                        ${airlock.url}/`,
          `  Upstream servers:               ${servers || '(none configured)'}`,
          `  Policies:                       ${config.policies}`,
          '',
          ...(runsDemoLab(config, airlock.upstreams.list()) ? DEMO_HINTS : CLIENT_HINT),
          '',
        ].join('\n'),
      );
      let stopping = false;
      const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'stopping airlock');
        await airlock.stop();
        process.exit(0);
      };
      process.on('SIGINT', () => void shutdown('SIGINT'));
      process.on('SIGTERM', () => void shutdown('SIGTERM'));
    });
}

function startupFailed(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  throw new StartupError(err instanceof AirlockError ? err.code : 'INTERNAL', `could not start: ${message}`);
}

const CLIENT_HINT = [
  'Point an MCP client (e.g. `npx @modelcontextprotocol/inspector`) at the MCP endpoint to try it.',
];

const DEMO_HINTS = [
  'Try it: point an MCP client (e.g. `npx @modelcontextprotocol/inspector`) at the MCP endpoint, then',
  '  call list_vms or get_vm_console_ticket  → allowed',
  '  call delete_vm                          → denied by policy',
  '  call health_checks 11 times in a minute → rate-limited',
  '  call start_vm                           → held for approval',
];

/** Tools the demo hints name; an upstream serving them all is the demo lab. */
const DEMO_TOOLS = ['list_vms', 'get_vm_console_ticket', 'delete_vm', 'health_checks', 'start_vm'];

/**
 * True when the demo hints hold: a server named lab serves the demo lab's tools under the bundled
 * policies (as `--demo` sets up). With a user's own servers or policies the promised outcomes are not ours.
 */
function runsDemoLab(
  config: AirlockConfig,
  upstreams: readonly { name: string; tools(): readonly { name: string }[] }[],
): boolean {
  if (config.policies !== BUNDLED_POLICIES) return false;
  const lab = upstreams.find((u) => u.name === 'lab');
  const tools = new Set(lab?.tools().map((t) => t.name));
  return DEMO_TOOLS.every((t) => tools.has(t));
}
