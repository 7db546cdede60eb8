import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import {
  PolicyError,
  evaluate,
  isDeniedOutright,
  taskSupportOf,
  parsePolicyText,
  type CallContext,
  type CompiledPolicy,
  type Decision,
  type PolicyIssue,
  type TaskMode,
} from '../core/policy/index.js';
import type { Logger } from '../log.js';
import { listPolicyFiles, readServerFile, serverOfFileName } from './policy-files.js';

/** Options of a PolicyStore. */
export interface PolicyStoreOptions {
  /** The policies directory. */
  dir: string;
  /** Configured upstream server names; each reads `<dir>/<server>.json|.yaml|.yml`. */
  servers: string[];
  logger: Logger;
  /** Quiet time after the last file event before reloading. @defaultValue 100 */
  debounceMs?: number;
}

/** A loaded policy file, as listed by GET /api/policies. */
export interface PolicyFileInfo {
  server: string;
  file: string;
  sha256: string;
  /** The file's content as parsed. */
  policy: unknown;
}

/** Events a PolicyStore emits. */
export interface PolicyStoreEvents {
  /** A changed, valid file now applies. */
  reload: [{ server: string; file: string; sha256: string }];
  /** A changed file is invalid; the last good policy stays in force. */
  invalid: [{ file: string; issues: PolicyIssue[] }];
  /** A server's file was deleted; the server now denies every tool. */
  removed: [{ server: string; file: string }];
}

interface Loaded {
  policy: CompiledPolicy;
  file: string;
  sha256: string;
}

/**
 * Holds the compiled policy of each configured server, loaded from the policies directory and
 * kept current by watching it. Fails closed: a server without a valid file denies every tool.
 */
export class PolicyStore extends EventEmitter<PolicyStoreEvents> {
  private readonly dir: string;
  private readonly servers: ReadonlySet<string>;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private readonly loaded = new Map<string, Loaded>();
  /** Last rejected content per server, so one bad save is reported once, not on every event. */
  private readonly lastInvalid = new Map<string, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Reloads of one server run one after another, so a slow read never overwrites a newer one. */
  private readonly chains = new Map<string, Promise<void>>();
  private watcher: FSWatcher | undefined;
  private closed = false;

  constructor(options: PolicyStoreOptions) {
    super();
    this.dir = options.dir;
    this.servers = new Set(options.servers);
    this.logger = options.logger;
    this.debounceMs = options.debounceMs ?? 100;
  }

  /** Loads every configured server's file; throws PolicyError with the issues of all invalid files. */
  async load(): Promise<void> {
    const issues: PolicyIssue[] = [];
    for (const server of this.servers) {
      const lookup = await readServerFile(this.dir, server);
      if (lookup.kind === 'missing') {
        this.logger.warn(
          { server, dir: this.dir },
          `No policy file for server ${server}: every tool call to it is denied`,
        );
        continue;
      }
      if (lookup.kind === 'ambiguous') {
        issues.push(...ambiguity(lookup.files, server));
        continue;
      }
      const { file, text, sha256 } = lookup.found;
      try {
        this.loaded.set(server, { policy: parsePolicyText(text, file), file, sha256 });
        this.logger.info({ server, file, sha256 }, `Loaded policy ${file}`);
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err;
        issues.push(...err.issues);
      }
    }
    for (const name of await listPolicyFiles(this.dir)) {
      const server = serverOfFileName(name) as string;
      if (!this.servers.has(server)) {
        this.logger.warn(
          { file: name, dir: this.dir },
          `Policy file ${name} matches no configured server; it is ignored`,
        );
      }
    }
    if (issues.length > 0) throw new PolicyError(issues);
  }

  /** Starts watching the directory; valid edits apply, invalid ones are logged and the last good policy stays. */
  watch(): void {
    if (this.watcher || this.closed) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, filename) => this.onFsEvent(filename));
    } catch (err) {
      this.logger.error(
        { err, dir: this.dir },
        `Cannot watch policy directory ${this.dir}; edits will not apply until restart`,
      );
      return;
    }
    this.watcher.on('error', (err) => {
      this.logger.error(
        { err, dir: this.dir },
        `Watching policy directory ${this.dir} failed; edits will not apply until restart`,
      );
    });
  }

  /** The compiled policy of a server, or undefined when it has none (every call denied). */
  get(server: string): CompiledPolicy | undefined {
    return this.loaded.get(server)?.policy;
  }

  /** Decides one call against its server's current policy. */
  evaluate(ctx: CallContext): Decision {
    return evaluate(this.get(ctx.server), ctx);
  }

  /** True when the agent can never get anything but deny for this tool (hide it from tools/list). */
  isDeniedOutright(server: string, tool: string, agent: string): boolean {
    return isDeniedOutright(this.get(server), server, tool, agent);
  }

  /** The `execution.taskSupport` the agent's tools/list shows for the tool (see taskSupportOf). */
  taskSupport(server: string, tool: string, agent: string): TaskMode | undefined {
    return taskSupportOf(this.get(server), tool, agent);
  }

  /** The loaded files, for display. */
  files(): PolicyFileInfo[] {
    return [...this.loaded.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([server, l]) => ({ server, file: l.file, sha256: l.sha256, policy: l.policy.raw }));
  }

  /** Stops watching; pending reloads are dropped. */
  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private onFsEvent(filename: string | Buffer | null): void {
    const name = filename === null ? undefined : filename.toString();
    const server = name === undefined ? undefined : serverOfFileName(name);
    if (server !== undefined && this.servers.has(server)) {
      this.schedule(server);
      return;
    }
    // Unknown names include editors' temp files and Kubernetes' `..data` symlink swaps: recheck all.
    if (name === undefined || server === undefined) for (const s of this.servers) this.schedule(s);
  }

  private schedule(server: string): void {
    if (this.closed) return;
    const pending = this.timers.get(server);
    if (pending) clearTimeout(pending);
    this.timers.set(
      server,
      setTimeout(() => {
        this.timers.delete(server);
        const next = (this.chains.get(server) ?? Promise.resolve())
          .then(() => this.reload(server))
          .catch((err: unknown) => {
            this.logger.error(
              { err, server },
              `Reloading the policy of ${server} failed; keeping the last good policy`,
            );
          });
        this.chains.set(server, next);
      }, this.debounceMs),
    );
  }

  private async reload(server: string, confirmingRemoval = false): Promise<void> {
    if (this.closed) return;
    let lookup;
    try {
      lookup = await readServerFile(this.dir, server);
    } catch (err) {
      this.logger.error(
        { err, server, dir: this.dir },
        `Cannot read policy for ${server}; keeping the last good policy`,
      );
      return;
    }
    if (this.closed) return;
    const current = this.loaded.get(server);
    if (lookup.kind === 'missing') {
      if (!current) return;
      // Editors that save by rename leave the name briefly absent; look again before failing closed.
      if (!confirmingRemoval) {
        await new Promise((r) => setTimeout(r, this.debounceMs));
        return this.reload(server, true);
      }
      this.loaded.delete(server);
      this.lastInvalid.delete(server);
      this.logger.warn(
        { server, file: current.file },
        `Policy file ${current.file} was removed: every tool call to ${server} is now denied`,
      );
      this.emit('removed', { server, file: current.file });
      return;
    }
    if (lookup.kind === 'ambiguous') {
      const issues = ambiguity(lookup.files, server);
      this.reportInvalid(server, lookup.files.join('|'), lookup.files[0] as string, issues);
      return;
    }
    const { file, text, sha256 } = lookup.found;
    if (current && current.sha256 === sha256 && current.file === file) return;
    try {
      const policy = parsePolicyText(text, file);
      this.loaded.set(server, { policy, file, sha256 });
      this.lastInvalid.delete(server);
      this.logger.info({ server, file, sha256 }, `Reloaded policy ${file}`);
      this.emit('reload', { server, file, sha256 });
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      this.reportInvalid(server, sha256, file, err.issues);
    }
  }

  private reportInvalid(server: string, fingerprint: string, file: string, issues: PolicyIssue[]): void {
    if (this.lastInvalid.get(server) === fingerprint) return;
    this.lastInvalid.set(server, fingerprint);
    const kept = this.loaded.get(server);
    for (const issue of issues) {
      this.logger.error(
        { server, file: issue.file, path: issue.path },
        `${issue.file}: ${issue.path}: ${issue.message}`,
      );
    }
    this.logger.warn(
      { server, file },
      kept
        ? `Invalid policy ${file}: keeping the last good policy (${kept.file}, sha256 ${kept.sha256.slice(0, 12)})`
        : `Invalid policy ${file}: ${server} has no valid policy, so every tool call to it is denied`,
    );
    this.emit('invalid', { file, issues });
  }
}

function ambiguity(files: string[], server: string): PolicyIssue[] {
  return files.map((file) => ({
    file,
    path: '$',
    message: `server ${server} has more than one policy file (${files.join(', ')}); keep exactly one`,
  }));
}
