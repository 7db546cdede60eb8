import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AirlockError,
  ERROR_CODES,
  EXIT,
  codeOfHttpStatus,
  isAirlockErrorCode,
  type AirlockErrorCode,
} from '../../src/core/errors.js';

const codes = Object.keys(ERROR_CODES) as AirlockErrorCode[];

test('exit codes keep the numbers the README documents', () => {
  assert.deepEqual(EXIT, { OK: 0, INVALID: 1, USAGE: 2, UNAVAILABLE: 3, NOT_FOUND: 4, REFUSED: 5 });
});

test("an internal failure answers 5xx and may be retried; the caller's fault answers 4xx", () => {
  for (const code of codes) {
    const { http, internal, retryable } = ERROR_CODES[code];
    if (internal) {
      assert.ok(http >= 500, `${code} is Airlock's failure but answers ${http}`);
      assert.ok(retryable, `${code} is Airlock's failure but is not retryable`);
      // A CLI run that failed on Airlock's or an upstream's side must not exit as if the input were bad.
      assert.equal(
        ERROR_CODES[code].exit,
        EXIT.UNAVAILABLE,
        `${code} is Airlock's failure but exits ${ERROR_CODES[code].exit}`,
      );
    } else {
      assert.ok(http >= 400 && http < 500, `${code} is not Airlock's failure but answers ${http}`);
    }
    assert.equal(new AirlockError(code, 'x').internal, internal);
    assert.equal(new AirlockError(code, 'x').retryable, retryable);
  }
});

test('an HTTP error without an Airlock code stands for one code per status', () => {
  const statuses = codes.filter((c) => ERROR_CODES[c].bareStatus).map((c) => ERROR_CODES[c].http);
  assert.equal(new Set(statuses).size, statuses.length);
  assert.equal(codeOfHttpStatus(400), 'BAD_REQUEST');
  assert.equal(codeOfHttpStatus(422), 'BAD_REQUEST');
  assert.equal(codeOfHttpStatus(401), 'UNAUTHORIZED');
  assert.equal(codeOfHttpStatus(403), 'FORBIDDEN');
  assert.equal(codeOfHttpStatus(404), 'NOT_FOUND');
  assert.equal(codeOfHttpStatus(409), 'ALREADY_DECIDED');
  assert.equal(codeOfHttpStatus(429), 'RATE_LIMITED');
  for (const s of [500, 502, 503, 504]) assert.equal(codeOfHttpStatus(s), 'APPROVAL_UNAVAILABLE');
  assert.equal(codeOfHttpStatus(418), 'BAD_REQUEST');
});

test('codes read off the wire are checked against the table', () => {
  assert.ok(isAirlockErrorCode('FORBIDDEN'));
  assert.ok(!isAirlockErrorCode('APPROVAL_REQUIRED'));
  assert.ok(!isAirlockErrorCode('toString'));
});
