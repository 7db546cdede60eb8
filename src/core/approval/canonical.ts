import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';

/** Hex sha256 binding an approval to exactly one call: `[server, tool, args]` in canonical JSON. */
export function argumentHash(server: string, tool: string, args: unknown): string {
  return sha256(tuple([server, tool], args));
}

/**
 * Hex sha256 identifying "the same call again" for retry re-attachment: same agent, server, tool and
 * canonical arguments. A 4-element tuple, so it can never equal an argumentHash of the same call.
 */
export function dedupeKey(agent: string, server: string, tool: string, args: unknown): string {
  return sha256(tuple([agent, server, tool], args));
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

// Equal to canonicalJson([...names, args]) but gives `args` the whole depth budget, so the limit an
// agent hits is the one documented, not one less.
function tuple(names: string[], args: unknown): string {
  return `[${[...names, args].map((part) => canonicalJson(part)).join(',')}]`;
}
