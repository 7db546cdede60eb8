import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AirlockError } from '../../src/core/errors.js';
import { canonicalJson, MAX_JSON_DEPTH } from '../../src/core/canonical-json.js';

function nested(depth: number, leaf: unknown = 1): unknown {
  // Built iteratively so the test itself cannot overflow the stack.
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

function badRequest(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AirlockError, `expected AirlockError, got ${String(err)}`);
    assert.equal(err.code, 'BAD_REQUEST');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('canonicalJson', () => {
  it('sorts keys recursively and drops whitespace', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }),
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('is the same for the same value written in any key order', () => {
    const a = JSON.parse('{"vm":"web","opts":{"cpu":2,"mem":4},"tags":["a","b"]}');
    const b = JSON.parse('{"tags":["a","b"],"opts":{"mem":4,"cpu":2},"vm":"web"}');
    assert.equal(canonicalJson(a), canonicalJson(b));
  });

  it('keeps array order', () => {
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  });

  it('sorts keys by UTF-16 code units (RFC 8785)', () => {
    assert.equal(
      canonicalJson({ b: 1, B: 2, é: 3, '1': 4, '\u{1F600}': 5, '\uffff': 6 }),
      '{"1":4,"B":2,"b":1,"é":3,"\u{1F600}":5,"\uffff":6}',
    );
  });

  it('formats numbers in their shortest ECMAScript form', () => {
    assert.equal(
      canonicalJson(JSON.parse('[1.0, 1e0, -0, 0.1, 1e21, 1E-7, 100, 12.50]')),
      '[1,1,0,0.1,1e+21,1e-7,100,12.5]',
    );
  });

  it('treats undefined like JSON.stringify: dropped in objects, null in arrays', () => {
    assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
    assert.equal(canonicalJson([undefined, 1]), '[null,1]');
    // eslint-disable-next-line no-sparse-arrays -- a hole is what is being tested
    assert.equal(canonicalJson([1, , 3]), '[1,null,3]');
  });

  it('keeps unicode exactly, escaping only what JSON requires', () => {
    const s = 'emoji 👨‍👩‍👧 rtl שלום zero\u200bwidth "quoted" \\ \n lone \ud800';
    assert.equal(JSON.parse(canonicalJson({ s })).s, s);
  });

  it('round-trips JSON values', () => {
    const value = { n: null, t: true, f: false, arr: [[], {}, ''], num: -12.75, s: 'x' };
    assert.deepEqual(JSON.parse(canonicalJson(value)), value);
  });

  it('accepts null-prototype objects and keeps a __proto__ key as data', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 2, a: 1 });
    assert.equal(canonicalJson(bare), '{"a":1,"b":2}');
    const parsed = JSON.parse('{"__proto__":{"x":1},"a":1}');
    assert.equal(canonicalJson(parsed), '{"__proto__":{"x":1},"a":1}');
  });

  it('rejects values JSON cannot represent, naming where', () => {
    badRequest(() => canonicalJson({ a: { n: NaN } }), /\$\.a\.n: NaN is not a JSON number/);
    badRequest(() => canonicalJson([Infinity]), /\$\[0\]: Infinity/);
    badRequest(() => canonicalJson({ big: 1n }), /bigint is not a JSON value/);
    badRequest(() => canonicalJson({ f: () => 1 }), /function is not a JSON value/);
    badRequest(() => canonicalJson({ s: Symbol('x') }), /symbol is not a JSON value/);
    badRequest(() => canonicalJson({ d: new Date(0) }), /Date is not a JSON value/);
    badRequest(() => canonicalJson({ m: new Map() }), /Map is not a JSON value/);
    badRequest(() => canonicalJson(undefined), /undefined is not a JSON value/);
  });

  it('rejects cycles with a clear error', () => {
    const a: Record<string, unknown> = { x: 1 };
    a['self'] = a;
    badRequest(() => canonicalJson(a), /cycle/);
  });

  it('allows the same object twice when it is not its own ancestor', () => {
    const shared = { k: 1 };
    assert.equal(canonicalJson({ a: shared, b: [shared] }), '{"a":{"k":1},"b":[{"k":1}]}');
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses one more`, () => {
    assert.doesNotThrow(() => canonicalJson(nested(MAX_JSON_DEPTH)));
    badRequest(() => canonicalJson(nested(MAX_JSON_DEPTH + 1)), /nested deeper than 64 levels/);
  });

  it('refuses 500 and 100,000 levels with BAD_REQUEST, not a stack overflow', () => {
    badRequest(() => canonicalJson(nested(500)), /nested deeper/);
    badRequest(() => canonicalJson(nested(100_000)), /nested deeper/);
  });

  it('keeps error messages short even for huge keys', () => {
    const key = 'k'.repeat(100_000);
    assert.throws(
      () => canonicalJson({ [key]: NaN }),
      (err: unknown) => err instanceof AirlockError && err.message.length < 200,
    );
  });

  it('writes scalars exactly as JSON.stringify does', () => {
    for (const value of ['a"b\\c\n\u2028', '\ud800', 0, -0, 1e21, 1.5e-7, 0.1 + 0.2, true, false, null]) {
      assert.equal(canonicalJson(value), JSON.stringify(value));
    }
  });

  it('gives a value and its JSON round trip one form, once toJSON and NaN are settled by the trip', () => {
    const value = { s: 'x', nested: { list: [1, 'two', { three: 3 }], when: new Date(5) }, n: NaN };
    badRequest(() => canonicalJson(value), /NaN is not a JSON number/);
    const plain: unknown = JSON.parse(JSON.stringify(value));
    assert.equal(
      canonicalJson(plain),
      '{"n":null,"nested":{"list":[1,"two",{"three":3}],"when":"1970-01-01T00:00:00.005Z"},"s":"x"}',
    );
    assert.equal(canonicalJson(JSON.parse(canonicalJson(plain))), canonicalJson(plain));
  });
});
