import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../../src/audit/canonical-json.js';

test('keys are sorted at every depth, with no whitespace', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }),
    '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
  );
});

test('keys sort by UTF-16 code units, as RFC 8785 says', () => {
  assert.equal(canonicalJson({ é: 1, z: 2, Z: 3, '10': 4, '9': 5 }), '{"10":4,"9":5,"Z":3,"z":2,"é":1}');
});

test('scalars are written exactly as JSON.stringify writes them', () => {
  for (const value of ['a"b\\c\n\u2028', '\ud800', 0, -0, 1e21, 1.5e-7, 0.1 + 0.2, true, false, null]) {
    assert.equal(canonicalJson(value), JSON.stringify(value));
  }
});

test('undefined, functions, NaN and toJSON follow JSON.stringify', () => {
  const value = { u: undefined, f: () => 1, n: NaN, i: -Infinity, arr: [undefined, () => 1], d: new Date(0) };
  assert.equal(canonicalJson(value), '{"arr":[null,null],"d":"1970-01-01T00:00:00.000Z","i":null,"n":null}');
});

test('a value parsed back from JSON has the same canonical form', () => {
  const value = { s: 'x', nested: { list: [1, 'two', { three: 3 }], when: new Date(5) }, gone: undefined };
  assert.equal(canonicalJson(JSON.parse(JSON.stringify(value))), canonicalJson(value));
});

test('values with no JSON form throw', () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.throws(() => canonicalJson(circular), /circular/);
  assert.throws(() => canonicalJson({ n: 1n }), /BigInt/);
  assert.throws(() => canonicalJson(undefined), /no JSON representation/);
  // A repeated (not circular) object is fine.
  const shared = { a: 1 };
  assert.equal(canonicalJson([shared, shared]), '[{"a":1},{"a":1}]');
});
