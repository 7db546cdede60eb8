import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration } from '../../src/core/human-duration.js';

test('humanDuration shows at most the two largest units people read at a glance', () => {
  assert.equal(humanDuration(-5), '0ms');
  assert.equal(humanDuration(850), '850ms');
  assert.equal(humanDuration(999.6), '1s');
  assert.equal(humanDuration(1_500), '1.5s');
  assert.equal(humanDuration(2_000), '2s');
  assert.equal(humanDuration(9_960), '10s');
  assert.equal(humanDuration(50_000), '50s');
  assert.equal(humanDuration(59_600), '1m');
  assert.equal(humanDuration(14 * 60_000 + 20_000), '14m 20s');
  assert.equal(humanDuration(900_000), '15m');
  assert.equal(humanDuration(3_600_000), '1h');
  assert.equal(humanDuration(3_900_000), '1h 5m');
  assert.equal(humanDuration(5_400_000), '1h 30m');
  assert.equal(humanDuration(2 * 86_400_000 + 3 * 3_600_000), '2d 3h');
});
