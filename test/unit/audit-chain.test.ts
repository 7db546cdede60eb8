import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AirlockError } from '../../src/core/errors.js';
import {
  GENESIS_HASH,
  capStrings,
  checkLine,
  encodeLine,
  prepareEvent,
} from '../../src/audit/audit-chain.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import type { AuditEvent } from '../../src/audit/audit-events.js';

const options = { at: '2026-01-01T00:00:00.000Z', replica: 'r1', maxStringBytes: 1024 };

test('an encoded line hashes its canonical form and checks clean', () => {
  const event: AuditEvent = {
    event: 'policy.invalid',
    file: 'lab.json',
    issues: [{ path: '$.tools', message: 'bad' }],
  };
  const { text, hash } = encodeLine(prepareEvent(event, options), 7, 'a'.repeat(64));
  assert.ok(text.endsWith('\n'));
  const parsed = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), ['seq', 'at', 'event', 'replica', 'file', 'issues', 'prev', 'hash']);
  const { hash: written, ...rest } = parsed;
  assert.equal(written, hash);
  assert.equal(hash, createHash('sha256').update(canonicalJson(rest)).digest('hex'));
  const check = checkLine(text.slice(0, -1), true);
  assert.ok(check.ok);
  assert.equal(check.line.seq, 7);
});

test('every field is covered by the hash', () => {
  const { text } = encodeLine(
    prepareEvent({ event: 'request.expired', requestId: 'ar_1' }, options),
    1,
    GENESIS_HASH,
  );
  const line = text.slice(0, -1);
  for (const [from, to] of [
    ['"seq":1', '"seq":2'],
    ['ar_1', 'ar_2'],
    ['"r1"', '"r2"'],
    ['2026-01-01', '2026-01-02'],
    ['"prev":"00', '"prev":"01'],
  ] as const) {
    const check = checkLine(line.replace(from, to), true);
    assert.deepEqual(check, { ok: false, reason: 'hash mismatch: line was edited' }, from);
  }
});

test('checkLine names what is wrong', () => {
  assert.match((checkLine('{"seq":1', true) as { reason: string }).reason, /not valid JSON/);
  assert.match((checkLine('[1]', true) as { reason: string }).reason, /not an audit line/);
  assert.match((checkLine('', true) as { reason: string }).reason, /empty line/);
});

test('chain keys and integer-like names are refused in events', () => {
  for (const key of ['seq', 'hash', 'prev', 'at', 'replica', '0']) {
    const event = { event: 'request.expired', requestId: 'x', [key]: 1 } as unknown as AuditEvent;
    assert.throws(() => prepareEvent(event, options), AirlockError);
  }
});

test('capStrings caps long strings at a character boundary, deep inside objects and arrays', () => {
  const long = '€'.repeat(100);
  const input = { keep: 'short', deep: { list: ['x', long] }, when: new Date(0) };
  const capped = capStrings(input, 10) as { keep: string; deep: { list: string[] }; when: Date };
  assert.equal(capped.keep, 'short');
  assert.equal(capped.when, input.when);
  const digest = createHash('sha256').update(long).digest('hex');
  assert.equal(capped.deep.list[1], `€€€… [truncated by Airlock: 300 bytes, sha256 ${digest}]`);
  assert.equal(input.deep.list[1], long, 'the input is not modified');
  assert.equal(capStrings(input.keep, 10), 'short');
});

test('an event with a Date, NaN and undefined is hashed as its JSON round trip, so it verifies', () => {
  const event = {
    event: 'policy.invalid',
    file: 'lab.json',
    issues: [{ path: '$', message: 'x' }],
    when: new Date(0),
    ratio: NaN,
    gone: undefined,
  } as unknown as AuditEvent;
  const { text } = encodeLine(prepareEvent(event, options), 1, GENESIS_HASH);
  assert.match(text, /"when":"1970-01-01T00:00:00.000Z","ratio":null,"prev"/);
  assert.ok(checkLine(text.slice(0, -1), true).ok);
});

test('a line edited to nest deeper than anything Airlock writes is reported, not thrown', () => {
  const { text } = encodeLine(
    prepareEvent({ event: 'request.expired', requestId: 'ar_1' }, options),
    1,
    GENESIS_HASH,
  );
  const deep = '['.repeat(200) + ']'.repeat(200);
  const edited = text.slice(0, -1).replace('"ar_1"', deep);
  assert.deepEqual(checkLine(edited, true), {
    ok: false,
    reason: 'cannot be hashed (nested too deep): line was edited',
  });
});

test('flat events (strings, numbers, booleans, null, undefined) give the same line as any event, and verify', () => {
  const flat = {
    event: 'policy.allowed',
    requestId: 'req_1',
    server: 'lab',
    tool: 'é "quoted" \\ \u2028',
    agent: 'a',
    rule: 'lab/echo',
    n: -0,
    big: 1e21,
    yes: false,
    none: null,
    gone: undefined,
  } as unknown as AuditEvent;
  // The same fields with one nested value take the general path; dropping that member must give the flat line.
  const nested = { ...flat, zz: { nested: true } } as unknown as AuditEvent;
  const a = encodeLine(prepareEvent(flat, options), 3, 'b'.repeat(64));
  const b = encodeLine(prepareEvent(nested, options), 3, 'b'.repeat(64));
  const { hash: _ha, ...restA } = JSON.parse(a.text) as Record<string, unknown>;
  const { hash: _hb, zz: _zz, ...restB } = JSON.parse(b.text) as Record<string, unknown>;
  assert.deepEqual(restA, restB);
  assert.equal(a.text, b.text.replace(',"zz":{"nested":true}', '').replace(b.hash, a.hash));
  assert.equal(a.hash, createHash('sha256').update(canonicalJson(restA)).digest('hex'));
  assert.deepEqual(checkLine(a.text.slice(0, -1), true).ok, true);
  // A string that may need capping is left to the general path, which caps it.
  const long = { ...flat, tool: 'x'.repeat(2000) } as unknown as AuditEvent;
  const capped = JSON.parse(encodeLine(prepareEvent(long, options), 1, GENESIS_HASH).text) as {
    tool: string;
  };
  assert.match(capped.tool, /truncated by Airlock: 2000 bytes/);
});
