// A parked call on its own: questions asked together go out in one round, answers resolve them, unknown
// keys are ignored, and a call nobody comes back for is cancelled after its idle time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { ParkedCalls } from '../../src/agent/pending-input.js';

const never = new AbortController().signal;

test('questions asked together are one round; answers reach the upstream; the end is the last round', async () => {
  const calls = new ParkedCalls<string>(60_000);
  const call = calls.open('agent-a');
  assert.equal(calls.get(call.id, 'agent-b'), undefined, "another agent's id finds nothing");
  assert.equal(calls.get(call.id, 'agent-a'), call);
  const answers: Promise<Record<string, unknown>>[] = [];
  call.run(async () => {
    answers.push(call.ask({ method: 'roots/list' }, never));
    answers.push(call.ask({ method: 'elicitation/create', params: { message: 'Name?' } }, never));
    const got = await Promise.all(answers);
    return JSON.stringify(got);
  });
  const round = await call.next(never, () => {});
  assert.equal(round.kind, 'input');
  const keys = Object.keys(round.kind === 'input' ? round.inputRequests : {});
  assert.equal(keys.length, 2);
  call.answer({ [keys[0]!]: { roots: [] }, unknown: { x: 1 } });
  const again = await call.next(never, () => {});
  assert.deepEqual(again.kind === 'input' && Object.keys(again.inputRequests), [keys[1]]);
  call.answer({ [keys[1]!]: { action: 'decline' } });
  const end = await call.next(never, () => {});
  assert.deepEqual(end, { kind: 'settled', ok: true, value: '[{"roots":[]},{"action":"decline"}]' });
  assert.equal(calls.get(call.id, 'agent-a'), undefined);
});

test('a parked call nobody comes back for is cancelled and forgotten after its idle time', async () => {
  const calls = new ParkedCalls<string>(50);
  let gone = false;
  const call = calls.open('agent-a', () => (gone = true));
  const question = call.ask.bind(call);
  call.run(async (signal) => {
    await question({ method: 'elicitation/create', params: { message: 'Anyone?' } }, never).catch(() => {});
    if (!signal.aborted) await once(signal, 'abort');
    throw signal.reason;
  });
  assert.equal((await call.next(never, () => {})).kind, 'input');
  // The idle timer does not hold the process open (it is unref'd); this test's wait must.
  const alive = setInterval(() => {}, 1_000);
  await once(call.signal, 'abort').finally(() => clearInterval(alive));
  assert.match(String((call.signal.reason as Error).message), /did not answer the upstream in time/);
  assert.equal(gone, true);
  assert.equal(calls.get(call.id, 'agent-a'), undefined);
});

test("the waiting request's cancellation cancels the call", async () => {
  const call = new ParkedCalls<string>(60_000).open('agent-a');
  call.run(
    (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
  );
  const request = new AbortController();
  const round = call.next(request.signal, () => {});
  request.abort(new Error('client closed the stream'));
  const end = await round;
  assert.equal(end.kind === 'settled' && !end.ok && (end.error as Error).message, 'client closed the stream');
});
