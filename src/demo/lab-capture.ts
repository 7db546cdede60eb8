import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { LabError, type Vm } from './lab-state.js';

/** What one simulated packet capture produced. */
export interface CaptureSummary {
  vm: string;
  interface: string;
  filter: string | null;
  durationSeconds: number;
  packets: number;
  bytes: number;
  truncated: boolean;
  protocols: Record<string, number>;
  topTalkers: { src: string; dst: string; packets: number }[];
  pcapPath: string;
  startedAt: string;
  finishedAt: string;
}

/** How a capture reports progress and learns it was cancelled. */
export interface CaptureOptions {
  /** Real seconds per simulated second (0.1: a 5 s capture takes 0.5 s). */
  timeScale: number;
  signal: AbortSignal;
  onProgress(progress: { progress: number; total: number; message: string }): Promise<void>;
}

// Characters tcpdump's filter language uses; anything else (quotes, `;`, `$`) is refused, as a real
// wrapper would refuse it before passing the string to a shell.
const BPF_CHARS = /^[A-Za-z0-9 .:/()!<>=&|\-[\]]*$/;

/** Rejects filters that tcpdump would not compile; returns the normalized filter or null for none. */
export function checkBpfFilter(filter: string | undefined): string | null {
  if (filter === undefined || filter.trim() === '') return null;
  const f = filter.trim().replace(/\s+/g, ' ');
  if (!BPF_CHARS.test(f)) {
    throw new LabError(
      `Invalid BPF filter "${filter}": only letters, digits, spaces and . : / ( ) ! < > = & | - [ ] are allowed.`,
    );
  }
  let depth = 0;
  for (const ch of f) {
    depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
    if (depth < 0) break;
  }
  if (depth !== 0) throw new LabError(`Invalid BPF filter "${filter}": unbalanced parentheses.`);
  if (/(^|\s)(and|or|&&|\|\|)$/.test(f) || /^(and|or|&&|\|\|)(\s|$)/.test(f)) {
    throw new LabError(`Invalid BPF filter "${filter}": an "and"/"or" is missing an operand.`);
  }
  return f;
}

/** Deterministic pseudo-random numbers so the same capture request gives stable, plausible figures. */
function seeded(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0) || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
}

/** Which protocols a filter lets through, so the summary agrees with what was asked for. */
function protocolsFor(filter: string | null): string[] {
  const all = ['tcp', 'udp', 'icmp', 'arp'];
  if (!filter) return all;
  const named = all.filter((p) => new RegExp(`\\b${p}\\b`).test(filter));
  if (/\bport\b/.test(filter) && named.length === 0) return ['tcp', 'udp'];
  return named.length > 0 ? named : all;
}

/** Simulates tcpdump on a VM interface, reporting progress each step and stopping when cancelled. */
export async function simulateCapture(
  vm: Vm,
  iface: string,
  durationSeconds: number,
  filter: string | null,
  maxPackets: number,
  options: CaptureOptions,
): Promise<CaptureSummary> {
  const startedAt = new Date();
  const random = seeded(`${vm.name}|${iface}|${filter ?? ''}|${durationSeconds}`);
  const ratePerSecond = Math.round((filter ? 40 : 400) * (0.5 + random()));
  // At most 20 progress steps, so long captures don't flood the client with notifications.
  const steps = Math.max(1, Math.min(20, durationSeconds));
  const stepSeconds = durationSeconds / steps;
  let packets = 0;
  for (let step = 1; step <= steps; step++) {
    await delay(stepSeconds * 1000 * options.timeScale, undefined, { signal: options.signal });
    packets = Math.min(maxPackets, Math.round(ratePerSecond * stepSeconds * step));
    const elapsed = Math.round(stepSeconds * step * 10) / 10;
    await options.onProgress({
      progress: elapsed,
      total: durationSeconds,
      message: `Captured ${packets} packets on ${vm.name}/${iface} (${elapsed}/${durationSeconds} s)`,
    });
    if (packets >= maxPackets) break;
  }

  const protocols: Record<string, number> = {};
  const names = protocolsFor(filter);
  let left = packets;
  names.forEach((p, i) => {
    const share = i === names.length - 1 ? left : Math.round(left * (0.4 + random() * 0.4));
    protocols[p] = share;
    left -= share;
  });
  const peers = ['10.10.0.10', '10.10.0.11', '10.10.0.12', '10.10.0.50', '10.10.0.1'].filter(
    (ip) => ip !== vm.ip,
  );
  const topTalkers = peers.slice(0, 3).map((peer, i) => ({
    src: i % 2 ? peer : vm.ip,
    dst: i % 2 ? vm.ip : peer,
    packets: Math.round(packets / (2 + i)),
  }));
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\..*$/, 'Z');
  return {
    vm: vm.name,
    interface: iface,
    filter,
    durationSeconds,
    packets,
    bytes: packets * Math.round(180 + random() * 600),
    truncated: packets >= maxPackets,
    protocols,
    topTalkers,
    pcapPath: `/srv/lab/captures/${vm.name}-${iface}-${stamp}.pcap`,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
}
