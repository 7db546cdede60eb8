import { InvalidArgumentError, type Command } from 'commander';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../../config/load-config.js';
import type { ServerConfig } from '../../config/schema.js';
import { AirlockError } from '../../core/errors.js';
import { silentLogger } from '../../log.js';
import {
  byClassThenName,
  classifyTools,
  isGlobName,
  starterPolicy,
  type ToolClassification,
} from '../../policy/classify-tools.js';
import { UpstreamConnection } from '../../upstream/upstream-connection.js';
import type { UpstreamHooks } from '../../upstream/types.js';
import { formatTable, outputWidth, styles, useColor } from '../table.js';

/** Options of `airlock policy init`. */
interface InitOptions {
  server?: string;
  config?: string;
  demo?: boolean;
  perMinute: number;
}

/** Adds `policy init` to the `policy` command. */
export function registerPolicyInit(policy: Command, program: Command): void {
  policy
    .command('init')
    .description(
      "print a starter policy for an upstream from its tools' annotations, names and descriptions " +
        '(policy JSON on stdout, how each tool was classified on stderr)',
    )
    .option('--server <server>', 'upstream server from the config (default: the only one)')
    .option('-c, --config <file>', 'config file (default: ./airlock.config.json or .yaml)')
    .option('--demo', 'with no config file, use the bundled demo (the demo lab as "lab")')
    .option('--per-minute <n>', 'rate limit for execute tools, calls per agent per minute', perMinute, 10)
    .action(async (opts: InitOptions) => {
      const { config } = loadConfig({
        file: opts.config ?? program.opts<{ config?: string }>().config,
        demo: opts.demo,
      });
      const names = Object.keys(config.servers);
      const server = opts.server ?? (names.length === 1 ? names[0] : undefined);
      if (!server) {
        throw new AirlockError(
          'BAD_REQUEST',
          names.length
            ? `Pass --server: one of ${names.join(', ')}`
            : 'The config has no servers to write a policy for',
        );
      }
      const serverConfig = config.servers[server];
      if (!serverConfig) {
        throw new AirlockError(
          'NOT_FOUND',
          `No server "${server}" in the config${names.length ? ` (servers: ${names.join(', ')})` : ''}`,
        );
      }
      const tools = await listUpstreamTools(server, serverConfig);
      const classified = classifyTools(tools);
      const policy = starterPolicy(classified, { server, executePerMinute: opts.perMinute });
      process.stdout.write(JSON.stringify(policy, null, 2) + '\n');
      process.stderr.write(formatClassification(server, classified, opts.perMinute) + '\n');
    });
}

function perMinute(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1.');
  return n;
}

// policy init only lists tools: it never calls one, so the upstream has no reason to ask anything of us.
const NO_HOOKS: UpstreamHooks = {
  onRequest: async (_server, request) => {
    throw new Error(`airlock policy init does not answer ${request.method}`);
  },
  onNotification: () => {},
};

/** Connects to one upstream as the gateway would (stdio child or HTTP), lists its tools, disconnects. */
export async function listUpstreamTools(name: string, config: ServerConfig): Promise<Tool[]> {
  const connection = new UpstreamConnection(name, config, NO_HOOKS, silentLogger);
  try {
    await connection.start();
    // start() resolves either way and keeps retrying in the background; one try is enough here.
    if (connection.state !== 'ready') throw connection.unavailableError();
    return connection.tools();
  } finally {
    await connection.close();
  }
}

/** The stderr report: one line per tool with its class, the rule it got and why. */
export function formatClassification(
  server: string,
  classified: readonly ToolClassification[],
  perMinuteLimit: number,
  color = useColor(process.stderr),
): string {
  const s = styles(color);
  const rule = (c: ToolClassification) =>
    isGlobName(c.tool)
      ? 'unlisted (glob)'
      : c.class === 'read-only'
        ? 'allow'
        : c.class === 'execute'
          ? `limit ${perMinuteLimit}/min`
          : 'approval';
  const paint = (c: ToolClassification) =>
    c.class === 'destructive' ? s.red : c.class === 'execute' ? s.yellow : s.green;
  const table = formatTable(
    [
      { header: 'TOOL', value: (c) => c.tool, minWidth: 12 },
      { header: 'CLASS', value: (c) => c.class, style: (t, c) => paint(c)(t) },
      { header: 'RULE', value: rule, minWidth: 12 },
      { header: 'WHY', value: (c) => `${c.source}: ${c.reason}`, minWidth: 20 },
    ],
    [...classified].sort(byClassThenName),
    { width: outputWidth(process.stderr), color },
  );
  const globs = classified.some((c) => isGlobName(c.tool))
    ? '\nunlisted (glob): a name with * or ? would be read as a glob, so the tool is left to the default (deny).'
    : '';
  return `Classified ${classified.length} tool(s) on "${server}"; the policy is on stdout (review it before use):\n${table}${globs}`;
}
