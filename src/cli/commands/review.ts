import { once } from 'node:events';
import { InvalidArgumentError, type Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import {
  ApiClient,
  REQUEST_STATUSES,
  resolveGateway,
  type RequestQuery,
  type RequestRecord,
} from '../api-client.js';
import { formatTable, formatTime, oneLine, safeText, styles, useColor, type Column } from '../table.js';
import { humanDuration } from '../../core/human-duration.js';
import {
  argsPreview,
  formatRecord,
  outcomeOf,
  statusLabel,
  statusStyle,
  withoutServer,
} from '../request-format.js';
import { parseStatuses, parseWhen, positiveInt } from '../review-options.js';

/** `--args`: a JSON object, or BAD_REQUEST saying what is wrong with it (nothing is sent). */
function parseArgsOption(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AirlockError(
      'BAD_REQUEST',
      `--args is not valid JSON (${(err as Error).message}); quote it, like --args '{"vm_name": "web-01"}'`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AirlockError(
      'BAD_REQUEST',
      '--args must be a JSON object of arguments, like {"vm_name": "web-01"}',
    );
  }
  return value as Record<string, unknown>;
}

/** Rows `airlock history` shows when --limit is not given. */
const DEFAULT_HISTORY_LIMIT = 50;

/** `airlock pending|history|show|approve|reject`: the reviewer's commands, over the gateway's HTTP API. */
export function registerReview(program: Command): void {
  program
    .command('pending')
    .description('list requests waiting for a decision, newest first')
    .option('--limit <n>', 'at most this many', positiveInt, 200)
    .option('--json', 'print the records as JSON')
    .action(async (opts: { limit: number; json?: boolean }) => {
      const requests = await clientFor(program).collectRequests({ status: ['pending'] }, opts.limit);
      if (opts.json) return printJson(requests);
      if (!requests.length) return void process.stdout.write('No pending requests.\n');
      const now = Date.now();
      const s = styles(useColor());
      const columns: Column<RequestRecord>[] = [
        { header: 'ID', value: (r) => r.id, minWidth: 23 },
        { header: 'AGE', value: (r) => humanDuration(now - r.createdAt), alignRight: true, priority: 9 },
        {
          header: 'EXPIRES IN',
          value: (r) =>
            r.expiresAt === undefined
              ? '-'
              : r.expiresAt <= now
                ? 'expired'
                : humanDuration(r.expiresAt - now),
          alignRight: true,
          priority: 9,
        },
        { header: 'AGENT', value: (r) => r.agent, minWidth: 9, priority: 2 },
        { header: 'SERVER/TOOL', value: (r) => `${r.server}/${r.tool}`, minWidth: 16, priority: 3 },
        // The server is in the column before; `show` has the rule in full.
        { header: 'RULE', value: (r) => withoutServer(r.rule, r.server), minWidth: 8, priority: 1 },
        { header: 'ARGS', value: (r) => argsPreview(r.args), minWidth: 12, style: (t) => s.dim(t) },
      ];
      process.stdout.write(formatTable(columns, requests) + '\n');
    });

  program
    .command('history')
    .description('list past and current requests, newest first')
    .option('--server <name>', 'only this upstream server')
    .option('--tool <name>', 'only this tool')
    .option('--agent <id>', 'only this agent')
    .option('--status <list>', `comma-separated: ${REQUEST_STATUSES.join(', ')}`, parseStatuses)
    .option('--since <when>', 'from this time: relative (30m, 1h, 2d, 1w) or an ISO date', (v) =>
      parseWhen(v),
    )
    .option('--until <when>', 'up to this time: relative or an ISO date', (v) => parseWhen(v))
    .option(
      '--limit <n>',
      `at most this many (default ${DEFAULT_HISTORY_LIMIT}; --csv always exports every match)`,
      positiveInt,
    )
    .option('--json', 'print the records as JSON')
    .option('--csv', 'stream the matching records as CSV (the export endpoint)')
    .action(async (opts: HistoryOptions) => {
      if (opts.json && opts.csv) {
        throw new AirlockError('BAD_REQUEST', '--json and --csv cannot be used together');
      }
      if (opts.csv && opts.limit !== undefined) {
        throw new AirlockError(
          'BAD_REQUEST',
          '--csv exports every match; narrow it with --since/--until instead of --limit',
        );
      }
      const query: RequestQuery = {
        ...(opts.status ? { status: opts.status } : {}),
        ...(opts.server ? { server: opts.server } : {}),
        ...(opts.tool ? { tool: opts.tool } : {}),
        ...(opts.agent ? { agent: opts.agent } : {}),
        ...(opts.since !== undefined ? { since: opts.since } : {}),
        ...(opts.until !== undefined ? { until: opts.until } : {}),
      };
      const client = clientFor(program);
      if (opts.csv) {
        const res = await client.exportRequests(query, 'csv');
        return streamToStdout(res);
      }
      const records = await client.collectRequests(query, opts.limit ?? DEFAULT_HISTORY_LIMIT);
      if (opts.json) return printJson(records);
      if (!records.length) return void process.stdout.write('No requests match.\n');
      const s = styles(useColor());
      const columns: Column<RequestRecord>[] = [
        { header: 'ID', value: (r) => r.id, minWidth: 23 },
        { header: 'CREATED', value: (r) => formatTime(r.createdAt).slice(0, 16), priority: 9 },
        {
          header: 'STATUS',
          value: (r) => statusLabel(r),
          priority: 9,
          style: (t, r) => statusStyle(s, r.status)(t),
        },
        { header: 'AGENT', value: (r) => r.agent, minWidth: 9, priority: 2 },
        { header: 'SERVER/TOOL', value: (r) => `${r.server}/${r.tool}`, minWidth: 16, priority: 3 },
        { header: 'BY', value: (r) => r.decidedBy ?? '-', minWidth: 6, priority: 1 },
        // First in the cell, so a narrow terminal still shows that what ran is not what the agent sent.
        { header: 'OUTCOME', value: (r) => `${r.edited ? 'edited; ' : ''}${outcomeOf(r)}`, minWidth: 10 },
      ];
      process.stdout.write(formatTable(columns, records) + '\n');
    });

  program
    .command('show <id>')
    .description('one request in full: arguments, decisions, execution and a timeline')
    .option('--json', 'print the record as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const record = await clientFor(program).getRequest(id);
      if (opts.json) return printJson(record);
      process.stdout.write(formatRecord(record, Date.now(), useColor()) + '\n');
    });

  program
    .command('approve <id>')
    .description('approve a pending request; the held call is released upstream')
    .option('--comment <text>', 'a note kept with the approval in history')
    .option('--for <duration>', "with a grant: the agent's matching calls run without asking for this long")
    .option('--scope <scope>', 'grant scope: exact (same arguments, the default) or tool (any arguments)')
    .option(
      '--args <json>',
      "approve with these arguments (a JSON object) instead of the agent's; the rule must allow edits",
    )
    .action(async (id: string, opts: { comment?: string; for?: string; scope?: string; args?: string }) => {
      if (opts.scope && !opts.for) throw new InvalidArgumentError('--scope needs --for');
      const grant = opts.for ? { for: opts.for, ...(opts.scope ? { scope: opts.scope } : {}) } : undefined;
      const args = opts.args === undefined ? undefined : parseArgsOption(opts.args);
      const r = await clientFor(program).approve(id, opts.comment, grant, args);
      const what = `${r.id} (${safeText(r.server)}/${safeText(r.tool)})`;
      if (r.status === 'pending') {
        const have = new Set((r.decisions ?? []).filter((d) => d.decision === 'approve').map((d) => d.by))
          .size;
        const need = r.approval?.minApprovals ?? 1;
        process.stdout.write(
          `Approved ${what}: ${have} of ${need} approvals so far; the call stays held until the rest approve.\n`,
        );
        return;
      }
      const g = (r as { grant?: { id: string; scope: string; expiresAt: number } }).grant;
      const granted = g ? ` Grant ${g.id} (${g.scope}) until ${formatTime(g.expiresAt)}.` : '';
      const edited = r.edited
        ? ` With changed arguments: args sha256 ${r.argsHash ?? '?'} (the agent sent ${r.edited.originalHash}).`
        : '';
      process.stdout.write(`Approved ${what}: the call is being released.${edited}${granted}\n`);
    });

  program
    .command('reject <id>')
    .description('reject a pending request; the agent is told who rejected it and why')
    .requiredOption('--reason <text>', 'why; shown to the agent')
    .action(async (id: string, opts: { reason: string }) => {
      const reason = opts.reason.trim();
      if (!reason) throw new AirlockError('BAD_REQUEST', '--reason must not be empty: the agent is told why');
      const r = await clientFor(program).reject(id, reason);
      process.stdout.write(
        `Rejected ${r.id} (${safeText(r.server)}/${safeText(r.tool)}): the agent is told "${oneLine(reason)}".\n`,
      );
    });
}

interface HistoryOptions {
  server?: string;
  tool?: string;
  agent?: string;
  status?: string[];
  since?: number;
  until?: number;
  limit?: number;
  json?: boolean;
  csv?: boolean;
}

/** An API client for the gateway named by the global --url/--token/--config options, env or config. */
export function clientFor(program: Command): ApiClient {
  const o = program.opts<{ url?: string; token?: string; config?: string }>();
  return new ApiClient(resolveGateway({ url: o.url, token: o.token, config: o.config }));
}

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

async function streamToStdout(res: Response): Promise<void> {
  if (!res.body) return;
  // On a terminal the agent-supplied text is defused like everywhere else; into a file it goes as exported.
  const decoder = process.stdout.isTTY ? new TextDecoder() : undefined;
  const write = async (chunk: Uint8Array | string) => {
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  };
  // Written chunk by chunk with backpressure: an export can be far larger than memory wants to hold.
  for await (const chunk of res.body) {
    await write(decoder ? safeText(decoder.decode(chunk, { stream: true })) : chunk);
  }
  if (decoder) await write(safeText(decoder.decode()));
}
