// Regression tests for two holes an adversarial review found (both fixed): DNS rebinding against the
// API in open mode, and a blank capture filter passing the demo policy's "filtered" rule.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { ROOT, labServerCommand, startTestAirlock, type TestAirlock } from '../helpers/airlock-harness.js';
import { decisionOf } from '../../src/gateway/tool-error.js';

let redis: TestRedis;
let open: TestAirlock;

before(async () => {
  redis = await startRedis();
  // The bundled demo's shape: loopback, no agents, no reviewers (open mode).
  open = await startTestAirlock({
    redisUrl: redis.url,
    config: { servers: { lab: { ...labServerCommand(), env: { LAB_TIME_SCALE: '0' } } } },
    policies: {
      lab: {
        version: '1',
        default: 'deny',
        tools: {
          list_vms: {},
          start_vm: { action: 'require_approval', approval: { approvers: [], timeout: '2m', wait: '300ms' } },
        },
      },
    },
  });
});
after(async () => {
  await open?.stop();
  await redis?.stop();
});

/** A request as a browser sends it after DNS rebinding: the attacker's host name in `Host`. */
function rebound(
  base: string,
  method: string,
  path: string,
  host: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers: { host: host, ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

test('DNS rebinding: /api refuses a foreign Host in open mode, so no web page can approve a held call', async () => {
  const agent = await open.connect();
  const first = (await agent.callTool({
    name: 'start_vm',
    arguments: { vm_name: 'kali-01' },
  })) as CallToolResult;
  assert.equal(decisionOf(first)?.status, 'pending');

  // /mcp already refuses this Host (DNS-rebinding protection)...
  const mcp = await rebound(open.url, 'POST', '/mcp', 'evil.example:7420', '{}', {
    'content-type': 'application/json',
  });
  assert.equal(mcp.status, 403, 'control: /mcp checks Host');

  // ...but the reviewer API does not. A page on evil.example, re-resolved to 127.0.0.1, reads the queue
  const list = await rebound(open.url, 'GET', '/api/requests?status=pending', 'evil.example:7420');
  // and approves with a CORS-"simple" request (no preflight: text/plain, no body fields needed).
  let approveStatus = 0;
  if (list.status === 200) {
    const id = JSON.parse(list.text).requests[0].id as string;
    const approve = await rebound(open.url, 'POST', `/api/requests/${id}/approve`, 'evil.example:7420', '', {
      'content-type': 'text/plain',
    });
    approveStatus = approve.status;
  }
  const after = (await agent.callTool({
    name: 'start_vm',
    arguments: { vm_name: 'kali-01' },
  })) as CallToolResult;
  const ran = after.isError !== true;
  console.log('evidence:', {
    listStatus: list.status,
    approveStatus,
    ran,
    result: (after.content[0] as { text: string }).text,
  });
  // Secure behaviour: both refused (403), and the VM never started.
  assert.equal(list.status, 403, `GET /api/requests with Host evil.example answered ${list.status}`);
  assert.equal(approveStatus, 0, `POST approve with Host evil.example answered ${approveStatus}`);
  assert.equal(ran, false, 'the held start_vm ran after a cross-site approval');
});

test('bundled policy: a blank `filter` does not count as a filtered capture; it is held for approval', async () => {
  // The repo's policies/lab.json, as `npm start` uses it ("short, filtered capture" is allowed), with only
  // the hold time shortened so the control call answers "pending" quickly.
  const lab = JSON.parse(readFileSync(join(ROOT, 'policies', 'lab.json'), 'utf8'));
  lab.tools.capture_network_traffic.approval.wait = '300ms';
  const demo = await startTestAirlock({
    redisUrl: redis.url,
    policies: { lab },
    config: { servers: { lab: { ...labServerCommand(), env: { LAB_TIME_SCALE: '0' } } } },
  });
  try {
    const agent = await demo.connect();
    const control = (await agent.callTool({
      name: 'capture_network_traffic',
      arguments: { vm_name: 'web-01', interface: 'eth0', duration: 30 },
    })) as CallToolResult;
    assert.equal(decisionOf(control)?.status, 'pending', 'control: an unfiltered capture needs approval');

    const r = (await agent.callTool({
      name: 'capture_network_traffic',
      arguments: { vm_name: 'web-01', interface: 'eth0', duration: 30, filter: '   ' },
    })) as CallToolResult;
    const sc = r.structuredContent as { filter: string | null } | undefined;
    console.log('evidence:', { decision: decisionOf(r), upstreamFilter: sc?.filter, isError: r.isError });
    assert.equal(
      decisionOf(r)?.status,
      'pending',
      `ran without approval; upstream used filter=${JSON.stringify(sc?.filter)}`,
    );
  } finally {
    await demo.stop();
  }
});

test('cross-site writes: a text/plain or foreign-Origin POST to the API is refused', async () => {
  const plain = await fetch(`${open.url}/api/requests/ar_aaaaaaaaaaaaaaaaaaaa/approve`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: '',
  });
  assert.equal(plain.status, 415);
  const foreign = await fetch(`${open.url}/api/requests/ar_aaaaaaaaaaaaaaaaaaaa/approve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
    body: '{}',
  });
  assert.equal(foreign.status, 403);
});
