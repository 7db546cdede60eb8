// The CLI's side of the gateway's HTTP API (/api/requests...): where the gateway is, who we are,
// and every HTTP failure turned into an AirlockError so exit-codes.ts can give it its exit code.
import { existsSync } from 'node:fs';
import { CONFIG_FILE_NAMES, loadConfig } from '../config/load-config.js';
import { AirlockError, codeOfHttpStatus, isAirlockErrorCode } from '../core/errors.js';
import { HISTORY_STATUSES, type HistoryStatus } from '../history/history-record.js';

/** The most records the API returns per page; longer listings follow its cursors. */
const MAX_PAGE = 500;

/** Where the gateway listens when there is no flag, no env and no config. */
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:7420';

/** A request's status as the API reports it (approval lifecycle plus calls policy decided alone). */
export type RequestStatus = HistoryStatus;

/** Every status value `--status` accepts: the history's own list, so the two cannot drift apart. */
export const REQUEST_STATUSES: readonly RequestStatus[] = HISTORY_STATUSES;

/** One reviewer's vote, as the API shows it. */
export interface RequestDecision {
  by: string;
  display?: string;
  via: string;
  at: number;
  decision: 'approve' | 'reject';
  reason?: string;
  comment?: string;
  /** The grant this approving vote asked for. */
  grant?: { durationMs: number; scope: string };
  /** Set on an approval with edited arguments: their hash. */
  editedHash?: string;
}

/** A request record as `GET /api/requests/:id` returns it; times are epoch milliseconds. */
export interface RequestRecord {
  /** `approval`: held for a reviewer; `direct`: policy decided on its own (allowed, denied, ...). */
  kind?: 'approval' | 'direct';
  id: string;
  createdAt: number;
  expiresAt?: number;
  server: string;
  tool: string;
  agent: string;
  status: RequestStatus;
  rule: string;
  argsHash?: string;
  /** Display copy: secrets already redacted by the gateway. */
  args: unknown;
  /** Set when `args` is only a preview of a large display copy. */
  argsTruncated?: boolean;
  /** AirlockError code of a direct refusal or failure (POLICY_DENIED, RATE_LIMITED, ...). */
  code?: string;
  /** The rate-limit counter that refused a call, and the seconds the agent was told to wait. */
  counter?: string;
  retryAfter?: number;
  approval?: {
    approvers?: string[];
    minApprovals?: number;
    timeoutMs?: number;
    waitMs?: number;
    channel?: string;
    allowSelfApproval?: boolean;
    /** A reviewer may approve with changed arguments (`approve --args`). */
    allowEdit?: boolean;
  };
  decisions?: RequestDecision[];
  decidedAt?: number;
  decidedBy?: string;
  reason?: string;
  slack?: { channel: string; ts: string };
  execution?: { startedAt: number; finishedAt?: number; isError?: boolean; summary?: string };
  responseMs?: number;
  /** When each reminder was sent. */
  reminders?: number[];
  /** Escalation steps that happened: who was added, and where the request was posted for them. */
  escalations?: { step: number; at: number; approvers: string[]; channel?: string }[];
  /**
   * A direct record: the grant (`gr_…`) the allowed call ran under. An approval: the grant it created.
   */
  grant?: string | { id: string; scope: string; durationMs: number; expiresAt: number };
  /** An allowed call that ran only because its policy is in shadow mode: what enforcement would have done. */
  shadow?: { would: string; rule: string; reason?: string };
  /** Set when a reviewer approved with changed arguments; `args`/`argsHash` are then the edited ones. */
  edited?: {
    by: string;
    display?: string;
    via: string;
    at: number;
    /** Display copy of what the agent sent. */
    originalArgs: unknown;
    originalHash: string;
  };
}

/** One active grant as `GET /api/grants` lists it. */
export interface GrantRow {
  id: string;
  agent: string;
  server: string;
  tool: string;
  scope: string;
  argsHash?: string;
  grantedBy: string[];
  requestId: string;
  createdAt: number;
  expiresAt: number;
  uses: number;
}

/** Filters of `GET /api/requests` and its export. */
export interface RequestQuery {
  status?: readonly string[];
  server?: string;
  tool?: string;
  agent?: string;
  /** Epoch milliseconds; sent as ISO 8601. */
  since?: number;
  until?: number;
  limit?: number;
  cursor?: string;
}

/** One page of `GET /api/requests`, newest first. */
export interface RequestPage {
  requests: RequestRecord[];
  nextCursor?: string;
}

/** How the CLI was told where the gateway is. */
export interface GatewayOptions {
  /** `--url`. */
  url?: string;
  /** `--token`. */
  token?: string;
  /** `--config`, read only when neither `--url` nor AIRLOCK_URL says where the gateway is. */
  config?: string;
  /** @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
}

/** The gateway's base URL and the reviewer token to send, resolved from flags, env and config. */
export interface GatewayTarget {
  url: string;
  token?: string;
}

/**
 * Finds the gateway: `--url`, else AIRLOCK_URL, else the config's publicUrl, else its listen address,
 * else the default port on loopback. The token is `--token`, else AIRLOCK_TOKEN.
 */
export function resolveGateway(options: GatewayOptions = {}): GatewayTarget {
  const env = options.env ?? process.env;
  const token = options.token ?? (env.AIRLOCK_TOKEN || undefined);
  const url = options.url ?? (env.AIRLOCK_URL || undefined) ?? urlFromConfig(options.config, env);
  return { url: checkUrl(url), ...(token ? { token } : {}) };
}

function urlFromConfig(file: string | undefined, env: NodeJS.ProcessEnv): string {
  if (file === undefined && !CONFIG_FILE_NAMES.some((name) => existsSync(name))) return DEFAULT_GATEWAY_URL;
  let config;
  try {
    config = loadConfig({ file, env }).config;
  } catch (err) {
    if (!(err instanceof AirlockError)) throw err;
    // The config is read only to find the gateway; say how to skip it rather than just that it is broken.
    throw new AirlockError(
      err.code,
      `${err.message}\n(the CLI reads the config only to find the gateway: pass --url or set AIRLOCK_URL to skip it)`,
      err.details,
      { cause: err },
    );
  }
  if (config.publicUrl) return config.publicUrl;
  const { host, port } = config.listen;
  // A wildcard listen address is reachable on loopback from this machine.
  const reachable =
    host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' || host === '[::]' ? '[::1]' : host;
  const bracketed = reachable.includes(':') && !reachable.startsWith('[') ? `[${reachable}]` : reachable;
  return `http://${bracketed}:${port}`;
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AirlockError('BAD_REQUEST', `Not a valid gateway URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new AirlockError('BAD_REQUEST', `The gateway URL must be http:// or https://, got ${url}`);
  }
  return url.replace(/\/+$/, '');
}

/** Options for {@link ApiClient}. */
export interface ApiClientOptions {
  /** Per-request time limit. @defaultValue 30000 */
  timeoutMs?: number;
  /** Records asked for per page when following cursors. @defaultValue 500, the API's maximum */
  pageSize?: number;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** Calls the gateway's reviewer API as one reviewer (or anonymously on an open loopback gateway). */
export class ApiClient {
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly pageSize: number;

  constructor(
    readonly target: GatewayTarget,
    options: ApiClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? fetch;
    this.pageSize = Math.min(options.pageSize ?? MAX_PAGE, MAX_PAGE);
  }

  /** One page of requests matching the query, newest first. */
  async listRequests(query: RequestQuery = {}): Promise<RequestPage> {
    const res = await this.send('GET', `/api/requests${queryString(query)}`);
    const body = (await res.json()) as RequestPage;
    return { requests: body.requests ?? [], ...(body.nextCursor ? { nextCursor: body.nextCursor } : {}) };
  }

  /** Requests matching the query, following cursors until `max` are collected or there are no more. */
  async collectRequests(query: RequestQuery, max: number): Promise<RequestRecord[]> {
    const out: RequestRecord[] = [];
    let cursor = query.cursor;
    // A page may be short or empty and still carry a cursor (the server bounds the work per page);
    // follow cursors until none is left, with a cap so a misbehaving server cannot loop us forever.
    for (let pages = 0; pages < 10_000; pages++) {
      const page = await this.listRequests({
        ...query,
        limit: Math.min(max - out.length, this.pageSize),
        cursor,
      });
      out.push(...page.requests.slice(0, max - out.length));
      if (!page.nextCursor || page.nextCursor === cursor || out.length >= max) break;
      cursor = page.nextCursor;
    }
    return out;
  }

  /** The export endpoint's response, for streaming as it arrives. */
  async exportRequests(query: RequestQuery, format: 'csv' | 'json'): Promise<Response> {
    // The export is every match: paging parameters do not apply to it.
    const { cursor: _c, limit: _l, ...filters } = query;
    const qs = queryString(filters);
    return this.send('GET', `/api/requests/export${qs ? `${qs}&` : '?'}format=${format}`, undefined, false);
  }

  /** One request's full record. */
  async getRequest(id: string): Promise<RequestRecord> {
    return (
      await this.send('GET', `/api/requests/${encodeURIComponent(id)}`)
    ).json() as Promise<RequestRecord>;
  }

  /** Approves as this reviewer; the record after the vote (still pending while a quorum is incomplete). */
  async approve(
    id: string,
    comment?: string,
    grant?: { for: string; scope?: string },
    args?: Record<string, unknown>,
  ): Promise<RequestRecord> {
    const res = await this.send('POST', `/api/requests/${encodeURIComponent(id)}/approve`, {
      ...(comment ? { comment } : {}),
      ...(grant ? { grant } : {}),
      ...(args ? { args } : {}),
    });
    return res.json() as Promise<RequestRecord>;
  }

  /** Active grants, narrowed by agent, server and tool. */
  async listGrants(filter: { agent?: string; server?: string; tool?: string } = {}): Promise<GrantRow[]> {
    const qs = new URLSearchParams(
      Object.entries(filter).filter(([, v]) => v) as [string, string][],
    ).toString();
    const res = await this.send('GET', `/api/grants${qs ? `?${qs}` : ''}`);
    return ((await res.json()) as { grants: GrantRow[] }).grants;
  }

  /** Revokes a grant at once; NOT_FOUND when unknown or already ended. */
  async revokeGrant(id: string): Promise<GrantRow> {
    const res = await this.send('DELETE', `/api/grants/${encodeURIComponent(id)}`, {});
    return ((await res.json()) as { revoked: GrantRow }).revoked;
  }

  /** Rejects as this reviewer; the agent is told the reason. */
  async reject(id: string, reason: string): Promise<RequestRecord> {
    const res = await this.send('POST', `/api/requests/${encodeURIComponent(id)}/reject`, { reason });
    return res.json() as Promise<RequestRecord>;
  }

  private async send(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    timeout = true,
  ): Promise<Response> {
    const { url, token } = this.target;
    const headers: Record<string, string> = { accept: 'application/json', 'x-airlock-client': 'cli' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(`${url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        // An export streams for as long as it takes; everything else is one small answer.
        ...(timeout ? { signal: AbortSignal.timeout(this.timeoutMs) } : {}),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    if (!res.ok) throw await this.httpError(res);
    return res;
  }

  private unreachable(err: unknown): AirlockError {
    const { url } = this.target;
    const cause = (err as { cause?: { code?: string } }).cause;
    if ((err as Error).name === 'TimeoutError') {
      return new AirlockError(
        'APPROVAL_UNAVAILABLE',
        `The Airlock gateway at ${url} did not answer within ${Math.round(this.timeoutMs / 1000)}s`,
        {},
        { cause: err },
      );
    }
    const why = cause?.code && cause.code !== 'ECONNREFUSED' ? ` (${cause.code})` : '';
    return new AirlockError(
      'APPROVAL_UNAVAILABLE',
      `Cannot reach the Airlock gateway at ${url}${why}: is \`airlock serve\` running?`,
      {},
      { cause: err },
    );
  }

  private async httpError(res: Response): Promise<AirlockError> {
    const text = await res.text().catch(() => '');
    let code: string | undefined;
    let message: string | undefined;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof parsed.error?.code === 'string') code = parsed.error.code;
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    } catch {
      // Not our JSON (a proxy's HTML page, say): fall back to the status below.
    }
    const errorCode = code && isAirlockErrorCode(code) ? code : codeOfHttpStatus(res.status);
    const { url, token } = this.target;
    if (errorCode === 'UNAUTHORIZED') {
      return new AirlockError(
        'UNAUTHORIZED',
        token
          ? `The gateway at ${url} refused the reviewer token (${message ?? res.statusText}); check --token or AIRLOCK_TOKEN`
          : `The gateway at ${url} needs a reviewer token: pass --token or set AIRLOCK_TOKEN`,
      );
    }
    return new AirlockError(
      errorCode,
      message ?? `The gateway answered HTTP ${res.status} ${res.statusText}`.trim(),
      {
        status: res.status,
      },
    );
  }
}

function queryString(q: RequestQuery): string {
  const params = new URLSearchParams();
  if (q.status?.length) params.set('status', q.status.join(','));
  for (const key of ['server', 'tool', 'agent', 'cursor'] as const) {
    const v = q[key];
    if (v) params.set(key, v);
  }
  if (q.since !== undefined) params.set('since', new Date(q.since).toISOString());
  if (q.until !== undefined) params.set('until', new Date(q.until).toISOString());
  if (q.limit !== undefined) params.set('limit', String(q.limit));
  const s = params.toString();
  return s ? `?${s}` : '';
}
