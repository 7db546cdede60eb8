import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseWindow, tryParseDuration, tryParseWindow } from '../../src/core/policy/index.js';

describe('parseDuration', () => {
  it('reads every unit', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('50s'), 50_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('2d'), 172_800_000);
  });

  it('reads compound and fractional durations', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1.5s'), 1_500);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '15', 'm', '15 m', '15min', '-5s', '0s', 'soon', '1h 30m', '5w', '15M']) {
      assert.equal(tryParseDuration(bad), undefined, bad);
      assert.throws(() => parseDuration(bad), RangeError);
    }
  });
});

describe('parseWindow', () => {
  it('reads the named windows', () => {
    assert.equal(parseWindow('second'), 1_000);
    assert.equal(parseWindow('minute'), 60_000);
    assert.equal(parseWindow('hour'), 3_600_000);
    assert.equal(parseWindow('day'), 86_400_000);
  });

  it('reads <n>s|m|h|d', () => {
    assert.equal(parseWindow('30s'), 30_000);
    assert.equal(parseWindow('5m'), 300_000);
    assert.equal(parseWindow('2h'), 7_200_000);
    assert.equal(parseWindow('1d'), 86_400_000);
  });

  it('rejects bad windows', () => {
    for (const bad of ['week', 'minutes', '0s', '05m', '500ms', '1.5h', 'constructor', '', '10', 'm']) {
      assert.equal(tryParseWindow(bad), undefined, bad);
      assert.throws(() => parseWindow(bad), RangeError);
    }
  });
});
