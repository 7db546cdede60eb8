import { randomBytes } from 'node:crypto';

/** Power state of a simulated VM. */
export type PowerState = 'running' | 'stopped';

/** A point-in-time copy of a VM's configuration and power state. */
export interface VmSnapshot {
  name: string;
  description?: string;
  createdAt: string;
  /** Restoring brings back the hardware and power state the VM had then. */
  state: { power: PowerState; vcpus: number; memoryMb: number; diskGb: number };
}

/** One simulated virtual machine. */
export interface Vm {
  name: string;
  os: string;
  role: string;
  power: PowerState;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  /** Fraction of the disk in use, for health checks. */
  diskUsed: number;
  ip: string;
  interfaces: string[];
  /** Services the health checks probe when the VM runs. */
  services: string[];
  /** ISO time of the last boot; undefined while stopped. */
  bootedAt?: string;
  snapshots: VmSnapshot[];
}

/** The VMs every fresh lab starts with. */
export function seedVms(): Vm[] {
  const now = new Date().toISOString();
  return [
    {
      name: 'dc-01',
      os: 'Windows Server 2022',
      role: 'Active Directory domain controller (lab.local)',
      power: 'running',
      vcpus: 4,
      memoryMb: 8192,
      diskGb: 80,
      diskUsed: 0.41,
      ip: '10.10.0.10',
      interfaces: ['eth0'],
      services: ['ldap', 'kerberos', 'dns', 'smb'],
      bootedAt: now,
      snapshots: [],
    },
    {
      name: 'web-01',
      os: 'Ubuntu 22.04 LTS',
      role: 'nginx web front end',
      power: 'running',
      vcpus: 2,
      memoryMb: 4096,
      diskGb: 40,
      diskUsed: 0.37,
      ip: '10.10.0.11',
      interfaces: ['eth0', 'eth1'],
      services: ['ssh', 'http', 'https'],
      bootedAt: now,
      snapshots: [],
    },
    {
      name: 'db-01',
      os: 'Debian 12',
      role: 'PostgreSQL 16 database',
      power: 'running',
      vcpus: 4,
      memoryMb: 16384,
      diskGb: 200,
      diskUsed: 0.82,
      ip: '10.10.0.12',
      interfaces: ['eth0'],
      services: ['ssh', 'postgresql'],
      bootedAt: now,
      snapshots: [
        {
          name: 'pre-upgrade',
          description: 'Before PostgreSQL 15 → 16',
          createdAt: '2025-01-15T09:30:00.000Z',
          state: { power: 'running', vcpus: 4, memoryMb: 16384, diskGb: 200 },
        },
      ],
    },
    {
      name: 'kali-01',
      os: 'Kali Linux 2024.4',
      role: 'attacker workstation',
      power: 'stopped',
      vcpus: 2,
      memoryMb: 4096,
      diskGb: 60,
      diskUsed: 0.55,
      ip: '10.10.0.50',
      interfaces: ['eth0'],
      services: ['ssh'],
      snapshots: [],
    },
  ];
}

/** Thrown for anything the caller can fix (unknown VM, wrong state); tools turn it into `isError` results. */
export class LabError extends Error {
  override readonly name = 'LabError';
}

/** In-memory VM lab; lives as long as the process (or the test) that created it. */
export class Lab {
  private readonly vms = new Map<string, Vm>();

  constructor(vms: Vm[] = seedVms()) {
    for (const vm of vms) this.vms.set(vm.name, vm);
  }

  /** All VMs, sorted by name. */
  list(): Vm[] {
    return [...this.vms.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The VM with this name; throws a LabError naming the VMs that do exist. */
  get(name: string): Vm {
    const vm = this.vms.get(name);
    if (!vm) {
      const known = this.list()
        .map((v) => v.name)
        .join(', ');
      throw new LabError(`Unknown VM "${name}". Existing VMs: ${known || '(none)'}.`);
    }
    return vm;
  }

  /** Powers a VM on; returns false when it was already running. */
  start(name: string): boolean {
    const vm = this.get(name);
    if (vm.power === 'running') return false;
    vm.power = 'running';
    vm.bootedAt = new Date().toISOString();
    return true;
  }

  /** Powers a VM off; returns false when it was already stopped. */
  stop(name: string): boolean {
    const vm = this.get(name);
    if (vm.power === 'stopped') return false;
    vm.power = 'stopped';
    delete vm.bootedAt;
    return true;
  }

  /** Requires a running VM, for operations that need a live guest. */
  requireRunning(name: string, doing: string): Vm {
    const vm = this.get(name);
    if (vm.power !== 'running') {
      throw new LabError(`VM "${name}" is stopped; start it with start_vm before ${doing}.`);
    }
    return vm;
  }

  /** Records a snapshot of the VM's current configuration. */
  snapshot(name: string, snapshotName: string, description?: string): VmSnapshot {
    const vm = this.get(name);
    if (vm.snapshots.some((s) => s.name === snapshotName)) {
      throw new LabError(`VM "${name}" already has a snapshot named "${snapshotName}"; pick another name.`);
    }
    const snap: VmSnapshot = {
      name: snapshotName,
      ...(description ? { description } : {}),
      createdAt: new Date().toISOString(),
      state: { power: vm.power, vcpus: vm.vcpus, memoryMb: vm.memoryMb, diskGb: vm.diskGb },
    };
    vm.snapshots.push(snap);
    return snap;
  }

  /** Rolls a VM back to a snapshot; everything since is lost. */
  restore(name: string, snapshotName: string): VmSnapshot {
    const vm = this.get(name);
    const snap = vm.snapshots.find((s) => s.name === snapshotName);
    if (!snap) {
      const known = vm.snapshots.map((s) => s.name).join(', ');
      throw new LabError(`VM "${name}" has no snapshot "${snapshotName}". Snapshots: ${known || '(none)'}.`);
    }
    Object.assign(vm, snap.state);
    if (vm.power === 'running') vm.bootedAt = new Date().toISOString();
    else delete vm.bootedAt;
    return snap;
  }

  /** Changes a stopped VM's hardware; disks can only grow, as on real hypervisors. */
  resize(name: string, change: { vcpus?: number; memoryMb?: number; diskGb?: number }): Vm {
    const vm = this.get(name);
    if (change.vcpus === undefined && change.memoryMb === undefined && change.diskGb === undefined) {
      throw new LabError('resize needs at least one of params.vcpus, params.memory_mb or params.disk_gb.');
    }
    if (vm.power === 'running') {
      throw new LabError(`VM "${name}" is running; stop it with stop_vm before resizing.`);
    }
    if (change.diskGb !== undefined && change.diskGb < vm.diskGb) {
      throw new LabError(
        `Disks can only grow: "${name}" has ${vm.diskGb} GB, asked for ${change.diskGb} GB.`,
      );
    }
    if (change.diskGb !== undefined) {
      vm.diskUsed = (vm.diskUsed * vm.diskGb) / change.diskGb;
      vm.diskGb = change.diskGb;
    }
    if (change.vcpus !== undefined) vm.vcpus = change.vcpus;
    if (change.memoryMb !== undefined) vm.memoryMb = change.memoryMb;
    return vm;
  }

  /** Removes a stopped VM and its snapshots. */
  delete(name: string): Vm {
    const vm = this.get(name);
    if (vm.power === 'running') {
      throw new LabError(`VM "${name}" is running; stop it with stop_vm before deleting it.`);
    }
    this.vms.delete(name);
    return vm;
  }

  /** A short-lived console credential, as a hypervisor's console proxy would hand out. */
  consoleTicket(name: string, protocol: 'vnc' | 'spice' | 'rdp'): ConsoleTicket {
    const vm = this.requireRunning(name, 'opening its console');
    const index = this.list().findIndex((v) => v.name === vm.name);
    const basePort = { vnc: 5900, spice: 3128, rdp: 3389 }[protocol];
    return {
      vm: vm.name,
      protocol,
      host: 'console.lab.local',
      port: protocol === 'rdp' ? basePort : basePort + index,
      ticket: `LABCON:${vm.name}:${randomBytes(12).toString('hex')}`,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    };
  }
}

/** A console ticket as returned by get_vm_console_ticket. */
export interface ConsoleTicket {
  vm: string;
  protocol: 'vnc' | 'spice' | 'rdp';
  host: string;
  port: number;
  ticket: string;
  expiresAt: string;
}
