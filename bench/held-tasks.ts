// Section "held-tasks": calls held for approval as tasks (2026-07-28 agents that negotiate
// io.modelcontextprotocol/tasks). Each call returns a CreateTaskResult at once and keeps no connection in
// the gateway, so what a held call costs is its Redis record (approval request + task) and whatever the
// gateway keeps per task in memory, measured as heap and RSS after a full GC, before and after.
import { BENCH_TOKEN } from './mcp-load.js';
import { startHoldingGateway, usedMemory } from './held.js';
import { gcProbe, rssKiB } from './procs.js';
import { fmt, round, sleep, table, type Row } from './stats.js';

const MODERN = '2026-07-28';
const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';
/** Task calls in flight at once while filling. */
const IN_FLIGHT = 32;

/** What the section reports. */
export interface HeldTasksResult {
  tasks: number;
  failures: number;
  secondsToAllCreated: number;
  /** V8 heap retained per held task after a full GC (delta / tasks). */
  heapUsedPerTaskKiB: number;
  /** Buffers retained per held task after a full GC. */
  externalPerTaskKiB: number;
  /** RSS growth per held task, after the full GC. */
  rssPerTaskKiB: number;
  /** Redis used_memory growth per held task (approval request, task, indexes, BullMQ jobs). */
  redisBytesPerTask: number;
  targets: {
    /** The long-poll goal of issue 8 applied to tasks: at most 16 KiB live per held call. */
    liveAtMost16KiBPerTask: boolean;
  };
}

/** One held call as a task; resolves with its task id. */
async function createTask(mcpUrl: string, id: number): Promise<string> {
  const res = await fetch(mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${BENCH_TOKEN}`,
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: {
        name: 'echo',
        arguments: { message: `task-${id}` },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN,
          'io.modelcontextprotocol/clientInfo': { name: 'bench-tasks', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS_EXTENSION]: {} } },
        },
      },
    }),
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .pop()
        ?.slice(5)
    : text;
  const msg = JSON.parse(json ?? 'null') as { result?: { resultType?: string; taskId?: string } };
  const taskId = msg?.result?.resultType === 'task' ? msg.result.taskId : undefined;
  if (!taskId) throw new Error(`held-tasks: no task (HTTP ${res.status}): ${text.slice(0, 200)}`);
  return taskId;
}

/** Holds `total` calls as tasks in a fresh Airlock on a dedicated Redis and measures what they cost. */
export async function benchHeldTasks(total = 2000): Promise<{ result: HeldTasksResult; text: string }> {
  const { airlock, admin, stop } = await startHoldingGateway('held-tasks', 'bench-tasks', '1h');
  try {
    // Warm up the task path so lazily loaded code is in the "before" figures.
    for (let i = 0; i < 20; i++) await createTask(airlock.mcpUrl, -1 - i);
    await sleep(500);
    const gcBefore = await gcProbe(airlock);
    const rssBefore = rssKiB(airlock.pid);
    const usedBefore = await usedMemory(admin);
    let failures = 0;
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < total) {
        const id = ++next;
        await createTask(airlock.mcpUrl, id).catch(() => void failures++);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const secondsToAllCreated = (performance.now() - t0) / 1000;
    await sleep(2000); // let follow-up work (Slack-less notify jobs, history, audit) settle
    const usedAfter = await usedMemory(admin);
    const gcAfter = await gcProbe(airlock);
    const rssAfter = rssKiB(airlock.pid);
    const n = Math.max(1, total - failures);
    const heap = round((gcAfter.heapUsed - gcBefore.heapUsed) / 1024 / n, 2);
    const external = round((gcAfter.external - gcBefore.external) / 1024 / n, 2);
    const redisBytes = Math.round((usedAfter - usedBefore) / n);
    const result: HeldTasksResult = {
      tasks: n,
      failures,
      secondsToAllCreated: round(secondsToAllCreated, 1),
      heapUsedPerTaskKiB: heap,
      externalPerTaskKiB: external,
      rssPerTaskKiB: round((rssAfter - rssBefore) / n, 2),
      redisBytesPerTask: redisBytes,
      targets: {
        liveAtMost16KiBPerTask: heap + external <= 16,
      },
    };
    const rows: Row[] = [
      { label: 'held tasks (failures)', value: `${n} (${failures})` },
      { label: 'seconds to create all', value: fmt(result.secondsToAllCreated, 1) },
      {
        label: 'gateway heap + buffers per task, after full GC',
        value: fmt(heap + external, 2, ' KiB'),
        target: '≤ 16 KiB',
        pass: result.targets.liveAtMost16KiBPerTask,
      },
      { label: 'gateway RSS growth per task', value: fmt(result.rssPerTaskKiB, 2, ' KiB') },
      {
        label: 'Redis per task (request, task, indexes, jobs)',
        value: fmt(redisBytes / 1024, 2, ' KiB'),
      },
    ];
    const notes = [
      'A held task keeps no connection open: the agent polls tasks/get on any replica.',
      'Redis bytes are used_memory growth of a Redis only this gateway uses; a task adds its own record',
      'to the approval request a long-poll call keeps (section 4).',
    ];
    return { result, text: table(`4b. ${n} calls held as tasks (2026-07-28, tasks extension)`, rows, notes) };
  } finally {
    await airlock.stop();
    await stop();
  }
}
