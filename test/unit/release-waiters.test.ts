import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReleaseWaiters } from '../../src/approval/release-waiters.js';

const never = new AbortController().signal;

test('a change announced while the waiter is busy re-reading is not lost', async () => {
  const waiters = new ReleaseWaiters();
  const watch = waiters.watch('ar_1');
  const seen = watch.changes;
  waiters.wake('ar_1'); // arrives between two waits, when nobody is sleeping
  const started = performance.now();
  assert.equal(await watch.wait(seen, 60_000, never), true);
  assert.ok(performance.now() - started < 1000, 'returned at once instead of sleeping out the interval');
  watch.close();
});

test('a wait wakes on the next change of its own request only, or times out, or aborts', async () => {
  const waiters = new ReleaseWaiters();
  const watch = waiters.watch('ar_1');
  const woken = watch.wait(watch.changes, 60_000, never);
  waiters.wake('ar_other');
  waiters.wake('ar_1');
  assert.equal(await woken, true);
  assert.equal(await watch.wait(watch.changes, 10, never), false, 'timeout');
  const abort = new AbortController();
  const aborted = watch.wait(watch.changes, 60_000, abort.signal);
  abort.abort();
  assert.equal(await aborted, false);
  watch.close();
  waiters.wake('ar_1'); // no watch left: nothing to do, nothing kept
});
