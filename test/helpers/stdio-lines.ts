import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ROOT } from './airlock-harness.js';

/** `airlock stdio` as a child process spoken to in raw JSON-RPC lines. */
export interface StdioLines {
  child: ChildProcess;
  /** Every message read from stdout, in order. */
  messages: any[];
  /** Writes one line to stdin, verbatim. */
  writeLine(line: string): void;
  /** Writes one JSON-RPC message (request or notification) without waiting for anything. */
  send(message: Record<string, unknown>): void;
  /** Writes one message and resolves with the response carrying its id. */
  request(message: Record<string, unknown>): Promise<any>;
  /** Resolves with the first message (already read or still to come) that `match` accepts. */
  next(match: (message: any) => boolean, what: string): Promise<any>;
  stderr(): string;
  /** Closes stdin and waits for the process to exit; resolves with its exit code. */
  close(): Promise<number | null>;
}

/** The argv that runs the built CLI's `stdio` command. */
export function stdioArgs(agent: string, config: string): string[] {
  return [join(ROOT, 'dist', 'cli', 'main.js'), 'stdio', '--agent', agent, '--config', config];
}

/** Spawns `airlock stdio --agent AGENT --config FILE`. */
export function spawnStdio(agent: string, config: string): StdioLines {
  const child = spawn(process.execPath, stdioArgs(agent, config), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, AIRLOCK_LOG_LEVEL: process.env.AIRLOCK_TEST_LOG ?? 'silent' },
  });
  const messages: any[] = [];
  const waiters: { match: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line);
    messages.push(message);
    for (const w of [...waiters]) {
      if (w.match(message)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(message);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const next = (match: (m: any) => boolean, what: string) => {
    const seen = messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<any>((resolve, reject) => {
      waiters.push({ match, resolve });
      void exited.then(() => reject(new Error(`airlock stdio exited before ${what}: ${err}`)));
    });
  };
  const writeLine = (line: string) => void child.stdin!.write(`${line}\n`);
  return {
    child,
    messages,
    writeLine,
    send: (message) => writeLine(JSON.stringify({ jsonrpc: '2.0', ...message })),
    request: (message) => {
      writeLine(JSON.stringify({ jsonrpc: '2.0', ...message }));
      const id = message['id'];
      return next((m) => m.id === id && !('method' in m), `the response to ${String(id)}`);
    },
    next,
    stderr: () => err,
    close: async () => {
      child.stdin!.end();
      return exited;
    },
  };
}
