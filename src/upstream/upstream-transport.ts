import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { HttpServerConfig, ServerConfig, StdioServerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';

/** A transport to one upstream plus what Airlock needs to explain its failures. */
export interface UpstreamTransport {
  readonly kind: 'stdio' | 'http';
  readonly transport: Transport;
  /** The child's pid while a stdio upstream runs; undefined for HTTP. */
  readonly pid: number | undefined;
  /** Why the connection ended, as a phrase ("it exited with code 1"), once known; `err` is what connecting threw. */
  describeEnd(err?: unknown): string | undefined;
}

// Long stderr lines (stack dumps on one line, base64 blobs) would swamp the log.
const MAX_STDERR_LINE = 4000;
const WARN_WORDS = /\b(error|fatal|panic|exception|traceback|warn(ing)?)\b/i;
const SPAWN_FAILURE = /^(ENOENT|EACCES|EPERM|ENOTDIR)$/;

/** The spawn failure behind a connect error, if that is what it was (the SDK's probe sibling fails first). */
function spawnFailure(err: unknown): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SPAWN_FAILURE.test(code) && 'syscall' in e) return e;
  }
  return undefined;
}

function stdioTransport(config: StdioServerConfig, logger: Logger): UpstreamTransport {
  // The SDK's own class, not a subclass: only for exactly that class does version negotiation probe on a
  // throwaway sibling process, so a legacy server that exits on pre-initialize traffic costs nothing.
  const transport = new StdioClientTransport({
    command: config.command,
    args: config.args,
    // The SDK merges this over a safe default environment (PATH, HOME, ...), never all of Airlock's.
    env: config.env,
    ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    // Piped, never inherited: in `airlock stdio` mode our own stdout/stderr must stay clean.
    stderr: 'pipe',
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  let child: ChildProcess | undefined;
  // Wrapped on the instance (the prototype must stay the SDK's, see above). The SDK only says "closed";
  // the exit code or signal is what tells an operator whether the upstream crashed, was killed, or could
  // not start, and it keeps the child private.
  const start = transport.start.bind(transport);
  transport.start = async () => {
    try {
      await start();
    } catch (err) {
      spawnError = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
    child = (transport as unknown as { _process?: ChildProcess })._process;
    child?.once('exit', (code, signal) => {
      exit = { code, signal };
    });
  };
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
    describeEnd(err?: unknown) {
      const failed = spawnError ?? spawnFailure(err);
      if (failed) return `its command "${config.command}" could not be started: ${failed.message}`;
      // An exit during connect can beat our listener; the child object still knows how it ended.
      const ended =
        exit ??
        (child && (child.exitCode !== null || child.signalCode !== null)
          ? { code: child.exitCode, signal: child.signalCode }
          : undefined);
      if (!ended) return undefined;
      if (ended.signal) return `it was killed by ${ended.signal}`;
      return `it exited with code ${ended.code ?? 'unknown'}`;
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
