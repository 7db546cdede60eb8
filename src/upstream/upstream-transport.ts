import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { HttpServerConfig, ServerConfig, StdioServerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';

/** A transport to one upstream plus what Airlock needs to explain its failures. */
export interface UpstreamTransport {
  readonly kind: 'stdio' | 'http';
  readonly transport: Transport;
  /** The child's pid while a stdio upstream runs; undefined for HTTP. */
  readonly pid: number | undefined;
  /** Why the connection ended, as a phrase ("it exited with code 1"), once known. */
  describeEnd(): string | undefined;
}

// Long stderr lines (stack dumps on one line, base64 blobs) would swamp the log.
const MAX_STDERR_LINE = 4000;
const WARN_WORDS = /\b(error|fatal|panic|exception|traceback|warn(ing)?)\b/i;

/**
 * StdioClientTransport that also records how its child ended. The SDK only says "closed"; the exit code
 * or signal is what tells an operator whether the upstream crashed, was killed, or could not start.
 */
class ObservedStdioTransport extends StdioClientTransport {
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  spawnError: Error | undefined;

  override async start(): Promise<void> {
    try {
      await super.start();
    } catch (err) {
      this.spawnError = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
    // The SDK keeps the child private; reading it is the only way to learn the exit code.
    const child = (this as unknown as { _process?: ChildProcess })._process;
    child?.once('exit', (code, signal) => {
      this.exit = { code, signal };
    });
  }
}

function stdioTransport(config: StdioServerConfig, logger: Logger): UpstreamTransport {
  const transport = new ObservedStdioTransport({
    command: config.command,
    args: config.args,
    // The SDK merges this over a safe default environment (PATH, HOME, ...), never all of Airlock's.
    env: config.env,
    ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    // Piped, never inherited: in `airlock stdio` mode our own stdout/stderr must stay clean.
    stderr: 'pipe',
  });
  const stderr = transport.stderr as Readable | null;
  if (stderr) {
    // The logger names the server already; binding it again would write the key twice on every line.
    const log = logger.child({ stream: 'stderr' });
    createInterface({ input: stderr, crlfDelay: Infinity }).on('line', (raw) => {
      const line =
        raw.length > MAX_STDERR_LINE ? `${raw.slice(0, MAX_STDERR_LINE)}… (${raw.length} chars)` : raw;
      if (line.trim() === '') return;
      if (WARN_WORDS.test(line)) log.warn(line);
      else log.info(line);
    });
  }
  return {
    kind: 'stdio',
    transport,
    get pid() {
      return transport.pid ?? undefined;
    },
    describeEnd() {
      if (transport.spawnError) {
        return `its command "${config.command}" could not be started: ${transport.spawnError.message}`;
      }
      const exit = transport.exit;
      if (!exit) return undefined;
      if (exit.signal) return `it was killed by ${exit.signal}`;
      return `it exited with code ${exit.code ?? 'unknown'}`;
    },
  };
}

function httpTransport(config: HttpServerConfig): UpstreamTransport {
  const transport = new StreamableHTTPClientTransport(new URL(config.url), {
    requestInit: { headers: config.headers },
  });
  return { kind: 'http', transport, pid: undefined, describeEnd: () => undefined };
}

/** Creates the SDK client transport for a configured upstream server (not yet started); `logger` is the server's own. */
export function createUpstreamTransport(config: ServerConfig, logger: Logger): UpstreamTransport {
  return config.kind === 'stdio' ? stdioTransport(config, logger) : httpTransport(config);
}
