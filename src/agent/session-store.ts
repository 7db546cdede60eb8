import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '../redis/connection.js';
import { keyspace, type Keyspace } from '../redis/keyspace.js';
import { loadScripts, runScript } from '../redis/lua-scripts.js';
import type { LogLevel } from './wire/envelope.js';

/** What any replica needs to serve the next request of a 2025-era session. */
export interface SessionRecord {
  id: string;
  agent: string;
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
  /** From `logging/setLevel`; absent until the agent sets one. */
  logLevel?: LogLevel;
  /**
   * True when the session negotiated the tasks extension at initialize: held and task-policy calls then
   * answer with tasks, on whichever replica serves them.
   */
  tasks?: boolean;
  createdAt: number;
  lastSeen: number;
}

/** The part of a record `create` is given. */
export type NewSession = Pick<
  SessionRecord,
  'agent' | 'protocolVersion' | 'clientCapabilities' | 'clientInfo' | 'tasks'
>;

// 128 random bits and a 128-bit tag, both base64url.
const ID_PATTERN = /^s_([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/;

/**
 * 2025-era sessions in Redis, so that any replica serves any request of a session. A session id is
 * random and carries an HMAC tag over itself and its agent: a forged id, or a real one presented with
 * another agent's token, fails the tag without a Redis round trip. Records expire after `idleMs`
 * without a request.
 */
export class SessionStore {
  private readonly keys: Keyspace['session'];
  private secret: Promise<Buffer> | undefined;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly idleMs: number,
  ) {
    this.keys = keyspace(prefix).session;
    loadScripts(redis);
  }

  /** Records a new session for `init.agent` and returns it with its signed id. */
  async create(init: NewSession): Promise<SessionRecord> {
    const random = randomBytes(16).toString('base64url');
    const id = `s_${random}.${await this.tag(random, init.agent)}`;
    const now = Date.now();
    const record: SessionRecord = { id, ...init, createdAt: now, lastSeen: now };
    await this.redis
      .multi()
      .hset(this.keys.record(id), {
        agent: record.agent,
        protocolVersion: record.protocolVersion,
        clientCapabilities: JSON.stringify(record.clientCapabilities),
        clientInfo: JSON.stringify(record.clientInfo),
        ...(record.tasks && { tasks: '1' }),
        createdAt: String(now),
        lastSeen: String(now),
      })
      .pexpire(this.keys.record(id), this.idleMs)
      .exec();
    return record;
  }

  /** True when `id` is one Airlock signed for `agent`; no Redis round trip once the key is known. */
  async signedFor(id: string, agent: string): Promise<boolean> {
    const m = ID_PATTERN.exec(id);
    if (!m) return false;
    const expected = Buffer.from(await this.tag(m[1]!, agent));
    const given = Buffer.from(m[2]!);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** The session `id` of `agent`, its idle time restarted; undefined when forged, foreign, ended or expired. */
  async touch(id: string, agent: string): Promise<SessionRecord | undefined> {
    if (!(await this.signedFor(id, agent))) return undefined;
    const now = Date.now();
    const reply = await runScript(
      this.redis,
      'touch-session-2',
      [this.keys.record(id), this.keys.subscriptions(id)],
      [this.idleMs, now],
    );
    if (!Array.isArray(reply)) return undefined;
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = String(reply[i + 1]);
    if (fields.agent !== agent) return undefined;
    return {
      id,
      agent: fields.agent,
      protocolVersion: fields.protocolVersion ?? '',
      clientCapabilities: JSON.parse(fields.clientCapabilities ?? '{}') as Record<string, unknown>,
      clientInfo: JSON.parse(fields.clientInfo ?? '{}') as Record<string, unknown>,
      ...(fields.logLevel ? { logLevel: fields.logLevel as LogLevel } : {}),
      ...(fields.tasks === '1' && { tasks: true }),
      createdAt: Number(fields.createdAt),
      lastSeen: now,
    };
  }

  /** Stores the level of `logging/setLevel`. */
  async setLogLevel(id: string, level: LogLevel): Promise<void> {
    await this.redis.hset(this.keys.record(id), 'logLevel', level);
  }

  /** Adds or removes one resource subscription of the session. */
  async setSubscribed(id: string, uri: string, subscribed: boolean): Promise<void> {
    const key = this.keys.subscriptions(id);
    if (!subscribed) {
      await this.redis.srem(key, uri);
      return;
    }
    await this.redis.multi().sadd(key, uri).pexpire(key, this.idleMs).exec();
  }

  /** True while session `id` exists and is subscribed to `uri`. */
  async isSubscribed(id: string, uri: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.subscriptions(id), uri)) === 1;
  }

  /** Ends the session: every later request with its id gets 404. */
  async delete(id: string): Promise<void> {
    await this.redis.del(this.keys.record(id), this.keys.subscriptions(id));
  }

  private async tag(random: string, agent: string): Promise<string> {
    const secret = await this.sharedSecret();
    return createHmac('sha256', secret)
      .update(`${random}\n${agent}`)
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }

  /** The signing key all replicas share: the first one to ask stores a random one, the others read it. */
  private sharedSecret(): Promise<Buffer> {
    this.secret ??= (async () => {
      await this.redis.set(this.keys.secret, randomBytes(32).toString('base64'), 'NX');
      const stored = await this.redis.get(this.keys.secret);
      if (!stored) throw new Error('the session signing key could not be stored in Redis');
      return Buffer.from(stored, 'base64');
    })();
    this.secret.catch(() => (this.secret = undefined));
    return this.secret;
  }
}
