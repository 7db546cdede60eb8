import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRequestId, newRequestId, REQUEST_ID_PATTERN } from '../../src/core/approval/request-id.js';

describe('newRequestId', () => {
  it('is ar_ and 20 url-safe characters', () => {
    for (let i = 0; i < 200; i++) {
      const id = newRequestId();
      assert.match(id, /^ar_[A-Za-z0-9_-]{20}$/);
      assert.equal(encodeURIComponent(id), id);
      assert.ok(isRequestId(id));
    }
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newRequestId()));
    assert.equal(ids.size, 10_000);
  });
});

describe('isRequestId', () => {
  it('refuses anything not shaped like an id', () => {
    for (const bad of [
      '',
      'ar_',
      'ar_short',
      `ar_${'a'.repeat(21)}`,
      `AR_${'a'.repeat(20)}`,
      `ar_${'a'.repeat(19)}!`,
      `ar_${'a'.repeat(20)}\n`,
      42,
      null,
      undefined,
    ]) {
      assert.equal(isRequestId(bad), false, String(bad));
    }
    assert.ok(REQUEST_ID_PATTERN.test(`ar_${'-_'.repeat(10)}`));
  });
});
