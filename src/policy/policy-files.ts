import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { isPolicyFileName } from '../core/policy/index.js';

/** The extensions a policy file may have, in the order they are looked for. */
export const POLICY_EXTENSIONS = ['.json', '.yaml', '.yml'] as const;

/** One policy file read from disk. */
export interface PolicyFileText {
  server: string;
  /** Path as shown in messages: the directory joined with the file name. */
  file: string;
  text: string;
  sha256: string;
}

/** What is on disk for one server. */
export type ServerFileLookup =
  { kind: 'found'; found: PolicyFileText } | { kind: 'missing' } | { kind: 'ambiguous'; files: string[] };

/** The server a policy file name belongs to (`lab.yaml` → `lab`), or undefined for other files. */
export function serverOfFileName(name: string): string | undefined {
  if (name.startsWith('.') || !isPolicyFileName(name)) return undefined;
  return name.slice(0, -extname(name).length);
}

/** Lists the policy file names in a directory; a missing directory lists nothing. */
export async function listPolicyFiles(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names.filter((n) => serverOfFileName(n) !== undefined).sort();
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/** Reads `<dir>/<server>.json|.yaml|.yml`; more than one of them is ambiguous. */
export async function readServerFile(dir: string, server: string): Promise<ServerFileLookup> {
  const present: PolicyFileText[] = [];
  for (const ext of POLICY_EXTENSIONS) {
    const file = join(dir, `${server}${ext}`);
    try {
      const bytes = await readFile(file);
      present.push({ server, file, text: bytes.toString('utf8'), sha256: sha256(bytes) });
    } catch (err) {
      // A directory or unreadable file with a policy name is reported by the parse step, not hidden.
      if (!isNotFound(err)) throw err;
    }
  }
  if (present.length === 0) return { kind: 'missing' };
  if (present.length > 1) return { kind: 'ambiguous', files: present.map((p) => p.file) };
  return { kind: 'found', found: present[0] as PolicyFileText };
}

/** Hex SHA-256 of a file's bytes, to tell real edits from touches. */
export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** True for ENOENT (and ENOTDIR, when a parent path is a file). */
export function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
