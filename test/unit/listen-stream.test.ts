// The listen hub on its own: filters, the honoured subset, fan-out and coalescing, policy reloads,
// resource subscriptions counted across streams, and the graceful end. Its dependencies are plain
// functions, so the test hands it its own.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { ListenHub, SUBSCRIPTION_ID_META_KEY, type ListenSink } from '../../src/agent/listen-stream.js';
import { createLogger } from '../../src/log.js';

interface Rig {
  hub: ListenHub;
  tools: Record<string, unknown[]>;
  subscribed: string[];
  unsubscribed: string[];
}

function rig(features = { prompts: true, resources: true }, subscribable = ['a://x']): Rig {
  const r: Rig = { tools: { bot: [{ name: 't1' }] }, subscribed: [], unsubscribed: [], hub: undefined! };
  r.hub = new ListenHub({
    listTools: (agent) => r.tools[agent] ?? [],
    features: () => features,
    subscribeResource: async (uri) => {
      if (!subscribable.includes(uri)) return false;
      r.subscribed.push(uri);
      return true;
    },
    unsubscribeResource: async (uri) => void r.unsubscribed.push(uri),
    logger: createLogger('silent'),
  });
  return r;
}

function sink(): ListenSink & { got: any[]; ended: any[] } {
  const got: any[] = [];
  const ended: any[] = [];
  return { got, ended, notify: (m) => got.push(m), end: (m) => ended.push(m) };
}

const live = () => new AbortController().signal;
const methods = (s: { got: any[] }) => s.got.map((m) => m.method);
/** Resolves after the hub's end-of-turn flush. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ListenHub.parseFilter', () => {
  it('takes the four filter keys and ignores unknown ones', () => {
    const r = ListenHub.parseFilter({
      notifications: {
        toolsListChanged: true,
        promptsListChanged: false,
        resourceSubscriptions: ['a', 'a'],
        x: 1,
      },
    });
    assert.deepEqual(r, { ok: true, filter: { toolsListChanged: true, resourceSubscriptions: ['a'] } });
    assert.deepEqual(ListenHub.parseFilter({}), { ok: true, filter: {} });
  });

  it('names what is wrong', () => {
    const bad = [
      [{ notifications: [] }, /notifications must be an object/],
      [{ notifications: { toolsListChanged: 1 } }, /toolsListChanged must be a boolean/],
      [{ notifications: { resourceSubscriptions: 'a' } }, /resourceSubscriptions must be an array/],
      [{ notifications: { resourceSubscriptions: [''] } }, /resourceSubscriptions must be an array/],
      [
        { notifications: { resourceSubscriptions: Array.from({ length: 1001 }, (_, i) => `u${i}`) } },
        /at most 1000/,
      ],
    ] as const;
    for (const [params, message] of bad) {
      const r = ListenHub.parseFilter(params);
      assert.ok(!r.ok);
      assert.match(r.message, message);
    }
  });
});

describe('ListenHub.parseFilter taskIds', () => {
  it('takes task ids (deduplicated) from a request that declared the tasks extension', () => {
    const r = ListenHub.parseFilter({ notifications: { taskIds: ['tk_a', 'tk_a', 'tk_b'] } }, true);
    assert.deepEqual(r, { ok: true, filter: { taskIds: ['tk_a', 'tk_b'] } });
  });

  it('answers -32021 without the extension, -32602 for a malformed or oversized list', () => {
    const missing = ListenHub.parseFilter({ notifications: { taskIds: ['tk_a'] } });
    assert.ok(!missing.ok);
    assert.equal(missing.error.code, -32021);
    assert.deepEqual(missing.error.data, {
      requiredCapabilities: { extensions: { 'io.modelcontextprotocol/tasks': {} } },
    });
    for (const taskIds of ['tk_a', [1], [''], Array.from({ length: 1001 }, (_, i) => `tk_${i}`)]) {
      const r = ListenHub.parseFilter({ notifications: { taskIds } }, true);
      assert.ok(!r.ok);
      assert.equal(r.error.code, -32602);
    }
  });
});

describe('ListenHub', () => {
  it('acknowledges the honoured subset first, tagged with the subscription id', async () => {
    const { hub } = rig({ prompts: false, resources: true });
    const s = sink();
    await hub.open(
      'bot',
      7,
      { toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: ['a://x', 'b://y'] },
      s,
      live(),
    );
    assert.deepEqual(s.got, [
      {
        jsonrpc: '2.0',
        method: 'notifications/subscriptions/acknowledged',
        params: {
          notifications: { toolsListChanged: true, resourceSubscriptions: ['a://x'] },
          _meta: { [SUBSCRIPTION_ID_META_KEY]: 7 },
        },
      },
    ]);
  });

  it('sends each list change once per turn, only to the streams that asked for it', async () => {
    const { hub } = rig();
    const tools = sink();
    const prompts = sink();
    await hub.open('bot', 1, { toolsListChanged: true }, tools, live());
    await hub.open('bot', 2, { promptsListChanged: true }, prompts, live());
    // A real change: the pool saw the list differ, then the upstream's own notification follows.
    hub.listChanged('notifications/tools/list_changed');
    hub.upstreamNotification({ method: 'notifications/tools/list_changed' });
    await turn();
    assert.deepEqual(methods(tools).slice(1), ['notifications/tools/list_changed']);
    assert.equal(tools.got[1].params._meta[SUBSCRIPTION_ID_META_KEY], 1);
    assert.deepEqual(methods(prompts).slice(1), []);
    hub.upstreamNotification({ method: 'notifications/prompts/list_changed' });
    await turn();
    assert.deepEqual(methods(prompts).slice(1), ['notifications/prompts/list_changed']);
    assert.deepEqual(methods(tools).slice(1), ['notifications/tools/list_changed']);
  });

  it('tells a policy reload only to streams whose agent now sees other tools', async () => {
    const r = rig();
    r.tools['ops'] = [{ name: 'o1' }];
    const bot = sink();
    const ops = sink();
    await r.hub.open('bot', 'b', { toolsListChanged: true }, bot, live());
    await r.hub.open('ops', 'o', { toolsListChanged: true }, ops, live());
    r.tools['bot'] = [{ name: 't1' }, { name: 't2' }];
    r.hub.policyChanged();
    r.hub.policyChanged();
    assert.deepEqual(methods(bot).slice(1), ['notifications/tools/list_changed']);
    assert.deepEqual(methods(ops).slice(1), []);
  });

  it('routes resource updates by URI and subscribes upstream once per URI', async () => {
    const r = rig();
    const a = sink();
    const b = sink();
    const ha = await r.hub.open('bot', 1, { resourceSubscriptions: ['a://x'] }, a, live());
    const hb = await r.hub.open('bot', 2, { resourceSubscriptions: ['a://x'] }, b, live());
    assert.deepEqual(r.subscribed, ['a://x']);
    r.hub.upstreamNotification({ method: 'notifications/resources/updated', params: { uri: 'a://x' } });
    r.hub.upstreamNotification({ method: 'notifications/resources/updated', params: { uri: 'a://z' } });
    assert.deepEqual(a.got[1], {
      jsonrpc: '2.0',
      method: 'notifications/resources/updated',
      params: { uri: 'a://x', _meta: { [SUBSCRIPTION_ID_META_KEY]: 1 } },
    });
    assert.equal(b.got.length, 2);
    ha.close();
    assert.deepEqual(r.unsubscribed, [], 'the other stream still needs it');
    const closed = once(r.hub, 'closed');
    hb.close();
    assert.deepEqual(await closed, [0]);
    assert.deepEqual(r.unsubscribed, ['a://x']);
  });

  it('a closed stream hears nothing more; shutdown ends the rest with the completion response', async () => {
    const { hub } = rig();
    const gone = sink();
    const open = sink();
    (await hub.open('bot', 1, { toolsListChanged: true }, gone, live())).close();
    await hub.open('bot', 2, { toolsListChanged: true }, open, live());
    hub.listChanged('notifications/tools/list_changed');
    await hub.closeAll();
    await turn();
    assert.equal(gone.got.length, 1, 'only its ack');
    assert.equal(open.got.length, 1, 'a change pending at shutdown is dropped');
    assert.deepEqual(open.ended, [
      { jsonrpc: '2.0', id: 2, result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: 2 } } },
    ]);
    assert.equal(hub.size, 0);
    const late = sink();
    await hub.open('bot', 3, { toolsListChanged: true }, late, live());
    assert.deepEqual([late.got.length, late.ended.length], [0, 1], 'opened during shutdown: ended at once');
  });
});

describe('ListenHub task streams', () => {
  /** A hub whose followTask knows `bot`'s tasks, calls a change before following resolves, and counts stops. */
  function taskRig() {
    const changes = new Map<string, (task: Record<string, unknown>) => void>();
    const stopped: string[] = [];
    const hub = new ListenHub({
      listTools: () => [],
      features: () => ({ prompts: false, resources: false }),
      subscribeResource: async () => false,
      unsubscribeResource: async () => {},
      followTask: async (id, agent, onChange) => {
        if (agent !== 'bot' || !id.startsWith('tk_bot')) return undefined;
        changes.set(id, onChange);
        // A change heard while the stream is still being opened: held for after the ack.
        if (id === 'tk_bot_early') onChange({ taskId: id, status: 'completed' });
        return { task: { taskId: id, status: 'working' }, stop: () => stopped.push(id) };
      },
      logger: createLogger('silent'),
    });
    return { hub, changes, stopped };
  }

  it('acknowledges only the agent’s tasks, then sends each as it stands, then its changes, tagged', async () => {
    const { hub, changes, stopped } = taskRig();
    const s = sink();
    const handle = await hub.open('bot', 5, { taskIds: ['tk_bot_1', 'tk_other', 'tk_bot_early'] }, s, live());
    assert.deepEqual(s.got[0].params.notifications, { taskIds: ['tk_bot_1', 'tk_bot_early'] });
    assert.deepEqual(
      s.got.slice(1).map((m) => [m.method, m.params.taskId, m.params.status]),
      [
        ['notifications/tasks', 'tk_bot_1', 'working'],
        ['notifications/tasks', 'tk_bot_early', 'completed'],
      ],
    );
    changes.get('tk_bot_1')!({ taskId: 'tk_bot_1', status: 'completed', result: { content: [] } });
    const last = s.got.at(-1);
    assert.equal(last.method, 'notifications/tasks');
    assert.deepEqual(last.params, {
      taskId: 'tk_bot_1',
      status: 'completed',
      result: { content: [] },
      _meta: { [SUBSCRIPTION_ID_META_KEY]: 5 },
    });
    handle.close();
    assert.deepEqual(stopped.sort(), ['tk_bot_1', 'tk_bot_early']);
  });

  it('acknowledges taskIds empty when tasks cannot be followed', async () => {
    const { hub } = rig();
    const s = sink();
    await hub.open('bot', 6, { taskIds: ['tk_bot_1'] }, s, live());
    assert.deepEqual(s.got[0].params.notifications, { taskIds: [] });
  });
});
