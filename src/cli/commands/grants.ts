import type { Command } from 'commander';
import type { GrantRow } from '../api-client.js';
import { formatTable, formatTime, safeText, type Column } from '../table.js';
import { humanDuration } from '../../core/human-duration.js';
import { clientFor } from './review.js';

/** `airlock grants|revoke`: the active grants, and ending one at once. */
export function registerGrants(program: Command): void {
  program
    .command('grants')
    .description('list active grants (approvals that let matching calls run without asking)')
    .option('--agent <id>', 'only this agent')
    .option('--server <name>', 'only this upstream server')
    .option('--tool <name>', 'only this tool')
    .option('--json', 'print the grants as JSON')
    .action(async (opts: { agent?: string; server?: string; tool?: string; json?: boolean }) => {
      const { agent, server, tool } = opts;
      const grants = await clientFor(program).listGrants({ agent, server, tool });
      if (opts.json) return void process.stdout.write(JSON.stringify(grants, null, 2) + '\n');
      if (!grants.length) return void process.stdout.write('No active grants.\n');
      const now = Date.now();
      const columns: Column<GrantRow>[] = [
        { header: 'ID', value: (g) => g.id, minWidth: 25 },
        { header: 'AGENT', value: (g) => safeText(g.agent), minWidth: 9, priority: 2 },
        { header: 'SERVER/TOOL', value: (g) => `${safeText(g.server)}/${safeText(g.tool)}`, minWidth: 16 },
        { header: 'SCOPE', value: (g) => g.scope, priority: 3 },
        { header: 'BY', value: (g) => g.grantedBy.map(safeText).join(', '), priority: 1 },
        {
          header: 'EXPIRES IN',
          value: (g) => humanDuration(g.expiresAt - now),
          alignRight: true,
          priority: 4,
        },
        { header: 'USES', value: (g) => String(g.uses), alignRight: true, priority: 5 },
      ];
      process.stdout.write(formatTable(columns, grants) + '\n');
    });

  program
    .command('revoke <grantId>')
    .description('revoke a grant: the next matching call is held for approval again')
    .action(async (id: string) => {
      const g = await clientFor(program).revokeGrant(id);
      process.stdout.write(
        `Revoked ${g.id} (${safeText(g.server)}/${safeText(g.tool)} for ${safeText(g.agent)}, was valid until ${formatTime(g.expiresAt)}).\n`,
      );
    });
}
