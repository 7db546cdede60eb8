import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  LoggingMessageNotificationSchema,
  type CallToolResult,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { createLabServer } from '../../src/demo/lab-server.js';

async function connect(timeScale = 0.01): Promise<Client> {
  const server = createLabServer({ timeScale });
  const client = new Client({ name: 'lab-test', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  return client;
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

describe('demo lab server', () => {
  let client: Client;
  before(async () => {
    client = await connect();
  });
  after(async () => {
    await client.close();
  });

  it('lists its eight tools with truthful annotations and real schemas', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    assert.deepEqual([...byName.keys()].sort(), [
      'capture_network_traffic',
      'delete_vm',
      'get_vm_console_ticket',
      'health_checks',
      'list_vms',
      'start_vm',
      'stop_vm',
      'vm_management',
    ]);
    for (const tool of tools) {
      assert.ok(tool.title, `${tool.name} has a title`);
      assert.ok(tool.description, `${tool.name} has a description`);
      const a = tool.annotations ?? {};
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        assert.equal(typeof a[hint], 'boolean', `${tool.name}.${hint}`);
      }
    }
    assert.equal(byName.get('list_vms')?.annotations?.readOnlyHint, true);
    assert.equal(byName.get('health_checks')?.annotations?.readOnlyHint, true);
    assert.equal(byName.get('delete_vm')?.annotations?.destructiveHint, true);
    assert.equal(byName.get('vm_management')?.annotations?.destructiveHint, true);
    assert.equal(byName.get('start_vm')?.annotations?.destructiveHint, false);
    const capture = byName.get('capture_network_traffic')?.inputSchema as {
      properties: Record<string, { minimum?: number; maximum?: number; description?: string }>;
      required: string[];
    };
    assert.deepEqual(Object.keys(capture.properties).sort(), [
      'duration',
      'filter',
      'interface',
      'max_packets',
      'vm_name',
    ]);
    assert.equal(capture.properties.duration?.minimum, 1);
    assert.equal(capture.properties.duration?.maximum, 3600);
    assert.ok(capture.properties.filter?.description?.includes('BPF'));
    assert.deepEqual(capture.required.sort(), ['duration', 'vm_name']);
  });

  it('list_vms shows the seeded VMs, filtered by power state', async () => {
    const all = await call(client, 'list_vms');
    const vms = (all.structuredContent as { vms: { name: string; power: string }[] }).vms;
    assert.deepEqual(
      vms.map((v) => v.name),
      ['db-01', 'dc-01', 'kali-01', 'web-01'],
    );
    assert.match(textOf(all), /kali-01\s+stopped/);
    const stopped = await call(client, 'list_vms', { power: 'stopped' });
    assert.deepEqual(
      (stopped.structuredContent as { vms: { name: string }[] }).vms.map((v) => v.name),
      ['kali-01'],
    );
    const bad = await call(client, 'list_vms', { power: 'sleeping' });
    assert.equal(bad.isError, true);
  });

  it('start_vm and stop_vm change power state, idempotently', async () => {
    const started = await call(client, 'start_vm', { vm_name: 'kali-01' });
    assert.equal(started.isError, undefined);
    assert.match(textOf(started), /started/);
    const again = await call(client, 'start_vm', { vm_name: 'kali-01' });
    assert.match(textOf(again), /already running/);
    const stopped = await call(client, 'stop_vm', { vm_name: 'kali-01', force: true });
    assert.match(textOf(stopped), /powered off \(forced\)/);
    assert.match(textOf(await call(client, 'stop_vm', { vm_name: 'kali-01' })), /already stopped/);
    const unknown = await call(client, 'start_vm', { vm_name: 'nope-01' });
    assert.equal(unknown.isError, true);
    assert.match(textOf(unknown), /Unknown VM "nope-01".*web-01/);
  });

  it('get_vm_console_ticket issues a ticket for a running VM only', async () => {
    const ticket = await call(client, 'get_vm_console_ticket', { vm_name: 'web-01', protocol: 'spice' });
    const t = ticket.structuredContent as { vm: string; protocol: string; ticket: string; expiresAt: string };
    assert.equal(t.vm, 'web-01');
    assert.equal(t.protocol, 'spice');
    assert.match(t.ticket, /^LABCON:web-01:/);
    assert.ok(Date.parse(t.expiresAt) > Date.now());
    const stopped = await call(client, 'get_vm_console_ticket', { vm_name: 'kali-01' });
    assert.equal(stopped.isError, true);
    assert.match(textOf(stopped), /stopped; start it with start_vm/);
  });

  it('health_checks reports per-VM status and flags the stopped VM', async () => {
    const result = await call(client, 'health_checks', {});
    const report = result.structuredContent as { status: string; vms: { vm: string; status: string }[] };
    assert.equal(report.status, 'critical');
    assert.equal(report.vms.find((v) => v.vm === 'kali-01')?.status, 'critical');
    assert.equal(report.vms.find((v) => v.vm === 'db-01')?.status, 'warning'); // its disk is 82% full
    const one = await call(client, 'health_checks', { vm_name: 'web-01', checks: ['ping'] });
    assert.deepEqual(
      (one.structuredContent as { vms: { vm: string; checks: unknown[] }[] }).vms.map((v) => [
        v.vm,
        v.checks.length,
      ]),
      [['web-01', 1]],
    );
    const unknown = await call(client, 'health_checks', { vm_name: 'ghost' });
    assert.equal(unknown.isError, true);
  });

  it('vm_management snapshots, resizes a stopped VM and restores', async () => {
    const snap = await call(client, 'vm_management', {
      vm_name: 'kali-01',
      action: 'snapshot',
      params: { snapshot_name: 'clean', description: 'fresh install' },
    });
    assert.match(textOf(snap), /Snapshot "clean"/);
    const resized = await call(client, 'vm_management', {
      vm_name: 'kali-01',
      action: 'resize',
      params: { vcpus: 8, memory_mb: 8192 },
    });
    assert.match(textOf(resized), /8 vCPU, 8192 MB/);
    const restored = await call(client, 'vm_management', {
      vm_name: 'kali-01',
      action: 'restore',
      params: { snapshot_name: 'clean' },
    });
    assert.match(textOf(restored), /restored/);
    assert.equal((restored.structuredContent as { vm: { vcpus: number } }).vm.vcpus, 2);
    const running = await call(client, 'vm_management', {
      vm_name: 'web-01',
      action: 'resize',
      params: { vcpus: 4 },
    });
    assert.equal(running.isError, true);
    assert.match(textOf(running), /running; stop it/);
    const missing = await call(client, 'vm_management', {
      vm_name: 'web-01',
      action: 'restore',
      params: { snapshot_name: 'x' },
    });
    assert.equal(missing.isError, true);
  });

  it('delete_vm refuses a running VM and deletes a stopped one', async () => {
    const refused = await call(client, 'delete_vm', { vm_name: 'web-01' });
    assert.equal(refused.isError, true);
    const fresh = await connect();
    try {
      const deleted = await call(fresh, 'delete_vm', { vm_name: 'kali-01' });
      assert.match(textOf(deleted), /deleted/);
      const vms = (await call(fresh, 'list_vms')).structuredContent as { vms: { name: string }[] };
      assert.ok(!vms.vms.some((v) => v.name === 'kali-01'));
      assert.equal((await call(fresh, 'delete_vm', { vm_name: 'kali-01' })).isError, true);
    } finally {
      await fresh.close();
    }
  });

  it('capture_network_traffic reports progress and summarizes the capture', async () => {
    const progress: Progress[] = [];
    const result = (await client.callTool(
      {
        name: 'capture_network_traffic',
        arguments: { vm_name: 'web-01', interface: 'eth1', duration: 5, filter: 'tcp port 443' },
      },
      undefined,
      { onprogress: (p) => progress.push(p) },
    )) as CallToolResult;
    assert.equal(result.isError, undefined);
    assert.deepEqual(
      progress.map((p) => [p.progress, p.total]),
      [
        [1, 5],
        [2, 5],
        [3, 5],
        [4, 5],
        [5, 5],
      ],
    );
    assert.match(progress[0]?.message ?? '', /web-01\/eth1/);
    const summary = result.structuredContent as {
      packets: number;
      protocols: Record<string, number>;
      pcapPath: string;
    };
    assert.ok(summary.packets > 0);
    assert.deepEqual(Object.keys(summary.protocols), ['tcp']);
    assert.match(summary.pcapPath, /web-01-eth1-.*\.pcap$/);
  });

  it('capture_network_traffic rejects bad input as tool errors', async () => {
    const badFilter = await call(client, 'capture_network_traffic', {
      vm_name: 'web-01',
      duration: 1,
      filter: 'tcp; rm -rf /',
    });
    assert.equal(badFilter.isError, true);
    assert.match(textOf(badFilter), /Invalid BPF filter/);
    const badIface = await call(client, 'capture_network_traffic', {
      vm_name: 'db-01',
      interface: 'eth7',
      duration: 1,
    });
    assert.match(textOf(badIface), /no interface "eth7"; it has eth0/);
    const tooLong = await call(client, 'capture_network_traffic', { vm_name: 'web-01', duration: 7200 });
    assert.equal(tooLong.isError, true);
    const stopped = await call(client, 'capture_network_traffic', { vm_name: 'kali-01', duration: 1 });
    assert.match(textOf(stopped), /stopped/);
  });

  it('capture_network_traffic stops when the request is cancelled', async () => {
    const cancelledLog = new Promise<string>((resolve) => {
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => resolve(String(n.params.data)));
    });
    const controller = new AbortController();
    // 600 simulated seconds in 20 steps: the first progress arrives long before the capture could finish.
    const capture = client.callTool(
      {
        name: 'capture_network_traffic',
        arguments: { vm_name: 'db-01', duration: 600, filter: 'port 5432' },
      },
      undefined,
      { signal: controller.signal, onprogress: () => controller.abort('operator changed their mind') },
    );
    await assert.rejects(capture, /operator changed their mind/);
    assert.match(await cancelledLog, /Capture on db-01\/eth0 cancelled after ~\d+ s/);
    // The server is still healthy and answers the next call.
    assert.equal((await call(client, 'list_vms')).isError, undefined);
  });
});
