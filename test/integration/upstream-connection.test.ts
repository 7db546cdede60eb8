import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { McpError, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../../src/core/errors.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import {
  CapturedLog,
  RecordingHooks,
  fixtureConfig,
  httpConfig,
  labConfig,
  spawnServer,
  waitForState,
  type ServerProcess,
} from '../fixtures/upstreams/harness.js';

function textOf(result: { content: unknown[] }): string {
  return result.content
    .map((c) => ((c as { type: string }).type === 'text' ? (c as { text: string }).text : ''))
    .join('\n');
}

function isAirlock(code: string, message?: RegExp | string) {
  return (err: unknown) => {
    assert.ok(err instanceof AirlockError, `expected AirlockError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  };
}

describe('upstream connection to the demo lab over stdio', () => {
  const hooks = new RecordingHooks();
  const log = new CapturedLog();
  let lab: UpstreamConnection;

  before(async () => {
    lab = new UpstreamConnection('lab', labConfig(), hooks, log.logger);
    await lab.start();
  });
  after(async () => {
    await lab.close();
  });

  it('initializes, caches tools and logs the child stderr', async () => {
    assert.equal(lab.state, 'ready');
    assert.equal(lab.serverInfo?.name, 'airlock-demo-lab');
    assert.ok(lab.capabilities?.tools);
    assert.ok(lab.instructions?.includes('VM lab'));
    assert.equal(lab.tools().length, 8);
    assert.deepEqual(lab.prompts(), []);
    const line = await log.waitFor((l) => l.server === 'lab' && l.stream === 'stderr');
    assert.equal(line.msg, 'airlock demo lab ready: 4 seeded VMs');
    assert.equal(line.level, 30);
  });

  it('names the server once on each log line of the child stderr', async () => {
    const line = await log.waitFor((l) => l.server === 'lab' && l.stream === 'stderr');
    assert.equal(log.rawOf(line).match(/"server":/g)?.length, 1, log.rawOf(line));
  });

  it('calls tools and passes tool errors through as results', async () => {
    const ok = await lab.callTool({ name: 'list_vms', arguments: { power: 'running' } });
    assert.match(textOf(ok), /3 VM\(s\)/);
    const err = await lab.callTool({ name: 'start_vm', arguments: { vm_name: 'ghost' } });
    assert.equal(err.isError, true);
    assert.match(textOf(err), /Unknown VM "ghost"/);
  });

  it('forwards progress of a long-running tool', async () => {
    const progress: Progress[] = [];
    const result = await lab.callTool(
      { name: 'capture_network_traffic', arguments: { vm_name: 'web-01', duration: 10, filter: 'icmp' } },
      { onprogress: (p) => progress.push(p) },
    );
    assert.equal(result.isError, undefined);
    // The SDK client drops a progress report that arrives in the same read as the response; allow one.
    assert.ok(progress.length >= 9, `got ${progress.length} progress reports`);
    assert.deepEqual(
      progress.slice(0, 9).map((p) => [p.progress, p.total]),
      [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [n, 10]),
    );
  });

  it('passes other requests through unchanged', async () => {
    const pong = await lab.request({ method: 'ping' });
    assert.deepEqual(pong, {});
    await assert.rejects(lab.request({ method: 'resources/list' }), (err: unknown) => {
      assert.ok(err instanceof McpError);
      assert.equal(err.code, -32601); // the lab has no resources: Method not found, as the lab said it
      return true;
    });
  });

  it('aborting a call cancels it upstream', async () => {
    const controller = new AbortController();
    const call = lab.callTool(
      {
        name: 'capture_network_traffic',
        arguments: { vm_name: 'db-01', duration: 3600, max_packets: 1_000_000 },
      },
      { signal: controller.signal, onprogress: () => controller.abort(new Error('agent went away')) },
    );
    await assert.rejects(call, /agent went away/);
    // The lab logs the cancelled capture as an MCP log message, which reaches the hooks.
    const [, message] = await once(hooks, 'notification');
    assert.equal(message.method, 'notifications/message');
    assert.match(String(message.params.data), /cancelled/);
  });

  it('a crash fails the call in flight at once, then restarts the child', async () => {
    const pid = lab.pid;
    assert.ok(pid);
    const started = Date.now();
    const inFlight = lab.callTool(
      {
        name: 'capture_network_traffic',
        arguments: { vm_name: 'web-01', duration: 3600, max_packets: 1_000_000 },
      },
      { onprogress: () => process.kill(pid, 'SIGKILL') },
    );
    await assert.rejects(
      inFlight,
      isAirlock(
        'UPSTREAM_UNAVAILABLE',
        'Upstream server "lab" is unavailable (restarting after it was killed by SIGKILL); try again shortly',
      ),
    );
    assert.ok(Date.now() - started < 5_000, 'rejected promptly, not at the timeout');
    assert.equal(lab.state, 'down');
    await assert.rejects(
      lab.callTool({ name: 'list_vms' }),
      isAirlock('UPSTREAM_UNAVAILABLE', /killed by SIGKILL/),
    );
    await assert.rejects(lab.request({ method: 'ping' }), isAirlock('UPSTREAM_UNAVAILABLE'));

    await waitForState(lab, 'ready');
    assert.notEqual(lab.pid, pid);
    const again = await lab.callTool({ name: 'list_vms' });
    assert.match(textOf(again), /4 VM\(s\)/);
  });
});

describe('upstream connection failure modes (fixture server)', () => {
  const hooks = new RecordingHooks();
  const log = new CapturedLog();
  let fx: UpstreamConnection;

  before(async () => {
    fx = new UpstreamConnection('fx', fixtureConfig({ timeoutMs: 400 }), hooks, log.logger);
    await fx.start();
  });
  after(async () => {
    await fx.close();
  });

  it('follows cursors for tools and prompts', () => {
    assert.deepEqual(
      fx.tools().map((t) => t.name),
      ['echo', 'hang', 'crash', 'slow', 'add_tool', 'fail', 'headers', 'sample'],
    );
    assert.deepEqual(
      fx.prompts().map((p) => p.name),
      ['p1', 'p2', 'p3', 'p4'],
    );
  });

  it('a tool that never answers fails with UPSTREAM_ERROR after timeoutMs', async () => {
    await assert.rejects(
      fx.callTool({ name: 'hang' }),
      isAirlock('UPSTREAM_ERROR', 'Upstream server "fx" did not answer tools/call within 0.4 s'),
    );
    assert.equal(fx.state, 'ready');
    assert.deepEqual((await fx.callTool({ name: 'echo', arguments: { a: 1 } })).structuredContent, { a: 1 });
  });

  it('progress keeps a long call alive past timeoutMs', async () => {
    let reports = 0;
    const result = await fx.callTool(
      { name: 'slow', arguments: { steps: 8, interval_ms: 150 } }, // 1.2 s, three times the timeout
      { onprogress: () => reports++ },
    );
    assert.equal(textOf(result), 'done after 8 steps');
    // The SDK client may drop the last report when it arrives in the same read as the response.
    assert.ok(reports >= 7, `got ${reports} progress reports`);
  });

  it('progress keeps a call alive even when the caller did not ask for progress', async () => {
    const result = await fx.callTool({ name: 'slow', arguments: { steps: 4, interval_ms: 150 } });
    assert.equal(textOf(result), 'done after 4 steps');
  });

  it('JSON-RPC errors from the upstream are rethrown unchanged', async () => {
    await assert.rejects(fx.callTool({ name: 'fail' }), (err: unknown) => {
      assert.ok(err instanceof McpError);
      assert.equal(err.code, -32042);
      assert.match(err.message, /Fixture refuses/);
      assert.deepEqual(err.data, { hint: 'by design' });
      return true;
    });
  });

  it('refreshes tools before forwarding tools/list_changed', async () => {
    let toolsWhenNotified: string[] | undefined;
    hooks.onNotify = (_server, n) => {
      if (n.method === 'notifications/tools/list_changed') toolsWhenNotified = fx.tools().map((t) => t.name);
    };
    const changed = once(fx, 'tools-changed');
    await fx.callTool({ name: 'add_tool', arguments: { name: 'brand_new' } });
    await changed;
    await once(hooks, 'notification');
    assert.ok(toolsWhenNotified?.includes('brand_new'), 'the cache was refreshed before the notification');
    assert.equal(fx.tools().length, 9);
    hooks.onNotify = undefined;
  });

  it('routes sampling requests to hooks.onRequest', async () => {
    const result = await fx.callTool({ name: 'sample' });
    assert.match(textOf(result), /sampled by the agent/);
    const seen = hooks.requests.find((r) => r.request.method === 'sampling/createMessage');
    assert.equal(seen?.server, 'fx');
    assert.ok(seen?.signal instanceof AbortSignal);
  });

  it('a child exiting mid-call reports its exit code', async () => {
    await assert.rejects(
      fx.callTool({ name: 'crash', arguments: { code: 3 } }),
      isAirlock(
        'UPSTREAM_UNAVAILABLE',
        'Upstream server "fx" is unavailable (restarting after it exited with code 3); try again shortly',
      ),
    );
    await waitForState(fx, 'ready');
    assert.equal(fx.tools().length, 8, 'the restarted server has its original tools again');
  });

  it('close() ends the child and later calls say Airlock is shutting down', async () => {
    const closing = new UpstreamConnection('tmp', fixtureConfig(), hooks, log.logger);
    await closing.start();
    const pid = closing.pid;
    assert.ok(pid);
    const states: string[] = [];
    closing.on('state', (s) => states.push(s));
    await closing.close();
    assert.deepEqual(states, ['closed']);
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    await assert.rejects(
      closing.callTool({ name: 'echo' }),
      isAirlock('UPSTREAM_UNAVAILABLE', /shutting down/),
    );
  });
});

describe('upstream that cannot start', () => {
  it('start() resolves, state is down with a clear reason, and it keeps retrying until closed', async () => {
    const log = new CapturedLog();
    const missing = new UpstreamConnection(
      'ghost',
      { kind: 'stdio', command: 'airlock-no-such-command', args: [], env: {}, timeoutMs: 1_000 },
      new RecordingHooks(),
      log.logger,
      { reconnect: { initialMs: 20, maxMs: 40 } },
    );
    await missing.start();
    assert.equal(missing.state, 'down');
    await assert.rejects(
      missing.callTool({ name: 'anything' }),
      isAirlock(
        'UPSTREAM_UNAVAILABLE',
        /^Upstream server "ghost" is unavailable \(its command "airlock-no-such-command" could not be started: spawn airlock-no-such-command ENOENT; retrying\); try again shortly$/,
      ),
    );
    // At least two retries are logged, then close() stops them.
    let retries = 0;
    await log.waitFor((l) => l.msg === 'upstream unavailable; will reconnect' && ++retries >= 3);
    await missing.close();
    assert.equal(missing.state, 'closed');
    assert.deepEqual(missing.tools(), []);
  });

  it('an HTTP upstream nobody listens on is down, and start() still resolves', async () => {
    const down = new UpstreamConnection(
      'nowhere',
      httpConfig('http://127.0.0.1:9/mcp'),
      new RecordingHooks(),
      new CapturedLog().logger,
    );
    await down.start();
    assert.equal(down.state, 'down');
    await assert.rejects(
      down.callTool({ name: 'x' }),
      isAirlock('UPSTREAM_UNAVAILABLE', /connecting failed: fetch failed/),
    );
    await down.close();
  });
});

describe('upstream connection over Streamable HTTP (fixture server)', () => {
  let server: ServerProcess;
  let fx: UpstreamConnection;

  before(async () => {
    server = await spawnServer(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/upstreams/fixture-server.ts', '--http'],
      { PORT: '0' },
      /fixture listening on (\d+)/,
    );
    fx = new UpstreamConnection(
      'fxhttp',
      httpConfig(`http://127.0.0.1:${server.match[1]}/mcp`, {
        headers: { 'X-Airlock-Test': 'header-reached' },
      }),
      new RecordingHooks(),
      new CapturedLog().logger,
    );
    await fx.start();
  });
  after(async () => {
    await fx.close();
    await server.kill();
  });

  it('sends the configured headers with every request', async () => {
    assert.equal(fx.state, 'ready');
    const headers = JSON.parse(textOf(await fx.callTool({ name: 'headers' }))) as Record<string, string>;
    assert.equal(headers['x-airlock-test'], 'header-reached');
    assert.ok(headers['mcp-session-id']);
  });
});
