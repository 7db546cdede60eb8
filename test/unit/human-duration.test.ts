import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration } from '../../src/core/human-duration.js';

test('humanDuration rounds to the two largest units people read at a glance', () => {
  assert.equal(humanDuration(-5), '0s');
  assert.equal(humanDuration(999), '1s');
  assert.equal(humanDuration(50_000), '50s');
  assert.equal(humanDuration(14 * 60_000 + 20_000), '14m');
  assert.equal(humanDuration(3_600_000), '1h');
  assert.equal(humanDuration(3_900_000), '1h 5m');
  assert.equal(humanDuration(2 * 86_400_000 + 3 * 3_600_000), '2d 3h');
});
