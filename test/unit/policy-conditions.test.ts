import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate, MAX_REGEX_INPUT, parsePolicy, type Decision } from '../../src/core/policy/index.js';

/** Decides `tool` for args under a policy whose only rule allows when `cond` holds; else deny. */
function holds(cond: Record<string, Record<string, unknown>>, args: Record<string, unknown>): boolean {
  const policy = parsePolicy(
    { version: '1', tools: { t: { action: 'deny', when: [{ args: cond, action: 'allow' }] } } },
    'lab.json',
  );
  return evaluate(policy, { server: 'lab', tool: 't', agent: 'a', args }).action === 'allow';
}

describe('condition operators', () => {
  it('eq compares strictly, and structurally for objects and lists', () => {
    assert.equal(holds({ x: { eq: 'prod' } }, { x: 'prod' }), true);
    assert.equal(holds({ x: { eq: 'prod' } }, { x: 'dev' }), false);
    assert.equal(holds({ x: { eq: 5 } }, { x: '5' }), false);
    assert.equal(holds({ x: { eq: null } }, { x: null }), true);
    assert.equal(holds({ x: { eq: { a: [1, 2] } } }, { x: { a: [1, 2] } }), true);
    assert.equal(holds({ x: { eq: { a: [1, 2] } } }, { x: { a: [2, 1] } }), false);
  });

  it('ne (and neq) is the negation of eq', () => {
    assert.equal(holds({ x: { ne: 'prod' } }, { x: 'dev' }), true);
    assert.equal(holds({ x: { ne: 'prod' } }, { x: 'prod' }), false);
    assert.equal(holds({ x: { neq: 'prod' } }, { x: 'dev' }), true);
    assert.equal(holds({ x: { neq: 'prod' } }, { x: 'prod' }), false);
  });

  it('in / not_in test membership', () => {
    assert.equal(holds({ x: { in: ['a', 'b'] } }, { x: 'b' }), true);
    assert.equal(holds({ x: { in: ['a', 'b'] } }, { x: 'c' }), false);
    assert.equal(holds({ x: { in: [{ k: 1 }] } }, { x: { k: 1 } }), true);
    assert.equal(holds({ x: { not_in: ['a', 'b'] } }, { x: 'c' }), true);
    assert.equal(holds({ x: { not_in: ['a', 'b'] } }, { x: 'a' }), false);
  });

  it('gt gte lt lte compare numbers only', () => {
    assert.equal(holds({ x: { gt: 60 } }, { x: 61 }), true);
    assert.equal(holds({ x: { gt: 60 } }, { x: 60 }), false);
    assert.equal(holds({ x: { gte: 60 } }, { x: 60 }), true);
    assert.equal(holds({ x: { gte: 60 } }, { x: 59 }), false);
    assert.equal(holds({ x: { lt: 60 } }, { x: 59 }), true);
    assert.equal(holds({ x: { lt: 60 } }, { x: 60 }), false);
    assert.equal(holds({ x: { lte: 60 } }, { x: 60 }), true);
    assert.equal(holds({ x: { lte: 60 } }, { x: 61 }), false);
    assert.equal(holds({ x: { lte: 60 } }, { x: '30' }), false, 'a numeric string is not a number');
  });

  it('glob matches * and ? against strings', () => {
    assert.equal(holds({ x: { glob: 'lab-*' } }, { x: 'lab-01' }), true);
    assert.equal(holds({ x: { glob: 'lab-?' } }, { x: 'lab-1' }), true);
    assert.equal(holds({ x: { glob: 'lab-?' } }, { x: 'lab-12' }), false);
    assert.equal(holds({ x: { glob: '*.prod.*' } }, { x: 'db.prod.example' }), true);
    assert.equal(holds({ x: { glob: '*.prod.*' } }, { x: 'db.dev.example' }), false);
    assert.equal(holds({ x: { glob: '*' } }, { x: 5 }), false);
  });

  it('regex searches strings', () => {
    assert.equal(holds({ x: { regex: '^eth[0-9]+$' } }, { x: 'eth0' }), true);
    assert.equal(holds({ x: { regex: '^eth[0-9]+$' } }, { x: 'wlan0' }), false);
    assert.equal(holds({ x: { regex: 'port 22' } }, { x: 'tcp and port 22' }), true);
  });

  it('exists tests presence', () => {
    assert.equal(holds({ x: { exists: true } }, { x: 0 }), true);
    assert.equal(holds({ x: { exists: true } }, { x: null }), true);
    assert.equal(holds({ x: { exists: true } }, {}), false);
    assert.equal(holds({ x: { exists: false } }, {}), true);
    assert.equal(holds({ x: { exists: false } }, { x: 1 }), false);
  });

  it('contains tests substrings and list elements', () => {
    assert.equal(holds({ x: { contains: 'port' } }, { x: 'tcp port 22' }), true);
    assert.equal(holds({ x: { contains: 'udp' } }, { x: 'tcp port 22' }), false);
    assert.equal(holds({ x: { contains: 'b' } }, { x: ['a', 'b'] }), true);
    assert.equal(holds({ x: { contains: 'c' } }, { x: ['a', 'b'] }), false);
  });

  it('several ops on one path must all hold', () => {
    assert.equal(holds({ x: { gte: 10, lte: 20 } }, { x: 15 }), true);
    assert.equal(holds({ x: { gte: 10, lte: 20 } }, { x: 25 }), false);
  });
});

describe('argument paths', () => {
  it('follows dotted paths and array indexes', () => {
    assert.equal(holds({ 'target.host': { eq: 'db1' } }, { target: { host: 'db1' } }), true);
    assert.equal(holds({ 'target.host': { eq: 'db1' } }, { target: { host: 'db2' } }), false);
    assert.equal(holds({ 'vms.1.name': { eq: 'b' } }, { vms: [{ name: 'a' }, { name: 'b' }] }), true);
  });

  it('a missing path fails every op except exists:false, ne and not_in', () => {
    const missing = [{}, { target: 'flat' }, { target: { other: 1 } }, { target: null }];
    for (const args of missing) {
      for (const op of [
        { eq: 'x' },
        { in: ['x'] },
        { gt: 0 },
        { gte: 0 },
        { lt: 0 },
        { lte: 0 },
        { glob: '*' },
        { regex: '.*' },
        { exists: true },
        { contains: 'x' },
      ]) {
        assert.equal(
          holds({ 'target.host': op }, args),
          false,
          `${JSON.stringify(op)} on ${JSON.stringify(args)}`,
        );
      }
      for (const op of [{ exists: false }, { ne: 'x' }, { neq: 'x' }, { not_in: ['x'] }]) {
        assert.equal(
          holds({ 'target.host': op }, args),
          true,
          `${JSON.stringify(op)} on ${JSON.stringify(args)}`,
        );
      }
    }
  });

  it('never resolves inherited properties', () => {
    assert.equal(holds({ constructor: { exists: true } }, {}), false);
    assert.equal(holds({ 'a.__proto__': { exists: true } }, { a: {} }), false);
    assert.equal(holds({ 'list.length': { exists: true } }, { list: [1] }), false);
  });
});

describe('regex safety', () => {
  it('denies, naming the argument, when a value is too long to check', () => {
    const policy = parsePolicy(
      {
        version: '1',
        tools: { t: { action: 'allow', when: [{ args: { filter: { regex: 'rm -rf' } }, action: 'deny' }] } },
      },
      'lab.json',
    );
    const d: Decision = evaluate(policy, {
      server: 'lab',
      tool: 't',
      agent: 'a',
      args: { filter: 'x'.repeat(MAX_REGEX_INPUT + 1) },
    });
    assert.equal(d.action, 'deny');
    assert.equal(d.rule, 'lab/t#when[0]');
    assert.match(d.reason ?? '', /filter is longer than 4096 characters/);
    const ok = evaluate(policy, {
      server: 'lab',
      tool: 't',
      agent: 'a',
      args: { filter: 'x'.repeat(MAX_REGEX_INPUT) },
    });
    assert.equal(ok.action, 'allow');
  });

  it('rejects nested unbounded quantifiers at load time, with their path', () => {
    for (const pattern of ['(a+)+', '(a*)*b', '(?:x+y)*', '((ab)*c)+', '(a+){2,}']) {
      assert.throws(
        () =>
          parsePolicy(
            { version: '1', tools: { t: { when: [{ args: { x: { regex: pattern } } }] } } },
            'lab.json',
          ),
        (err: { issues: { path: string; message: string }[] }) =>
          err.issues[0]?.path === '$.tools.t.when[0].args.x.regex' &&
          /nests unbounded quantifiers/.test(err.issues[0].message),
        pattern,
      );
    }
    for (const pattern of ['(ab)+', '[a+]+', '\\(a+\\)+', '(a|b){1,3}', '^[a-z]+(-[a-z]+)?$']) {
      assert.doesNotThrow(
        () =>
          parsePolicy(
            { version: '1', tools: { t: { when: [{ args: { x: { regex: pattern } } }] } } },
            'lab.json',
          ),
        pattern,
      );
    }
  });
});
