import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { AirlockError } from '../../src/core/errors.js';
import { UpstreamPool } from '../../src/upstream/upstream-pool.js';
import { CapturedLog, RecordingHooks, fixtureConfig, labConfig } from '../fixtures/upstreams/harness.js';

describe('upstream pool', () => {
  it('refuses two servers offering the same tool names, and closes what it started', async () => {
    const pool = new UpstreamPool(
      { lab: labConfig(), lab2: labConfig() },
      new RecordingHooks(),
      new CapturedLog().logger,
    );
    await assert.rejects(pool.start(), (err: unknown) => {
      assert.ok(err instanceof AirlockError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(
        err.message,
        'Tools "list_vms", "start_vm", "stop_vm" and 5 more are offered by servers "lab" and "lab2"; set "toolPrefix" on one of them',
      );
      return true;
    });
    assert.deepEqual(
      pool.list().map((c) => c.state),
      ['closed', 'closed'],
    );
  });

  it('exposes prefixed names and resolves them back to server and upstream name', async () => {
    const pool = new UpstreamPool(
      { lab: labConfig(), lab2: labConfig({ toolPrefix: 'b_' }), fx: fixtureConfig({ toolPrefix: 'fx_' }) },
      new RecordingHooks(),
      new CapturedLog().logger,
    );
    await pool.start();
    try {
      const names = pool.exposedTools().map((t) => `${t.server}:${t.tool.name}`);
      assert.equal(names.length, 8 + 8 + 8);
      assert.ok(names.includes('lab:start_vm'));
      assert.ok(names.includes('lab2:b_start_vm'));
      assert.ok(names.includes('fx:fx_echo'));
      assert.deepEqual(pool.resolveTool('b_start_vm'), { server: 'lab2', tool: 'start_vm' });
      assert.deepEqual(pool.resolveTool('start_vm'), { server: 'lab', tool: 'start_vm' });
      assert.equal(pool.resolveTool('nope'), undefined);
      // The exposed tool keeps everything else the upstream said about it.
      const prefixed = pool.exposedTools().find((t) => t.tool.name === 'b_delete_vm')!.tool;
      assert.equal(prefixed.annotations?.destructiveHint, true);

      assert.deepEqual(
        pool.exposedPrompts().map((p) => p.prompt.name),
        ['fx_p1', 'fx_p2', 'fx_p3', 'fx_p4'],
      );
      assert.deepEqual(pool.resolvePrompt('fx_p2'), { server: 'fx', prompt: 'p2' });

      // Two processes, two labs: starting kali-01 in one leaves the other's stopped.
      const target = pool.resolveTool('b_start_vm')!;
      await pool.get(target.server)!.callTool({ name: target.tool, arguments: { vm_name: 'kali-01' } });
      const other = await pool.get('lab')!.callTool({ name: 'list_vms', arguments: { power: 'stopped' } });
      assert.deepEqual(
        (other.structuredContent as { vms: { name: string }[] }).vms.map((v) => v.name),
        ['kali-01'],
      );
    } finally {
      await pool.close();
    }
  });

  it('a name that clashes later stays with the server that had it, and the clash is logged', async () => {
    const log = new CapturedLog();
    const pool = new UpstreamPool(
      { lab: labConfig(), fx: fixtureConfig() },
      new RecordingHooks(),
      log.logger,
    );
    await pool.start();
    try {
      let changed = once(pool, 'tools-changed');
      await pool.get('fx')!.callTool({ name: 'add_tool', arguments: { name: 'list_vms' } });
      await changed;
      assert.deepEqual(pool.resolveTool('list_vms'), { server: 'lab', tool: 'list_vms' });
      const line = await log.waitFor((l) => l.level === 50);
      assert.equal(
        line.msg,
        'Tool "list_vms" is offered by servers "lab" and "fx"; set "toolPrefix" on one of them; keeping the one from "lab"',
      );

      changed = once(pool, 'tools-changed');
      await pool.get('fx')!.callTool({ name: 'add_tool', arguments: { name: 'fresh_tool' } });
      await changed;
      assert.deepEqual(pool.resolveTool('fresh_tool'), { server: 'fx', tool: 'fresh_tool' });
    } finally {
      await pool.close();
    }
  });

  it('starts even when a server is down, and reports state changes per server', async () => {
    const pool = new UpstreamPool(
      {
        lab: labConfig(),
        broken: { kind: 'stdio', command: 'airlock-no-such-command', args: [], env: {}, timeoutMs: 1000 },
      },
      new RecordingHooks(),
      new CapturedLog().logger,
    );
    const states: string[] = [];
    pool.on('state', (server, state) => states.push(`${server}:${state}`));
    await pool.start();
    try {
      assert.equal(pool.get('lab')!.state, 'ready');
      assert.equal(pool.get('broken')!.state, 'down');
      assert.ok(states.includes('lab:ready'));
      assert.ok(states.includes('broken:down'));
      assert.equal(pool.exposedTools().length, 8);
    } finally {
      await pool.close();
    }
  });
});
