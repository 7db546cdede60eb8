import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { registerLabTools } from './lab-tools.js';
import { Lab, type Vm } from './lab-state.js';
import { AIRLOCK_VERSION } from '../version.js';

/** Options of createLabServer. */
export interface LabServerOptions {
  /**
   * Real seconds per simulated second for long-running tools, so demos and tests stay quick.
   * @defaultValue `LAB_TIME_SCALE` from the environment, else 0.1
   */
  timeScale?: number;
  /** The VMs to start with. @defaultValue the seeded dc-01, web-01, db-01 and kali-01 */
  vms?: Vm[];
}

/** Reads LAB_TIME_SCALE; a bad value falls back to the default rather than stalling every capture. */
function envTimeScale(): number {
  const raw = process.env.LAB_TIME_SCALE;
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : 0.1;
}

/** Creates the demo lab MCP server with fresh in-memory state; connect it to any transport. */
export function createLabServer(options: LabServerOptions = {}): McpServer {
  const server = new McpServer(
    { name: 'airlock-demo-lab', title: 'Airlock demo VM lab', version: AIRLOCK_VERSION },
    {
      capabilities: { logging: {} },
      instructions:
        'A simulated VM lab. Use list_vms to see the VMs, health_checks to check them, and the other tools to ' +
        'operate them. Captures, power changes and VM management may need human approval through Airlock.',
    },
  );
  registerLabTools(server, new Lab(options.vms), { timeScale: options.timeScale ?? envTimeScale() });
  return server;
}

/** Serves the lab over stdio until stdin closes. */
async function main(): Promise<void> {
  const server = createLabServer();
  await server.connect(new StdioServerTransport());
  // The parent closing our stdin is how stdio MCP clients say goodbye; exit instead of lingering.
  process.stdin.once('end', () => process.exit(0));
  // stdout carries the protocol; human-readable notes go to stderr, which Airlock logs.
  process.stderr.write(`airlock demo lab ready: ${new Lab().list().length} seeded VMs\n`);
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().catch((err: unknown) => {
    process.stderr.write(`airlock demo lab failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
