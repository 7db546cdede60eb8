import type { Vm } from './lab-state.js';

/** Outcome of one check, worst last. */
export type CheckStatus = 'ok' | 'warning' | 'critical';

/** The checks health_checks can run. */
export const CHECK_NAMES = ['ping', 'services', 'disk', 'memory'] as const;

/** One of CHECK_NAMES. */
export type CheckName = (typeof CHECK_NAMES)[number];

/** Health of one VM. */
export interface VmHealth {
  vm: string;
  status: CheckStatus;
  checks: { name: CheckName; status: CheckStatus; detail: string }[];
}

const RANK: Record<CheckStatus, number> = { ok: 0, warning: 1, critical: 2 };

/** Runs the requested checks against a VM's simulated state; a stopped VM fails every check. */
export function checkVm(vm: Vm, checks: readonly CheckName[]): VmHealth {
  const results = checks.map((name) => {
    if (vm.power !== 'running') {
      return { name, status: 'critical' as const, detail: 'VM is stopped' };
    }
    switch (name) {
      case 'ping':
        return { name, status: 'ok' as const, detail: `${vm.ip} answered 3/3, avg 0.4 ms` };
      case 'services':
        return { name, status: 'ok' as const, detail: `${vm.services.join(', ')} listening` };
      case 'disk': {
        const pct = Math.round(vm.diskUsed * 100);
        const status: CheckStatus = pct >= 90 ? 'critical' : pct >= 80 ? 'warning' : 'ok';
        return { name, status, detail: `${pct}% of ${vm.diskGb} GB used` };
      }
      case 'memory': {
        // Bigger VMs run bigger workloads; a plausible figure without pretending to measure.
        const pct = Math.min(95, 35 + Math.round(Math.log2(vm.memoryMb / 1024) * 8));
        const status: CheckStatus = pct >= 90 ? 'critical' : pct >= 85 ? 'warning' : 'ok';
        return { name, status, detail: `${pct}% of ${vm.memoryMb} MB in use` };
      }
    }
  });
  const status = results.reduce<CheckStatus>(
    (worst, r) => (RANK[r.status] > RANK[worst] ? r.status : worst),
    'ok',
  );
  return { vm: vm.name, status, checks: results };
}
