import { parseDocument } from 'yaml';
import type { CompiledPolicy } from './compiled-policy.js';
import { parsePolicy } from './compile.js';
import { jsonErrorOffset } from './json-error-offset.js';
import { PolicyError } from './policy-error.js';

/** True for the file names a policy may have: `.json`, `.yaml`, `.yml`. */
export function isPolicyFileName(name: string): boolean {
  return /\.(json|ya?ml)$/i.test(name);
}

/**
 * Parses a policy file's text (JSON for `.json`, YAML for `.yaml`/`.yml`) and compiles it.
 * Syntax errors become a PolicyIssue at `$` whose message gives the line and column.
 */
export function parsePolicyText(text: string, file: string): CompiledPolicy {
  return parsePolicy(parseText(text, file), file);
}

/** Parses a policy file's text to a plain value, without validating it; throws PolicyError on syntax errors. */
export function parseText(text: string, file: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (/\.json$/i.test(file)) return parseJson(body, file);
  if (/\.ya?ml$/i.test(file)) return parseYaml(body, file);
  throw new PolicyError([{ file, path: '$', message: 'policy files must end in .json, .yaml or .yml' }]);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message
      .replace(/\s*\(line \d+ column \d+\)/, '')
      .replace(/ in JSON at position \d+/, '')
      .replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '');
    const v8 = /at position (\d+)/.exec((err as Error).message);
    const offset = v8 ? Number(v8[1]) : jsonErrorOffset(text);
    const where = offset === undefined ? '' : ` at ${lineColumn(text, offset)}`;
    throw new PolicyError([{ file, path: '$', message: `JSON syntax error${where}: ${message}` }]);
  }
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      doc.errors.map((e) => ({
        file,
        path: '$',
        message: `YAML syntax error at ${lineColumn(text, e.pos[0])}: ${e.message.split('\n')[0]}`,
      })),
    );
  }
  try {
    // A small alias budget stops "billion laughs" documents from expanding without bound.
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new PolicyError([{ file, path: '$', message: `YAML error: ${(err as Error).message}` }]);
  }
}

function lineColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}, column ${end - lineStart + 1}`;
}
