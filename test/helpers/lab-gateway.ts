// The set-up most gateway, API, CLI and console tests share: a Redis of their own, and Airlock in front of
// the demo lab with one `lab` policy (default deny), the agent `ci-bot` and the reviewers alice and bob.
import { chromium, type Browser } from 'playwright-core';
import { startTestAirlock, type TestAirlock } from './airlock-harness.js';
import { startRedis, type TestRedis } from './redis.js';

/** The bearer tokens of the lab's agent and reviewers. */
export const LAB_TOKENS: Readonly<Record<'agent' | 'alice' | 'bob', string>> = {
  agent: 'agent-token-0123456789abcdef',
  alice: 'alice-token-0123456789abcdef',
  bob: 'bob-token-0123456789abcdefgh',
};

/** A running lab gateway; `stop` ends Airlock, then its Redis. */
export interface LabGateway {
  redis: TestRedis;
  gw: TestAirlock;
  stop(): Promise<void>;
}

/** What a test may change about the lab gateway. */
export interface LabGatewayOptions {
  /** Which reviewers exist. @defaultValue both */
  reviewers?: readonly ('alice' | 'bob')[];
  /** Raw config merged over the lab's agents and reviewers. */
  config?: Record<string, unknown>;
}

/** Starts Redis and Airlock with the `lab` policy's `tools`. */
export async function startLabGateway(
  tools: Record<string, unknown>,
  options: LabGatewayOptions = {},
): Promise<LabGateway> {
  const redis = await startRedis();
  try {
    const reviewers = (options.reviewers ?? ['alice', 'bob']).map((id) => ({ id, token: LAB_TOKENS[id] }));
    const gw = await startTestAirlock({
      redisUrl: redis.url,
      config: { agents: [{ id: 'ci-bot', token: LAB_TOKENS.agent }], reviewers, ...options.config },
      policies: { lab: { version: '1', default: 'deny', tools } },
    });
    return {
      redis,
      gw,
      async stop() {
        await gw.stop();
        await redis.stop();
      },
    };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

/** Debian's Chromium, headless, with the flags this machine's closed network needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.AIRLOCK_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-gpu'],
  });
}
