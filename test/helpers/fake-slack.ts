import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blockKitProblems, viewProblems } from './block-kit-check.js';
import { FakeSocketMode } from './fake-slack-socket.js';

export { blockKitProblems, viewProblems };

/** One Web API call the fake received. */
export interface SlackCall {
  method: string;
  /** Form or JSON parameters; JSON-encoded values (`blocks`, `view`) are parsed back into objects. */
  params: Record<string, unknown>;
  /** The bearer token sent, if any. */
  token?: string;
  /** Epoch ms when it arrived. */
  at: number;
  /** The HTTP status the fake answered with. */
  status: number;
  /** The Slack `error` answered (`ok: false`), if any. */
  error?: string;
  /** The JSON body the fake answered with. */
  response?: Record<string, unknown>;
}

/** A canned failure for the next calls of one method. */
export type SlackFault = { status: 500 } | { status: 429; retryAfter: number } | { error: string };

/** A message the fake holds, as posted and then updated. */
export interface FakeMessage {
  channel: string;
  ts: string;
  text?: string;
  blocks?: unknown[];
  thread_ts?: string;
}

/**
 * A local stand-in for the Slack Web API on 127.0.0.1: records every call, answers the methods
 * Airlock uses, keeps posted messages (so updates can be checked), and fails on request. Point
 * `slack.apiUrl` at `apiUrl`.
 */
export class FakeSlack {
  readonly calls: SlackCall[] = [];
  /** Messages by `channel/ts`. */
  readonly messages = new Map<string, FakeMessage>();
  /** User-group id → member user ids, for usergroups.users.list. */
  readonly groups = new Map<string, string[]>();
  /** User id → display name, for users.info. */
  readonly users = new Map<string, string>();
  /** User id → the Home view last published for them with views.publish. */
  readonly homes = new Map<string, { blocks?: unknown[]; [key: string]: unknown }>();
  /** Channel id → name, for conversations.info. */
  readonly channels = new Map<string, string>([['C0APPROVALS', 'lab-approvals']]);
  /** Rejects `chat.postMessage` / `chat.update` whose blocks break Block Kit limits, like Slack does. @defaultValue true */
  strictBlocks = true;
  private readonly faults = new Map<string, SlackFault[]>();
  private readonly listeners = new Set<() => void>();
  private server?: Server;
  private socket?: FakeSocketMode;
  private seq = 0;
  private base = '';

  /** Base URL of the fake Web API, ending in `/api/`. */
  get apiUrl(): string {
    return `${this.base}/api/`;
  }

  /** Listens on a free port. */
  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /**
   * Serves Socket Mode: `apps.connections.open` then hands out a WebSocket URL on this server, and
   * the returned object sends envelopes (`interactive`, `slash_commands`, `events_api`) to the app.
   */
  socketMode(): FakeSocketMode {
    this.socket ??= new FakeSocketMode(this.server!, this.base.replace(/^http/, 'ws'));
    return this.socket;
  }

  /** Stops listening. */
  async stop(): Promise<void> {
    if (!this.server) return;
    this.socket?.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** The next `count` calls of `method` fail with `fault`. */
  failNext(method: string, count: number, fault: SlackFault): void {
    const list = this.faults.get(method) ?? [];
    for (let i = 0; i < count; i++) list.push(fault);
    this.faults.set(method, list);
  }

  /** Calls of one method, in arrival order. */
  callsOf(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Successful calls of one method. */
  okCallsOf(method: string): SlackCall[] {
    return this.callsOf(method).filter((c) => c.status === 200 && !c.error);
  }

  /**
   * Waits until a call of `method` matching `predicate` has been recorded (including ones before the
   * wait), or fails after `timeoutMs` listing what did arrive.
   */
  waitFor(
    method: string,
    predicate: (call: SlackCall) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<SlackCall> {
    const find = () =>
      this.calls.find((c) => c.method === method && c.status === 200 && !c.error && predicate(c));
    return this.until(
      find,
      timeoutMs,
      () => `no ${method} call matched within ${timeoutMs} ms; got: ${this.summary()}`,
    );
  }

  /** Waits until `check` returns a value (re-evaluated after every call), or fails after `timeoutMs`. */
  until<T>(
    check: () => T | undefined | false,
    timeoutMs = 10_000,
    why = () => 'condition not met',
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const value = check();
        if (value === undefined || value === false) return false;
        cleanup();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${why()} (after ${timeoutMs} ms)`));
      }, timeoutMs);
      const listener = () => void attempt();
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
      attempt();
    });
  }

  /** The current state of a posted message. */
  message(channel: string, ts: string): FakeMessage | undefined {
    return this.messages.get(`${channel}/${ts}`);
  }

  /** One line per call so far, for failure messages. */
  summary(): string {
    return this.calls.map((c) => `${c.method}→${c.status}${c.error ? `(${c.error})` : ''}`).join(', ');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '';
    const params = parseParams(raw, req.headers['content-type']);
    const auth = req.headers.authorization;
    const call: SlackCall = {
      method,
      params,
      ...(auth ? { token: auth.replace(/^Bearer /, '') } : {}),
      at: Date.now(),
      status: 200,
    };
    const fault = this.faults.get(method)?.shift();
    let status = 200;
    let body: Record<string, unknown>;
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    if (fault && 'status' in fault) {
      status = fault.status;
      if (fault.status === 429) headers['retry-after'] = String(fault.retryAfter);
      body = { ok: false, error: fault.status === 429 ? 'ratelimited' : 'internal_error' };
    } else if (fault) {
      body = { ok: false, error: fault.error };
    } else {
      body = this.answer(method, params);
    }
    if (body.ok === false) call.error = String(body.error);
    call.response = body;
    call.status = status;
    this.calls.push(call);
    res.writeHead(status, headers).end(JSON.stringify(body));
    for (const fn of [...this.listeners]) fn();
  }

  private answer(method: string, p: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.com/',
          team: 'Fake Team',
          team_id: 'T0FAKE',
          user: 'airlock',
          user_id: 'U0AIRLOCK',
          bot_id: 'B0AIRLOCK',
        };
      case 'chat.postMessage': {
        const problems = this.strictBlocks ? blockKitProblems(p.blocks, p.text) : [];
        if (problems.length) return { ok: false, error: 'invalid_blocks', errors: problems };
        const channel = String(p.channel).startsWith('U')
          ? `D${String(p.channel).slice(1)}`
          : String(p.channel);
        const ts = this.nextTs();
        const msg: FakeMessage = { channel, ts, text: p.text as string, blocks: p.blocks as unknown[] };
        if (p.thread_ts) msg.thread_ts = String(p.thread_ts);
        this.messages.set(`${channel}/${ts}`, msg);
        return { ok: true, channel, ts, message: { type: 'message', text: p.text, ts } };
      }
      case 'chat.update': {
        const key = `${String(p.channel)}/${String(p.ts)}`;
        const existing = this.messages.get(key);
        if (!existing) return { ok: false, error: 'message_not_found' };
        const problems = this.strictBlocks ? blockKitProblems(p.blocks, p.text) : [];
        if (problems.length) return { ok: false, error: 'invalid_blocks', errors: problems };
        this.messages.set(key, { ...existing, text: p.text as string, blocks: p.blocks as unknown[] });
        return { ok: true, channel: p.channel, ts: p.ts };
      }
      case 'chat.delete':
        this.messages.delete(`${String(p.channel)}/${String(p.ts)}`);
        return { ok: true, channel: p.channel, ts: p.ts };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: this.nextTs() };
      case 'views.open': {
        const problems = this.strictBlocks ? viewProblems(p.view) : [];
        if (problems.length) return { ok: false, error: 'invalid_arguments', errors: problems };
        return { ok: true, view: { id: `V${++this.seq}`, ...(p.view as object) } };
      }
      case 'views.publish': {
        const problems = this.strictBlocks ? viewProblems(p.view) : [];
        if (problems.length) return { ok: false, error: 'invalid_arguments', errors: problems };
        const view = p.view as { blocks?: unknown[] };
        if ((view as { type?: unknown }).type !== 'home') return { ok: false, error: 'invalid_arguments' };
        this.homes.set(String(p.user_id), view);
        return { ok: true, view: { id: `V${++this.seq}`, ...view } };
      }
      case 'usergroups.users.list': {
        const members = this.groups.get(String(p.usergroup));
        return members ? { ok: true, users: members } : { ok: false, error: 'no_such_subteam' };
      }
      case 'users.info': {
        const id = String(p.user);
        const name = this.users.get(id);
        return {
          ok: true,
          user: {
            id,
            name: name ?? id.toLowerCase(),
            profile: { display_name: name ?? '', real_name: name ?? '' },
          },
        };
      }
      case 'conversations.info': {
        const id = String(p.channel);
        const name = this.channels.get(id);
        return name ? { ok: true, channel: { id, name } } : { ok: false, error: 'channel_not_found' };
      }
      case 'apps.connections.open':
        return this.socket ? { ok: true, url: this.socket.nextUrl() } : { ok: false, error: 'invalid_auth' };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private nextTs(): string {
    return `1700000000.${String(++this.seq).padStart(6, '0')}`;
  }
}

/** Starts a fake Slack on a free port. */
export async function startFakeSlack(): Promise<FakeSlack> {
  return new FakeSlack().start();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// The Web API client sends form fields with objects JSON-encoded; JSON bodies arrive as they are.
function parseParams(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (raw === '') return {};
  if (contentType?.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    out[key] = /^[[{]/.test(value) ? tryJson(value) : value;
  }
  return out;
}

function tryJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
