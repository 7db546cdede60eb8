// Socket Mode: the same Slack app with no HTTP route; clicks arrive as envelopes over the WebSocket
// the fake Slack hands out from apps.connections.open.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useSlackRigs } from '../helpers/slack-rig.js';
import { blockActionPayload } from '../helpers/slack-signing.js';

const rigs = useSlackRigs();
const rig = rigs.rig;

describe('Slack in Socket Mode', () => {
  test('has no HTTP route, keeps retrying while Slack refuses, and closes cleanly', async () => {
    const r = await rig({ socketMode: true });
    assert.equal(r.slack.mode, 'socket');
    assert.equal(r.slack.router, undefined);
    // The fake refuses apps.connections.open until Socket Mode is served: start() returned anyway,
    // and the connection is retried with backoff.
    const opens = () => r.fake.callsOf('apps.connections.open');
    await r.fake.until(() => opens().length >= 2 || undefined, 10_000);
    assert.ok(opens().every((c) => c.error === 'invalid_auth'));
    assert.equal(opens()[0]!.token, 'xapp-test');
    const { id } = r.hold();
    await r.posted(id);
  });

  test('a click over the socket is acked and decides the request', async () => {
    const r = await rig({ socketMode: true });
    const socket = r.fake.socketMode();
    // The first refused attempt is retried after about a second.
    await socket.waitConnected(15_000);
    const { id, result } = r.hold();
    await r.posted(id);
    const ack = await socket.send(
      'interactive',
      blockActionPayload({ user: { id: 'U0ALICE' }, actionId: 'airlock_approve', value: id }),
    );
    assert.ok(ack.envelope_id);
    assert.deepEqual((await result).content, [{ type: 'text', text: 'started web-01' }]);
    await r.messageWhen(id, (b) => b.includes('Ran in'));
  });
});
