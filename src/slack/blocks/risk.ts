/** The MCP tool annotations that say how risky a tool is; the upstream's `Tool.annotations` fits as is. */
export interface RiskHints {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

// Words that, in a tool name, usually mean data or machines go away.
const DESTRUCTIVE_WORDS = new Set([
  'delete',
  'destroy',
  'drop',
  'remove',
  'rm',
  'purge',
  'wipe',
  'erase',
  'kill',
  'terminate',
  'truncate',
  'reset',
  'revoke',
  'format',
]);

// `delete_vm`, `deleteVm`, `vm.delete` → their words.
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
}

/**
 * A short risk label for reviewers. From MCP annotations when the upstream gives them (following the
 * spec's defaults: a tool that is not read-only is destructive unless it says otherwise), else from
 * the tool name, else just "needs approval".
 */
export function riskLabel(tool: string, hints?: RiskHints): string {
  if (hints) {
    if (hints.readOnlyHint === true) return 'Low (read-only)';
    if (hints.destructiveHint !== false) return 'High (destructive)';
    return hints.idempotentHint === true ? 'Medium (changes state, idempotent)' : 'Medium (changes state)';
  }
  if (words(tool).some((w) => DESTRUCTIVE_WORDS.has(w))) return 'High (destructive by name)';
  return 'Needs approval (by policy)';
}
