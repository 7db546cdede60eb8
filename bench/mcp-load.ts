// MCP clients of both eras and a closed-loop load generator.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** The bearer token the bench's gateways accept (direct and proxies ignore it). */
export const BENCH_TOKEN = 'bench-agent-token-0123456789';

/** Connects one MCP SDK client (initialize handshake included) to a Streamable HTTP endpoint. */
export async function connectClient(url: string, name = 'bench-agent'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${BENCH_TOKEN}` } },
    }),
  );
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

/** One worker's way to make an echo call; resolves with the result, rejects on transport errors. */
export type EchoCaller = () => Promise<CallToolResult>;

/** 2025 era: `tools/call echo {message: 'x'}` on an SDK client's session. */
export function sessionCaller(client: Client): EchoCaller {
  return () => client.callTool({ name: 'echo', arguments: { message: 'x' } }) as Promise<CallToolResult>;
}

/** The 2026-07-28 revision the modern caller speaks. */
const MODERN = '2026-07-28';

/**
 * 2026-07-28 era: a stateless POST per call, with the `_meta` envelope and the mirrored headers
 * (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`), over fetch's keep-alive pool. No handshake.
 */
export function modernCaller(url: string): EchoCaller {
  let id = 0;
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${BENCH_TOKEN}`,
    'mcp-protocol-version': MODERN,
    'mcp-method': 'tools/call',
    'mcp-name': 'echo',
  };
  return async () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: ++id,
      method: 'tools/call',
      params: {
        name: 'echo',
        arguments: { message: 'x' },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN,
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    });
    const res = await fetch(url, { method: 'POST', headers, body });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    // An SSE answer carries the response as its last `data:` line.
    const json = type.includes('text/event-stream')
      ? text
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .pop()
          ?.slice(5)
      : text;
    const msg = JSON.parse(json ?? 'null') as { result?: CallToolResult; error?: { message: string } };
    if (!msg?.result) throw new Error(`HTTP ${res.status}: ${msg?.error?.message ?? text.slice(0, 200)}`);
    return msg.result;
  };
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
 * Each caller runs one worker that calls echo back to back for `durationMs` (closed loop: concurrency =
 * number of callers). Tool errors (`isError`) and wrong answers count as errors.
 */
export async function closedLoop(callers: readonly EchoCaller[], durationMs: number): Promise<LoopResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async (call: EchoCaller) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const r = await call();
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
  await Promise.all(callers.map(worker));
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
