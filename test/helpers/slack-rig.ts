import assert from 'node:assert/strict';
import { after, afterEach, before } from 'node:test';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ApprovalService } from '../../src/approval/approval-service.js';
import { ApprovalStore } from '../../src/approval/approval-store.js';
import { createQueueConnection } from '../../src/approval/queue-connection.js';
import { parseConfig } from '../../src/config/load-config.js';
import { newRequestId } from '../../src/core/approval/request-id.js';
import { AirlockError } from '../../src/core/errors.js';
import type { ApprovalSpec } from '../../src/core/policy/types.js';
import { silentLogger } from '../../src/log.js';
import { createSlackIntegration, type SlackIntegration } from '../../src/slack/slack-integration.js';
import { createSlackDirectory, type SlackDirectory } from '../../src/slack/slack-directory.js';
import { startFakeSlack, type FakeMessage, type FakeSlack, type SlackCall } from './fake-slack.js';
import { freshPrefix, startRedis, type TestRedis } from './redis.js';
import { blockActionPayload, postInteraction } from './slack-signing.js';

/** The signing secret every rig's Slack app is configured with. */
export const RIG_SIGNING_SECRET = 'test-signing-secret';

/** Options for {@link startSlackRig}. */
export interface SlackRigOptions {
  redisUrl: string;
  reviewers?: unknown[];
  agents?: unknown[];
  /** First notification backoff in ms. @defaultValue 100 */
  backoffMs?: number;
  /** Redis key prefix; a second rig on the same prefix is another replica of the first. @defaultValue fresh */
  prefix?: string;
  /** Run the Slack app in Socket Mode against the fake (no HTTP route). */
  socketMode?: boolean;
}

/**
 * The Slack integration wired to a real ApprovalService on a real Redis, a stub upstream and a fresh
 * fake Slack: the approval side of Airlock without the MCP gateway in front.
 */
export interface SlackRig {
  /** Base URL serving `/slack/events` (HTTP mode). */
  url: string;
  /** Redis key prefix of this rig (for waiting on its change channel). */
  prefix: string;
  fake: FakeSlack;
  approvals: ApprovalService;
  store: ApprovalStore;
  slack: SlackIntegration;
  /** Group members and channel names, as the approval service sees them. */
  directory: SlackDirectory;
  /** Ids of requests the stub upstream ran, in order. */
  executed: string[];
  /** Holds a `lab/start_vm` call as the gateway would; the result settles when the request does. */
  hold(
    spec?: Partial<ApprovalSpec>,
    args?: Record<string, unknown>,
  ): { id: string; result: Promise<CallToolResult> };
  /** A signed button click on the request's message. */
  click(user: string, actionId: string, id: string): Promise<{ status: number; body: string }>;
  /** The request message of `id`: the first successful top-level chat.postMessage naming it. */
  posted(id: string): Promise<SlackCall>;
  /** The fake's current copy of the request's message, once its blocks (as JSON) satisfy `predicate`. */
  messageWhen(id: string, predicate: (blocksJson: string) => boolean): Promise<FakeMessage>;
  /** The first ephemeral to `user` whose text matches. */
  ephemeralTo(user: string, pattern: RegExp): Promise<SlackCall>;
  stop(): Promise<void>;
}

/** Starts a rig; stop it after the test. */
export async function startSlackRig(o: SlackRigOptions): Promise<SlackRig> {
  const fake = await startFakeSlack();
  fake.users.set('U0ALICE', 'Alice Liddell');
  fake.users.set('U0BOB', 'Bob Builder');
  const prefix = o.prefix ?? freshPrefix('slack');
  const config = parseConfig(
    {
      publicUrl: 'http://127.0.0.1:7420',
      redis: { url: o.redisUrl, prefix },
      reviewers: o.reviewers ?? [
        { id: 'alice', slack: 'U0ALICE' },
        { id: 'bob', slack: 'U0BOB' },
      ],
      agents: o.agents ?? [{ id: 'ci-bot', owner: 'U0OWNER' }],
      slack: {
        botToken: 'xoxb-test',
        signingSecret: RIG_SIGNING_SECRET,
        ...(o.socketMode ? { appToken: 'xapp-test' } : {}),
        channel: 'C0APPROVALS',
        apiUrl: fake.apiUrl,
      },
    },
    process.cwd(),
    {},
  );
  const conn = new Redis(o.redisUrl, { maxRetriesPerRequest: 1 });
  const blocking: ReturnType<typeof createQueueConnection>[] = [];
  const blockingConnection = (name: string) => {
    const c = createQueueConnection(o.redisUrl, false, name);
    blocking.push(c);
    return c;
  };
  const store = new ApprovalStore(conn, prefix);
  const executed: string[] = [];
  const directory = createSlackDirectory(config, silentLogger);
  const approvals = new ApprovalService({
    store,
    queueConnection: conn,
    blockingConnection,
    prefix,
    execute: async (r) => {
      executed.push(r.id);
      return { content: [{ type: 'text', text: `started ${String(r.args.vm_name)}` }] };
    },
    reviewers: config.reviewers,
    agents: config.agents,
    groupMembers: (ids) => directory.groupMembers(ids),
    channelLabel: (r) => directory.channelLabel(r),
    openAccess: false,
    logger: silentLogger,
  });
  const slack = createSlackIntegration({
    config,
    directory,
    approvals,
    store,
    queueConnection: conn,
    blockingConnection,
    prefix,
    logger: silentLogger,
    retry: { backoffMs: o.backoffMs ?? 100 },
  });
  const app = express();
  if (slack.router) app.use(slack.router);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  await approvals.start();
  await slack.start();
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const aborts: AbortController[] = [];
  const posted = (id: string) =>
    fake.waitFor(
      'chat.postMessage',
      (c) => c.params.thread_ts === undefined && JSON.stringify(c.params.blocks).includes(id),
    );
  return {
    url,
    prefix,
    fake,
    approvals,
    store,
    slack,
    directory,
    executed,
    hold(spec = {}, args = { vm_name: 'web-01' }) {
      const id = newRequestId();
      const ac = new AbortController();
      aborts.push(ac);
      const approval: ApprovalSpec = {
        approvers: ['alice', 'bob'],
        minApprovals: 1,
        timeoutMs: 60_000,
        waitMs: 30_000,
        onTimeout: 'reject',
        allowSelfApproval: false,
        ...spec,
      };
      const result = approvals.hold(
        {
          requestId: id,
          agent: 'ci-bot',
          server: 'lab',
          tool: 'start_vm',
          args,
          decision: { action: 'require_approval', rule: 'lab/start_vm', limits: [], approval },
        },
        { signal: ac.signal, disconnected: () => true },
      );
      // Tests that never settle a request must not leave an unhandled rejection behind.
      result.catch(() => {});
      return { id, result };
    },
    click: (user, actionId, id) =>
      postInteraction(
        url,
        RIG_SIGNING_SECRET,
        blockActionPayload({ user: { id: user }, actionId, value: id }),
      ),
    posted,
    async messageWhen(id, predicate) {
      const post = await posted(id);
      const ts = String(post.response?.ts);
      const channel = String(post.response?.channel);
      return fake.until(
        () => {
          const m = fake.message(channel, ts);
          return m && predicate(JSON.stringify(m.blocks)) ? m : undefined;
        },
        10_000,
        () =>
          `message of ${id} never matched; last: ${JSON.stringify(fake.message(channel, ts)?.blocks).slice(0, 2000)}`,
      );
    },
    ephemeralTo: (user, pattern) =>
      fake.waitFor(
        'chat.postEphemeral',
        (c) => c.params.user === user && pattern.test(String(c.params.text)),
      ),
    async stop() {
      for (const ac of aborts) ac.abort();
      await slack.close();
      await approvals.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      for (const c of blocking) c.disconnect();
      conn.disconnect();
      await fake.stop();
    },
  };
}

/** Polls `check` every 20 ms until it yields a value; for state that has no event or Slack call to wait on. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The AirlockError a held call was refused with. */
export async function rejection(p: Promise<unknown>): Promise<AirlockError> {
  const err = await p.then(
    () => assert.fail('expected the held call to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AirlockError, `expected an AirlockError, got ${String(err)}`);
  return err;
}

/** A test file's rigs: one Redis for the file, every rig started through it stopped after each test. */
export interface SlackRigs {
  /** Starts a rig on the file's Redis; it is stopped after the current test. */
  rig(o?: Omit<SlackRigOptions, 'redisUrl'>): Promise<SlackRig>;
  /** Stops a rig now (a replica going away mid-test). */
  stop(r: SlackRig): Promise<void>;
  /** The file's Redis URL (once its `before` hook has run). */
  readonly redisUrl: string;
}

/** Registers the file's hooks (Redis started before, rigs stopped after each test, Redis stopped after). */
export function useSlackRigs(): SlackRigs {
  let redis: TestRedis | undefined;
  const rigs: SlackRig[] = [];
  before(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const r of rigs.splice(0)) await r.stop();
  });
  after(async () => {
    await redis?.stop();
  });
  const url = () => {
    if (!redis) throw new Error('the Redis of this file is not started yet');
    return redis.url;
  };
  return {
    async rig(o = {}) {
      const r = await startSlackRig({ redisUrl: url(), ...o });
      rigs.push(r);
      return r;
    },
    async stop(r) {
      const at = rigs.indexOf(r);
      if (at >= 0) rigs.splice(at, 1);
      await r.stop();
    },
    get redisUrl() {
      return url();
    },
  };
}
