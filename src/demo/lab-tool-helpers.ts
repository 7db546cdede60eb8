import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { LabError, type Vm } from './lab-state.js';

/** Input schema of a VM name, shared by every tool that targets one VM. */
export const vmName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'VM names are lowercase letters, digits and dashes')
  .describe('Name of the VM, as listed by list_vms (e.g. "web-01")');

/** Output schema of one VM in structured results. */
export const vmSummary = z.object({
  name: z.string(),
  os: z.string(),
  role: z.string(),
  power: z.enum(['running', 'stopped']),
  vcpus: z.number(),
  memoryMb: z.number(),
  diskGb: z.number(),
  ip: z.string(),
  interfaces: z.array(z.string()),
  bootedAt: z.string().optional(),
  snapshots: z.array(z.string()),
});

/** The structured-content view of a VM. */
export function summarize(vm: Vm): z.infer<typeof vmSummary> {
  return {
    name: vm.name,
    os: vm.os,
    role: vm.role,
    power: vm.power,
    vcpus: vm.vcpus,
    memoryMb: vm.memoryMb,
    diskGb: vm.diskGb,
    ip: vm.ip,
    interfaces: [...vm.interfaces],
    ...(vm.bootedAt ? { bootedAt: vm.bootedAt } : {}),
    snapshots: vm.snapshots.map((s) => s.name),
  };
}

/** A successful result: text for the model, structured content for programs. */
export function ok(text: string, structuredContent?: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], ...(structuredContent ? { structuredContent } : {}) };
}

/** Runs a tool body; LabErrors are the caller's to fix, so they become tool errors the model can act on. */
export async function guarded(fn: () => CallToolResult | Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LabError) return { content: [{ type: 'text', text: err.message }], isError: true };
    throw err;
  }
}
