import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AirlockError } from '../../src/core/errors.js';
import { argumentHash, dedupeKey } from '../../src/core/approval/canonical.js';
import { canonicalJson, MAX_JSON_DEPTH } from '../../src/core/canonical-json.js';

function nested(depth: number, leaf: unknown = 1): unknown {
  // Built iteratively so the test itself cannot overflow the stack.
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

describe('argumentHash', () => {
  const args = { vm_name: 'web-01', opts: { cpu: 2 } };

  it('is hex sha256 of the canonical [server, tool, args]', () => {
    const expected = createHash('sha256')
      .update(canonicalJson(['lab', 'start_vm', args]))
      .digest('hex');
    assert.equal(argumentHash('lab', 'start_vm', args), expected);
    assert.match(argumentHash('lab', 'start_vm', args), /^[0-9a-f]{64}$/);
  });

  it('ignores key order and changes with server, tool or any argument', () => {
    const h = argumentHash('lab', 'start_vm', args);
    assert.equal(argumentHash('lab', 'start_vm', { opts: { cpu: 2 }, vm_name: 'web-01' }), h);
    assert.notEqual(argumentHash('virt', 'start_vm', args), h);
    assert.notEqual(argumentHash('lab', 'stop_vm', args), h);
    assert.notEqual(argumentHash('lab', 'start_vm', { ...args, opts: { cpu: 3 } }), h);
    assert.notEqual(argumentHash('lab', 'start_vm', { ...args, opts: { cpu: '2' } }), h);
  });

  it('cannot be confused by separators inside names', () => {
    assert.notEqual(argumentHash('a","b', 'c', {}), argumentHash('a', 'b","c', {}));
  });

  it('gives the arguments the full depth budget', () => {
    assert.doesNotThrow(() => argumentHash('lab', 't', nested(MAX_JSON_DEPTH)));
    assert.throws(() => argumentHash('lab', 't', nested(MAX_JSON_DEPTH + 1)), AirlockError);
  });
});

describe('dedupeKey', () => {
  const args = { vm_name: 'web-01' };

  it('is stable for an identical retry and differs per agent', () => {
    assert.equal(
      dedupeKey('ci-bot', 'lab', 'start_vm', args),
      dedupeKey('ci-bot', 'lab', 'start_vm', { vm_name: 'web-01' }),
    );
    assert.notEqual(
      dedupeKey('ci-bot', 'lab', 'start_vm', args),
      dedupeKey('other', 'lab', 'start_vm', args),
    );
    assert.notEqual(
      dedupeKey('ci-bot', 'lab', 'start_vm', args),
      dedupeKey('ci-bot', 'lab', 'start_vm', { vm_name: 'web-02' }),
    );
  });

  it('never equals the argument hash of the same call', () => {
    assert.notEqual(dedupeKey('ci-bot', 'lab', 'start_vm', args), argumentHash('lab', 'start_vm', args));
  });
});
