import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  editArgsModal,
  editButtons,
  fitsSlackEditor,
  parseEditedArgs,
  requestMessage,
  tooLongToEditText,
} from '../../src/slack/blocks/index.js';
import type { ApprovalRecord } from '../../src/core/approval/types.js';
import { viewProblems, blockKitProblems } from '../helpers/fake-slack.js';

function record(over: Partial<ApprovalRecord> = {}, allowEdit = true): ApprovalRecord {
  return {
    id: 'ar_0123456789abcdefghij',
    createdAt: 0,
    expiresAt: 60_000,
    server: 'lab',
    tool: 'start_vm',
    agent: 'ci-bot',
    args: { vm_name: 'web-01', password: 'hunter2' },
    argsHash: 'a'.repeat(64),
    rule: 'lab/start_vm',
    approval: {
      approvers: ['alice'],
      minApprovals: 1,
      timeoutMs: 60_000,
      waitMs: 1000,
      onTimeout: 'reject',
      allowSelfApproval: false,
      ...(allowEdit ? { allowEdit: true } : {}),
    },
    status: 'pending',
    decisions: [],
    ...over,
  };
}

test('the button is offered only where the rule allows edits, and the message stays valid Block Kit', () => {
  assert.equal(editButtons(record({}, false)).length, 0);
  assert.equal(editButtons(record()).length, 1);
  const msg = requestMessage(record());
  assert.deepEqual(blockKitProblems(msg.blocks), []);
  assert.match(JSON.stringify(msg.blocks), /Approve with changes/);
  assert.doesNotMatch(JSON.stringify(requestMessage(record({}, false)).blocks), /Approve with changes/);
});

test('the modal is prefilled with the redacted arguments as pretty JSON, within Slack limits', () => {
  const view = editArgsModal(record());
  assert.deepEqual(viewProblems(view), []);
  const input = JSON.stringify(view.blocks);
  assert.ok(
    input.includes(JSON.stringify(JSON.stringify({ vm_name: 'web-01', password: '[REDACTED]' }, null, 2))),
  );
  assert.doesNotMatch(input, /hunter2/);
});

test('arguments too long for the editor are never cut: the reviewer is sent to the console or CLI', () => {
  const big = record({ args: { filter: 'x'.repeat(3000) } });
  assert.equal(fitsSlackEditor(big), false);
  assert.equal(fitsSlackEditor(record()), true);
  const text = tooLongToEditText(big, 'https://airlock.example.com/#/requests/ar_0123456789abcdefghij');
  assert.match(text, /more than Slack's editor holds \(3000\)/);
  assert.match(text, /airlock approve ar_0123456789abcdefghij --args/);
  assert.match(text, /<https:\/\/airlock\.example\.com\/#\/requests\/ar_0123456789abcdefghij\|open>/);
});

test('submitted text: an object passes; bad JSON names line and column; anything else is refused', () => {
  assert.deepEqual(parseEditedArgs('{"a": 1}'), { ok: true, args: { a: 1 } });
  assert.deepEqual(parseEditedArgs('{\n "a": 1,\n}'), {
    ok: false,
    error: 'This is not valid JSON: error at line 3, column 1.',
  });
  assert.equal(parseEditedArgs('[1]').ok, false);
  assert.equal(parseEditedArgs('null').ok, false);
});
