import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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
export type SlackFault =
  | { status: 500 }
  | { status: 429; retryAfter: number }
  | { error: string };

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
  /** Channel id → name, for conversations.info. */
  readonly channels = new Map<string, string>([['C0APPROVALS', 'lab-approvals']]);
  /** Rejects `chat.postMessage` / `chat.update` whose blocks break Block Kit limits, like Slack does. @defaultValue true */
  strictBlocks = true;
  private readonly faults = new Map<string, SlackFault[]>();
  private readonly listeners = new Set<() => void>();
  private server?: Server;
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

  /** Stops listening. */
  async stop(): Promise<void> {
    if (!this.server) return;
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
    const find = () => this.calls.find((c) => c.method === method && c.status === 200 && !c.error && predicate(c));
    return this.until(find, timeoutMs, () => `no ${method} call matched within ${timeoutMs} ms; got: ${this.summary()}`);
  }

  /** Waits until `check` returns a value (re-evaluated after every call), or fails after `timeoutMs`. */
  until<T>(check: () => T | undefined | false, timeoutMs = 10_000, why = () => 'condition not met'): Promise<T> {
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
        return { ok: true, url: 'https://fake.slack.com/', team: 'Fake Team', team_id: 'T0FAKE', user: 'airlock', user_id: 'U0AIRLOCK', bot_id: 'B0AIRLOCK' };
      case 'chat.postMessage': {
        const problems = this.strictBlocks ? blockKitProblems(p.blocks, p.text) : [];
        if (problems.length) return { ok: false, error: 'invalid_blocks', errors: problems };
        const channel = String(p.channel).startsWith('U') ? `D${String(p.channel).slice(1)}` : String(p.channel);
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
      case 'usergroups.users.list': {
        const members = this.groups.get(String(p.usergroup));
        return members ? { ok: true, users: members } : { ok: false, error: 'no_such_subteam' };
      }
      case 'users.info': {
        const id = String(p.user);
        const name = this.users.get(id);
        return { ok: true, user: { id, name: name ?? id.toLowerCase(), profile: { display_name: name ?? '', real_name: name ?? '' } } };
      }
      case 'conversations.info': {
        const id = String(p.channel);
        const name = this.channels.get(id);
        return name ? { ok: true, channel: { id, name } } : { ok: false, error: 'channel_not_found' };
      }
      case 'apps.connections.open':
        return { ok: false, error: 'not_allowed_token_type' };
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

type Json = Record<string, unknown>;

// The limits Slack enforces on what Airlock sends (https://docs.slack.dev/reference/block-kit/blocks).
const LIMITS = {
  blocks: 50,
  modalBlocks: 100,
  section: 3000,
  field: 2000,
  fields: 10,
  header: 150,
  context: 10,
  actions: 25,
  button: 75,
  buttonValue: 2000,
  id: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  modalTitle: 24,
  privateMetadata: 3000,
  messageText: 40_000,
};

/** What Slack would reject in a message's `blocks` and `text`, one line per problem; `[]` when valid. */
export function blockKitProblems(blocks: unknown, text?: unknown): string[] {
  const problems: string[] = [];
  if (typeof text === 'string' && text.length > LIMITS.messageText) problems.push(`text is ${text.length} chars`);
  if (blocks === undefined) return problems;
  if (!Array.isArray(blocks)) return [...problems, 'blocks is not an array'];
  if (blocks.length > LIMITS.blocks) problems.push(`${blocks.length} blocks > ${LIMITS.blocks}`);
  blocks.forEach((b, i) => checkBlock(b as Json, `blocks[${i}]`, problems));
  return problems;
}

/** What Slack would reject in a modal view. */
export function viewProblems(view: unknown): string[] {
  const v = view as Json | undefined;
  if (!v || typeof v !== 'object') return ['view is missing'];
  const problems: string[] = [];
  const blocks = (v.blocks as unknown[]) ?? [];
  if (blocks.length > LIMITS.modalBlocks) problems.push(`${blocks.length} modal blocks`);
  for (const key of ['title', 'submit', 'close']) {
    const t = v[key] as Json | undefined;
    if (t) textObject(t, `view.${key}`, LIMITS.modalTitle, problems);
  }
  if (typeof v.private_metadata === 'string' && v.private_metadata.length > LIMITS.privateMetadata) {
    problems.push('private_metadata too long');
  }
  blocks.forEach((b, i) => {
    const block = b as Json;
    if (block.type === 'input') {
      textObject(block.label as Json, `view.blocks[${i}].label`, 2000, problems);
      id(block.block_id, `view.blocks[${i}].block_id`, problems);
    } else checkBlock(block, `view.blocks[${i}]`, problems);
  });
  return problems;
}

function checkBlock(block: Json, at: string, problems: string[]): void {
  id(block.block_id, `${at}.block_id`, problems);
  switch (block.type) {
    case 'header':
      textObject(block.text as Json, `${at}.text`, LIMITS.header, problems, 'plain_text');
      break;
    case 'section': {
      if (block.text) textObject(block.text as Json, `${at}.text`, LIMITS.section, problems);
      const fields = (block.fields as Json[] | undefined) ?? [];
      if (fields.length > LIMITS.fields) problems.push(`${at}: ${fields.length} fields`);
      fields.forEach((f, i) => textObject(f, `${at}.fields[${i}]`, LIMITS.field, problems));
      if (!block.text && fields.length === 0) problems.push(`${at}: section without text or fields`);
      break;
    }
    case 'context': {
      const elements = (block.elements as Json[] | undefined) ?? [];
      if (elements.length === 0 || elements.length > LIMITS.context) problems.push(`${at}: ${elements.length} elements`);
      elements.forEach((e, i) => textObject(e, `${at}.elements[${i}]`, LIMITS.section, problems));
      break;
    }
    case 'actions': {
      const elements = (block.elements as Json[] | undefined) ?? [];
      if (elements.length === 0 || elements.length > LIMITS.actions) problems.push(`${at}: ${elements.length} elements`);
      elements.forEach((e, i) => checkButton(e, `${at}.elements[${i}]`, problems));
      break;
    }
    case 'divider':
      break;
    default:
      problems.push(`${at}: unexpected block type ${String(block.type)}`);
  }
}

function checkButton(e: Json, at: string, problems: string[]): void {
  if (e.type !== 'button') return;
  textObject(e.text as Json, `${at}.text`, LIMITS.button, problems, 'plain_text');
  id(e.action_id, `${at}.action_id`, problems);
  if (typeof e.value === 'string' && e.value.length > LIMITS.buttonValue) problems.push(`${at}.value too long`);
  const c = e.confirm as Json | undefined;
  if (c) {
    textObject(c.title as Json, `${at}.confirm.title`, LIMITS.confirmTitle, problems, 'plain_text');
    textObject(c.text as Json, `${at}.confirm.text`, LIMITS.confirmText, problems);
    textObject(c.confirm as Json, `${at}.confirm.confirm`, LIMITS.confirmButton, problems, 'plain_text');
    textObject(c.deny as Json, `${at}.confirm.deny`, LIMITS.confirmButton, problems, 'plain_text');
  }
}

function textObject(t: Json | undefined, at: string, max: number, problems: string[], type?: string): void {
  if (!t || typeof t.text !== 'string') {
    problems.push(`${at}: missing text`);
    return;
  }
  if (type && t.type !== type) problems.push(`${at}: must be ${type}`);
  if (t.text.length === 0) problems.push(`${at}: empty text`);
  if (t.text.length > max) problems.push(`${at}: ${t.text.length} chars > ${max}`);
}

function id(value: unknown, at: string, problems: string[]): void {
  if (typeof value === 'string' && value.length > LIMITS.id) problems.push(`${at} too long`);
}
