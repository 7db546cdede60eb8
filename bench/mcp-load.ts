// MCP SDK clients over Streamable HTTP and a closed-loop load generator.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Connects one MCP SDK client (initialize handshake included) to a Streamable HTTP endpoint. */
export async function connectClient(url: string, name = 'bench-agent'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** Connects `n` clients to `url`, a few at a time. */
export async function connectClients(url: string, n: number): Promise<Client[]> {
  const out: Client[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = Math.min(10, n - i);
    out.push(
      ...(await Promise.all(Array.from({ length: batch }, (_, j) => connectClient(url, `bench-${i + j}`)))),
    );
  }
  return out;
}

/** Closes clients, ignoring errors (their server may already be gone). */
export async function closeClients(clients: readonly Client[]): Promise<void> {
  await Promise.allSettled(clients.map((c) => c.close()));
}

/** The text of a tool result's first content item. */
export function resultText(r: unknown): string {
  const c = (r as CallToolResult).content?.[0];
  return c && c.type === 'text' ? c.text : '';
}

/** What one closed-loop run measured. */
export interface LoopResult {
  calls: number;
  errors: number;
  elapsedMs: number;
  callsPerSec: number;
  /** Every successful call's latency in ms. */
  latencies: number[];
  /** The first error seen, if any. */
  firstError?: string;
}

/**
 * Each client runs one worker that calls `tools/call echo {message: 'x'}` back to back for `durationMs`
 * (closed loop: concurrency = number of clients). Tool errors (`isError`) count as errors.
 */
export async function closedLoop(clients: readonly Client[], durationMs: number): Promise<LoopResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async (client: Client) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const r = await client.callTool({ name: 'echo', arguments: { message: 'x' } });
        if (r.isError || resultText(r) !== 'x') {
          errors++;
          firstError ??= `tool error: ${resultText(r)}`;
        } else latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
    }
  };
  await Promise.all(clients.map(worker));
  const elapsedMs = performance.now() - start;
  return {
    calls: latencies.length,
    errors,
    elapsedMs,
    callsPerSec: (latencies.length / elapsedMs) * 1000,
    latencies,
    ...(firstError ? { firstError } : {}),
  };
}
