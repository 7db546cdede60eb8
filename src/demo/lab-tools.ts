import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { checkBpfFilter, simulateCapture } from './lab-capture.js';
import { CHECK_NAMES, checkVm } from './lab-health.js';
import { Lab, LabError } from './lab-state.js';
import { guarded, ok, summarize, vmName, vmSummary } from './lab-tool-helpers.js';

/** Knobs for the lab's tools. */
export interface LabToolsOptions {
  /** Real seconds per simulated second for captures. */
  timeScale: number;
}

/** Registers the lab's eight tools on an McpServer. */
export function registerLabTools(server: McpServer, lab: Lab, options: LabToolsOptions): void {
  server.registerTool(
    'list_vms',
    {
      title: 'List VMs',
      description: "List the lab's virtual machines with their power state, size, IP address and snapshots.",
      inputSchema: {
        power: z
          .enum(['running', 'stopped', 'all'])
          .default('all')
          .describe('Only VMs in this power state; "all" lists every VM'),
      },
      outputSchema: { vms: z.array(vmSummary) },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ power }) => {
      const vms = lab.list().filter((vm) => power === 'all' || vm.power === power);
      const lines = vms.map(
        (vm) =>
          `${vm.name.padEnd(8)} ${vm.power.padEnd(8)} ${vm.ip.padEnd(11)} ${vm.vcpus} vCPU ${vm.memoryMb / 1024} GB  ${vm.os} — ${vm.role}`,
      );
      const text = vms.length ? `${vms.length} VM(s):\n${lines.join('\n')}` : `No VMs are ${power}.`;
      return ok(text, { vms: vms.map(summarize) });
    },
  );

  server.registerTool(
    'start_vm',
    {
      title: 'Start VM',
      description: 'Power on a VM. Starting a VM that is already running changes nothing.',
      inputSchema: { vm_name: vmName },
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ vm_name }) =>
      guarded(() => {
        const changed = lab.start(vm_name);
        const vm = lab.get(vm_name);
        const text = changed
          ? `VM "${vm_name}" started; it is reachable at ${vm.ip}.`
          : `VM "${vm_name}" was already running.`;
        return ok(text, { vm: summarize(vm), changed });
      }),
  );

  server.registerTool(
    'stop_vm',
    {
      title: 'Stop VM',
      description:
        'Power off a VM. By default the guest is asked to shut down cleanly; force=true cuts the power, ' +
        'which can lose unsaved data.',
      inputSchema: {
        vm_name: vmName,
        force: z.boolean().default(false).describe('Cut the power instead of a clean guest shutdown'),
      },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ vm_name, force }) =>
      guarded(() => {
        const changed = lab.stop(vm_name);
        const how = force ? 'powered off (forced)' : 'shut down cleanly';
        const text = changed ? `VM "${vm_name}" ${how}.` : `VM "${vm_name}" was already stopped.`;
        return ok(text, { vm: summarize(lab.get(vm_name)), changed, forced: force });
      }),
  );

  server.registerTool(
    'get_vm_console_ticket',
    {
      title: 'Get VM console ticket',
      description:
        'Issue a one-time console ticket (valid 60 s) for a running VM, to open its screen in a VNC, SPICE or RDP client.',
      inputSchema: {
        vm_name: vmName,
        protocol: z.enum(['vnc', 'spice', 'rdp']).default('vnc').describe('Console protocol of the client'),
      },
      outputSchema: {
        vm: z.string(),
        protocol: z.enum(['vnc', 'spice', 'rdp']),
        host: z.string(),
        port: z.number(),
        ticket: z.string(),
        expiresAt: z.string(),
      },
      // Issues a fresh credential each time, so neither read-only nor idempotent, but it changes no VM.
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    ({ vm_name, protocol }) =>
      guarded(() => {
        const t = lab.consoleTicket(vm_name, protocol);
        return ok(
          `Console ticket for "${t.vm}" (${t.protocol}): connect to ${t.host}:${t.port} with ticket ${t.ticket}; expires ${t.expiresAt}.`,
          { ...t },
        );
      }),
  );

  server.registerTool(
    'health_checks',
    {
      title: 'Run health checks',
      description:
        'Check VMs: ping, listening services, disk and memory usage. Checks every VM unless vm_name is given.',
      inputSchema: {
        vm_name: vmName.optional().describe('Check only this VM; omit to check every VM'),
        checks: z
          .array(z.enum(CHECK_NAMES))
          .min(1)
          .max(CHECK_NAMES.length)
          .optional()
          .describe(`Which checks to run (${CHECK_NAMES.join(', ')}); omit for all`),
      },
      outputSchema: {
        checkedAt: z.string(),
        status: z.enum(['ok', 'warning', 'critical']),
        vms: z.array(
          z.object({
            vm: z.string(),
            status: z.enum(['ok', 'warning', 'critical']),
            checks: z.array(z.object({ name: z.string(), status: z.string(), detail: z.string() })),
          }),
        ),
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ vm_name, checks }) =>
      guarded(() => {
        const vms = vm_name ? [lab.get(vm_name)] : lab.list();
        const results = vms.map((vm) => checkVm(vm, checks ?? CHECK_NAMES));
        const order = ['ok', 'warning', 'critical'] as const;
        const status = order[Math.max(0, ...results.map((r) => order.indexOf(r.status)))] ?? 'ok';
        const lines = results.map(
          (r) =>
            `${r.vm}: ${r.status.toUpperCase()} — ${r.checks.map((c) => `${c.name} ${c.status} (${c.detail})`).join('; ')}`,
        );
        return ok(`Health: ${status.toUpperCase()}\n${lines.join('\n')}`, {
          checkedAt: new Date().toISOString(),
          status,
          vms: results,
        });
      }),
  );

  server.registerTool(
    'capture_network_traffic',
    {
      title: 'Capture network traffic',
      description:
        "Run tcpdump on a running VM's interface for a number of seconds and store a pcap file. " +
        'Reports progress while capturing; a BPF filter narrows what is captured (e.g. "tcp port 443").',
      inputSchema: {
        vm_name: vmName,
        interface: z
          .string()
          .regex(/^[a-z][a-z0-9]{0,14}$/, 'interface names are like eth0')
          .default('eth0')
          .describe('Network interface inside the VM (see list_vms)'),
        duration: z.number().int().min(1).max(3600).describe('How long to capture, in seconds (1–3600)'),
        filter: z
          .string()
          .max(512)
          .optional()
          .describe('BPF capture filter, e.g. "host 10.10.0.12 and tcp port 5432"'),
        max_packets: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(10_000)
          .describe('Stop early after this many packets'),
      },
      outputSchema: {
        vm: z.string(),
        interface: z.string(),
        filter: z.string().nullable(),
        durationSeconds: z.number(),
        packets: z.number(),
        bytes: z.number(),
        truncated: z.boolean(),
        protocols: z.record(z.string(), z.number()),
        topTalkers: z.array(z.object({ src: z.string(), dst: z.string(), packets: z.number() })),
        pcapPath: z.string(),
        startedAt: z.string(),
        finishedAt: z.string(),
      },
      // Writes a pcap file, so not read-only; it never changes a VM.
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    (args, extra) =>
      guarded(async () => {
        const vm = lab.requireRunning(args.vm_name, 'capturing its traffic');
        if (!vm.interfaces.includes(args.interface)) {
          throw new LabError(
            `VM "${vm.name}" has no interface "${args.interface}"; it has ${vm.interfaces.join(', ')}.`,
          );
        }
        const filter = checkBpfFilter(args.filter);
        const progressToken = extra._meta?.progressToken;
        const started = Date.now();
        const summary = await simulateCapture(vm, args.interface, args.duration, filter, args.max_packets, {
          timeScale: options.timeScale,
          signal: extra.signal,
          onProgress: async (p) => {
            if (progressToken === undefined) return;
            await extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, ...p },
            });
          },
        }).catch(async (err: unknown) => {
          if (!extra.signal.aborted) throw err;
          // A cancelled request gets no response, so the log is where an operator sees tcpdump was stopped.
          const seconds = Math.round((Date.now() - started) / 1000 / (options.timeScale || 1));
          await server.sendLoggingMessage({
            level: 'notice',
            logger: 'capture',
            data: `Capture on ${vm.name}/${args.interface} cancelled after ~${seconds} s; partial pcap discarded`,
          });
          throw err;
        });
        const protocols = Object.entries(summary.protocols)
          .map(([p, n]) => `${p} ${n}`)
          .join(', ');
        return ok(
          `Captured ${summary.packets} packets (${summary.bytes} bytes) on ${vm.name}/${summary.interface} ` +
            `for ${summary.durationSeconds} s${filter ? ` with filter "${filter}"` : ''}` +
            `${summary.truncated ? ' (stopped at max_packets)' : ''}. Protocols: ${protocols}. Saved to ${summary.pcapPath}.`,
          { ...summary },
        );
      }),
  );

  server.registerTool(
    'vm_management',
    {
      title: 'Manage VM',
      description:
        'Snapshot a VM, restore it to a snapshot (discarding everything since), or resize a stopped VM ' +
        '(vCPUs, memory, growing its disk).',
      inputSchema: {
        vm_name: vmName,
        action: z.enum(['snapshot', 'restore', 'resize']).describe('What to do with the VM'),
        params: z
          .object({
            snapshot_name: z
              .string()
              .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)
              .optional()
              .describe(
                'snapshot: name for the new snapshot (default: timestamp); restore: snapshot to restore',
              ),
            description: z.string().max(200).optional().describe('snapshot: free-text note'),
            vcpus: z.number().int().min(1).max(64).optional().describe('resize: number of virtual CPUs'),
            memory_mb: z
              .number()
              .int()
              .min(512)
              .max(262_144)
              .multipleOf(256)
              .optional()
              .describe('resize: memory in MB'),
            disk_gb: z
              .number()
              .int()
              .min(1)
              .max(4096)
              .optional()
              .describe('resize: new disk size in GB (grow only)'),
          })
          .strict()
          .default({})
          .describe('Parameters of the action'),
      },
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    ({ vm_name, action, params }) =>
      guarded(() => {
        switch (action) {
          case 'snapshot': {
            const name =
              params.snapshot_name ?? `snap-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
            const snap = lab.snapshot(vm_name, name, params.description);
            return ok(`Snapshot "${snap.name}" of "${vm_name}" taken.`, {
              vm: summarize(lab.get(vm_name)),
              snapshot: snap,
            });
          }
          case 'restore': {
            if (!params.snapshot_name) throw new LabError('restore needs params.snapshot_name.');
            const snap = lab.restore(vm_name, params.snapshot_name);
            return ok(`VM "${vm_name}" restored to snapshot "${snap.name}" from ${snap.createdAt}.`, {
              vm: summarize(lab.get(vm_name)),
              snapshot: snap,
            });
          }
          case 'resize': {
            const vm = lab.resize(vm_name, {
              ...(params.vcpus !== undefined ? { vcpus: params.vcpus } : {}),
              ...(params.memory_mb !== undefined ? { memoryMb: params.memory_mb } : {}),
              ...(params.disk_gb !== undefined ? { diskGb: params.disk_gb } : {}),
            });
            return ok(
              `VM "${vm_name}" now has ${vm.vcpus} vCPU, ${vm.memoryMb} MB memory, ${vm.diskGb} GB disk.`,
              {
                vm: summarize(vm),
              },
            );
          }
        }
      }),
  );

  server.registerTool(
    'delete_vm',
    {
      title: 'Delete VM',
      description: 'Permanently delete a stopped VM, its disk and all its snapshots. This cannot be undone.',
      inputSchema: { vm_name: vmName },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ vm_name }) =>
      guarded(() => {
        const vm = lab.delete(vm_name);
        return ok(
          `VM "${vm.name}" deleted with its ${vm.diskGb} GB disk and ${vm.snapshots.length} snapshot(s).`,
          {
            deleted: vm.name,
          },
        );
      }),
  );
}
