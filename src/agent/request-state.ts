// The `requestState` Airlock hands a 2026-07-28 agent with an `input_required` answer. It is sealed
// (HMAC-SHA256, a key every replica shares through Redis) and bound to the agent, the tool and its
// arguments, so the retry that carries it back may land on any replica and cannot be replayed for another
// agent, tool or set of arguments, nor after it expired. The upstream's own `requestState` rides inside.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '../redis/connection.js';
import { keyspace } from '../redis/keyspace.js';

/** How long an agent has to answer an upstream's questions. @defaultValue 10 minutes */
export const REQUEST_STATE_TTL_MS = 10 * 60_000;

/** What a sealed state binds: the call it belongs to. */
export interface StateBinding {
  agent: string;
  server: string;
  /** The tool, or for another method its target: the prompt's name (prompts/get), the URI (resources/read). */
  tool: string;
  args: Record<string, unknown>;
  /** The request's method. @defaultValue `tools/call` */
  method?: string;
}

/** A legacy upstream's call parked on one replica while the agent answers its questions (pending-input.ts). */
export interface PendingRef {
  /** The parked call's id. */
  id: string;
  /** The replica holding it. */
  replica: string;
}

/** The sealed payload. */
interface StatePayload {
  v: 1;
  agent: string;
  server: string;
  tool: string;
  /** The method, when not `tools/call`. */
  m?: string;
  argsDigest: string;
  exp: number;
  /** The upstream's `requestState`, echoed to it byte for byte on the retry. */
  up?: string;
  /** The parked call the retry answers. */
  pend?: PendingRef;
}

/** A verified state's content, or why it is refused. */
export type OpenedState =
  { ok: true; upstreamState?: string; pending?: PendingRef } | { ok: false; reason: string };

/** Seals and opens `requestState` values; the key is read from (or first stored in) Redis once. */
export class RequestStates {
  private key: Promise<Buffer> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The state for an `input_required` answer of `call`, carrying the upstream's own state if any, or the
   * parked call its answers are for.
   */
  async seal(call: StateBinding, upstreamState?: string, pending?: PendingRef): Promise<string> {
    const payload: StatePayload = {
      v: 1,
      agent: call.agent,
      server: call.server,
      tool: call.tool,
      ...(methodOf(call) !== 'tools/call' && { m: methodOf(call) }),
      argsDigest: argsDigest(call.args),
      exp: this.now() + REQUEST_STATE_TTL_MS,
      ...(upstreamState !== undefined && { up: upstreamState }),
      ...(pending !== undefined && { pend: pending }),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${await this.tag(body)}`;
  }

  /** Checks `state` against the retry's call: tag, expiry, agent, tool and arguments. */
  async open(state: string, call: StateBinding): Promise<OpenedState> {
    const [body, tag, extra] = state.split('.');
    if (!body || !tag || extra !== undefined) return { ok: false, reason: 'requestState is malformed' };
    const expected = Buffer.from(await this.tag(body));
    const given = Buffer.from(tag);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'requestState was not issued by Airlock or was altered' };
    }
    const p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as StatePayload;
    if (p.v !== 1) return { ok: false, reason: 'requestState has an unknown version' };
    if (p.exp <= this.now()) return { ok: false, reason: 'requestState has expired; call the tool again' };
    if (p.agent !== call.agent) return { ok: false, reason: 'requestState belongs to another agent' };
    if ((p.m ?? 'tools/call') !== methodOf(call)) {
      return { ok: false, reason: 'requestState belongs to another method' };
    }
    if (p.server !== call.server || p.tool !== call.tool) {
      const what = methodOf(call) === 'tools/call' ? 'tool' : 'target';
      return { ok: false, reason: `requestState belongs to another ${what}` };
    }
    if (p.argsDigest !== argsDigest(call.args)) {
      return { ok: false, reason: 'requestState belongs to other arguments' };
    }
    return {
      ok: true,
      ...(p.up !== undefined && { upstreamState: p.up }),
      ...(p.pend !== undefined && { pending: p.pend }),
    };
  }

  private async tag(body: string): Promise<string> {
    return createHmac('sha256', await this.sharedKey())
      .update(body)
      .digest('base64url');
  }

  /** The sealing key all replicas share: the first one to ask stores a random one, the others read it. */
  private sharedKey(): Promise<Buffer> {
    this.key ??= (async () => {
      const name = keyspace(this.prefix).requestState.secret;
      await this.redis.set(name, randomBytes(32).toString('base64'), 'NX');
      const stored = await this.redis.get(name);
      if (!stored) throw new Error('the requestState sealing key could not be stored in Redis');
      return Buffer.from(stored, 'base64');
    })();
    this.key.catch(() => (this.key = undefined));
    return this.key;
  }
}

function methodOf(call: StateBinding): string {
  return call.method ?? 'tools/call';
}

/** SHA-256 over the arguments in a canonical form (object keys sorted at every depth). */
export function argsDigest(args: Record<string, unknown>): string {
  return createHash('sha256').update(canonical(args)).digest('base64url');
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
