import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './airlock-harness.js';

/** One conformance upstream process serving HTTP. */
export interface UpstreamProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The command line that runs the conformance upstream, for spawning it or naming it in a config. */
export function upstreamCommand(args: string[]): { command: string; args: string[] } {
  return {
    command: process.execPath,
    args: ['--import', 'tsx', join(ROOT, 'test', 'conformance-upstream', 'main.ts'), ...args],
  };
}

/** Starts the upstream over HTTP on a free port and waits for the line naming its URL. */
export async function startUpstream(mode: string): Promise<UpstreamProcess> {
  const { command, args } = upstreamCommand(['--mode', mode]);
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const match = /listening on (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`conformance upstream exited with ${code}: ${err}`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
