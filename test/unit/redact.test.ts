import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CIRCULAR, REDACTED, redactForDisplay, TOO_DEEP } from '../../src/core/redact.js';

describe('redactForDisplay', () => {
  it('hides values under secret-looking keys, case-insensitively and as substrings', () => {
    const out = redactForDisplay({
      password: 'p',
      PASSWD: 'p',
      apiKey: 'k',
      'x-api-key': 'k',
      client_secret: 's',
      'Set-Cookie': 'c',
      Authorization: 'Bearer t',
      access_token: 't',
      ssh_private_key: 'k',
      db_passphrase: 'p',
      aws_credentials: { id: 'a' },
      vm_name: 'web-01',
      duration: 30,
    });
    assert.deepEqual(out, {
      password: REDACTED,
      PASSWD: REDACTED,
      apiKey: REDACTED,
      'x-api-key': REDACTED,
      client_secret: REDACTED,
      'Set-Cookie': REDACTED,
      Authorization: REDACTED,
      access_token: REDACTED,
      ssh_private_key: REDACTED,
      db_passphrase: REDACTED,
      aws_credentials: REDACTED,
      vm_name: 'web-01',
      duration: 30,
    });
  });

  it('redacts deep inside objects and arrays, whole subtrees included', () => {
    const out = redactForDisplay({
      target: { headers: [{ name: 'h', cookie: 'c' }], auth: { token: { value: 'x' } } },
    });
    assert.deepEqual(out, {
      target: { headers: [{ name: 'h', cookie: REDACTED }], auth: { token: REDACTED } },
    });
  });

  it('does not look at values, only keys', () => {
    assert.deepEqual(redactForDisplay({ note: 'my password is hunter2' }), {
      note: 'my password is hunter2',
    });
    assert.equal(redactForDisplay('token'), 'token');
  });

  it('never modifies the input', () => {
    const input = { a: { password: 'p', list: [1, { secret: 's' }] } };
    const snapshot = structuredClone(input);
    const out = redactForDisplay(input) as typeof input;
    assert.deepEqual(input, snapshot);
    assert.notEqual(out, input);
    assert.notEqual(out.a.list, input.a.list);
  });

  it('replaces cycles instead of recursing forever, but keeps shared non-cyclic values', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a['self'] = a;
    const shared = { v: 1 };
    assert.deepEqual(redactForDisplay({ a, x: shared, y: [shared] }), {
      a: { name: 'a', self: CIRCULAR },
      x: { v: 1 },
      y: [{ v: 1 }],
    });
  });

  it('cuts deep nesting (500 levels) without a stack overflow', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 500; i++) deep = { d: deep };
    let node = redactForDisplay(deep) as Record<string, unknown>;
    let levels = 0;
    while (typeof node === 'object') {
      node = node['d'] as Record<string, unknown>;
      levels++;
    }
    assert.equal(node, TOO_DEEP);
    assert.equal(levels, 64);
    assert.deepEqual(redactForDisplay({ a: { b: { c: 1 } } }, { maxDepth: 2 }), { a: { b: TOO_DEEP } });
  });

  it('accepts extra key patterns', () => {
    assert.deepEqual(redactForDisplay({ ssn: '1', name: 'n' }, { extraKeys: /ssn/i }), {
      ssn: REDACTED,
      name: 'n',
    });
    // A /g pattern is stateful with test(); every matching key must still be hidden.
    assert.deepEqual(redactForDisplay({ ssn: '1', SSN: '2', my_ssn: '3' }, { extraKeys: /ssn/gi }), {
      ssn: REDACTED,
      SSN: REDACTED,
      my_ssn: REDACTED,
    });
  });

  it('keeps a __proto__ key as data and does not pollute prototypes', () => {
    const out = redactForDisplay(JSON.parse('{"__proto__":{"polluted":true,"token":"t"}}')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(out), ['__proto__']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, {
      polluted: true,
      token: REDACTED,
    });
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });

  it('turns non-JSON leaves into readable strings', () => {
    assert.deepEqual(
      redactForDisplay({ big: 10n, nan: NaN, inf: -Infinity, when: new Date(0), f: () => 1 }),
      {
        big: '10n',
        nan: 'NaN',
        inf: '-Infinity',
        when: '1970-01-01T00:00:00.000Z',
        f: '[Function]',
      },
    );
  });

  it('keeps unicode and large strings intact', () => {
    const big = 'x'.repeat(100_000);
    const s = '👨‍👩‍👧 שלום zero\u200bwidth';
    assert.deepEqual(redactForDisplay({ big, s }), { big, s });
  });
});
