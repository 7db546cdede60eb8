import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalRecord } from '../../src/core/approval/types.js';
import {
  APPROVE_ACTION_ID,
  BLOCK_KIT_LIMITS,
  cancelledMessage,
  decidedMessage,
  executionReply,
  expiredMessage,
  messageFor,
  REASON_ACTION_ID,
  REASON_BLOCK_ID,
  refusalText,
  REJECT_ACTION_ID,
  REJECT_MODAL_CALLBACK_ID,
  REJECT_REASON_ACTION_ID,
  rejectReasonModal,
  requestMessage,
  riskLabel,
  type SlackMessage,
} from '../../src/slack/blocks/index.js';
import { approvalRecord, approvalSpec, T0, vote } from '../helpers/approval-records.js';

// ---------------------------------------------------------------------------------------------------------
// Checkers

type Json = Record<string, unknown>;

function asObj(value: unknown): Json {
  assert.ok(value && typeof value === 'object', `expected an object, got ${String(value)}`);
  return value as Json;
}

function textOf(obj: unknown): string {
  const t = asObj(obj);
  assert.ok(t['type'] === 'plain_text' || t['type'] === 'mrkdwn', `text object type ${String(t['type'])}`);
  assert.equal(typeof t['text'], 'string');
  return t['text'] as string;
}

function within(label: string, text: string, max: number, min = 1): void {
  assert.ok(text.length >= min, `${label} is empty`);
  assert.ok(text.length <= max, `${label} is ${text.length} chars, limit ${max}`);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function eachString(value: unknown, fn: (s: string, path: string) => void, path = '$'): void {
  if (typeof value === 'string') fn(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => eachString(v, fn, `${path}[${i}]`));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) eachString(v, fn, `${path}.${k}`);
}

/** Checks every Block Kit limit the builders promise, for messages and modals. */
function assertWithinBlockKitLimits(surface: unknown, kind: 'message' | 'modal' = 'message'): void {
  const s = asObj(surface);
  const blocks = s['blocks'] as unknown[];
  assert.ok(Array.isArray(blocks) && blocks.length > 0, 'has blocks');
  assert.ok(
    blocks.length <= (kind === 'message' ? BLOCK_KIT_LIMITS.messageBlocks : BLOCK_KIT_LIMITS.modalBlocks),
    'block count',
  );
  if (kind === 'message') within('message text', s['text'] as string, BLOCK_KIT_LIMITS.messageText);
  if (kind === 'modal') {
    within('modal title', textOf(s['title']), BLOCK_KIT_LIMITS.modalTitle);
    if (s['submit']) within('modal submit', textOf(s['submit']), BLOCK_KIT_LIMITS.modalTitle);
    if (s['close']) within('modal close', textOf(s['close']), BLOCK_KIT_LIMITS.modalTitle);
    within('callback_id', s['callback_id'] as string, BLOCK_KIT_LIMITS.id);
    within('private_metadata', s['private_metadata'] as string, BLOCK_KIT_LIMITS.privateMetadata);
  }
  for (const [i, raw] of blocks.entries()) {
    const b = asObj(raw);
    const where = `block ${i} (${String(b['type'])})`;
    if (b['block_id'] !== undefined)
      within(`${where} block_id`, b['block_id'] as string, BLOCK_KIT_LIMITS.id);
    switch (b['type']) {
      case 'header':
        assert.equal(asObj(b['text'])['type'], 'plain_text');
        within(`${where} text`, textOf(b['text']), BLOCK_KIT_LIMITS.headerText);
        break;
      case 'section': {
        assert.ok(b['text'] || b['fields'], `${where} has text or fields`);
        if (b['text']) within(`${where} text`, textOf(b['text']), BLOCK_KIT_LIMITS.sectionText);
        const fields = (b['fields'] ?? []) as unknown[];
        assert.ok(fields.length <= BLOCK_KIT_LIMITS.fields, `${where} field count`);
        for (const f of fields) within(`${where} field`, textOf(f), BLOCK_KIT_LIMITS.fieldText);
        break;
      }
      case 'context': {
        const elements = b['elements'] as unknown[];
        assert.ok(
          elements.length >= 1 && elements.length <= BLOCK_KIT_LIMITS.contextElements,
          `${where} elements`,
        );
        for (const e of elements) within(`${where} element`, textOf(e), BLOCK_KIT_LIMITS.sectionText);
        break;
      }
      case 'actions': {
        const elements = b['elements'] as Json[];
        assert.ok(
          elements.length >= 1 && elements.length <= BLOCK_KIT_LIMITS.actionsElements,
          `${where} elements`,
        );
        for (const e of elements) {
          assert.equal(e['type'], 'button');
          within(`${where} button text`, textOf(e['text']), BLOCK_KIT_LIMITS.buttonText);
          within(`${where} action_id`, e['action_id'] as string, BLOCK_KIT_LIMITS.id);
          within(`${where} value`, e['value'] as string, BLOCK_KIT_LIMITS.buttonValue);
          if (e['confirm']) {
            const c = asObj(e['confirm']);
            within('confirm title', textOf(c['title']), BLOCK_KIT_LIMITS.confirmTitle);
            within('confirm text', textOf(c['text']), BLOCK_KIT_LIMITS.confirmText);
            within('confirm confirm', textOf(c['confirm']), BLOCK_KIT_LIMITS.confirmButton);
            within('confirm deny', textOf(c['deny']), BLOCK_KIT_LIMITS.confirmButton);
          }
        }
        break;
      }
      case 'input': {
        within(`${where} label`, textOf(b['label']), BLOCK_KIT_LIMITS.inputLabel);
        const el = asObj(b['element']);
        within(`${where} action_id`, el['action_id'] as string, BLOCK_KIT_LIMITS.id);
        if (el['max_length'] !== undefined)
          assert.ok((el['max_length'] as number) <= BLOCK_KIT_LIMITS.inputMaxLength);
        if (el['placeholder'])
          within(`${where} placeholder`, textOf(el['placeholder']), BLOCK_KIT_LIMITS.placeholder);
        break;
      }
      default:
        assert.fail(`${where}: unexpected block type`);
    }
  }
  eachString(surface, (str, path) => assert.ok(!LONE_SURROGATE.test(str), `lone surrogate at ${path}`));
  // 50 blocks of 3000 chars is the hard cap; Airlock's messages stay far below it.
  assert.ok(JSON.stringify(surface).length < 20_000, `payload is ${JSON.stringify(surface).length} chars`);
}

/**
 * Asserts no untrusted text can act as Slack markup: every `<…>` is one Airlock wrote (a date, a link to
 * `allowedLinkPrefix`, or one of `allowedMentions`), no bare `<`/`>` remain, and every `&` starts an entity.
 */
function assertInert(
  surface: unknown,
  opts: { allowedLinkPrefix?: string; allowedMentions?: string[] } = {},
): void {
  eachString(surface, (str, path) => {
    const rest = str.replace(/<([^<>]*)>/g, (whole, inner: string) => {
      if (/^!date\^\d+\^\{date_short_pretty\} at \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC$/.test(inner))
        return '';
      if (
        opts.allowedLinkPrefix &&
        inner.startsWith(opts.allowedLinkPrefix) &&
        /^[^|\s]+\|[^|]*$/.test(inner)
      )
        return '';
      if (opts.allowedMentions?.includes(inner)) return '';
      assert.fail(`live Slack markup ${whole} at ${path}`);
    });
    assert.ok(!/[<>]/.test(rest), `bare < or > at ${path}: ${rest.slice(0, 200)}`);
    assert.ok(!/&(?!amp;|lt;|gt;)/.test(rest), `unescaped & at ${path}`);
  });
}

function allText(message: SlackMessage): string {
  const parts: string[] = [];
  eachString(message, (s) => parts.push(s));
  return parts.join('\n');
}

function blocksOfType(message: SlackMessage, type: string): Json[] {
  return (message.blocks as unknown as Json[]).filter((b) => b['type'] === type);
}

function argumentsText(message: SlackMessage): string {
  return blocksOfType(message, 'section')
    .map((b) => (b['text'] ? textOf(b['text']) : ''))
    .filter((t) => t.includes('```'))
    .join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures

const ID = 'ar_Abc123_-xyzXYZ0987';
const PUBLIC_URL = 'https://airlock.example.com';
const LINK = `${PUBLIC_URL}/#/requests/${ID}`;

function record(
  args: Record<string, unknown> = { vm_name: 'web-01' },
  overrides: Partial<ApprovalRecord> = {},
): ApprovalRecord {
  return approvalRecord({ id: ID, args, ...overrides });
}

const HOSTILE = {
  channel: '<!channel> please approve',
  here: '<!here>',
  everyone: '<!everyone>',
  link: '<https://evil.example|click here to approve>',
  mention: '<@U123> and <#C999|general> and <!subteam^S123>',
  date: '<!date^0^{date}|x>',
  entity: '&amp; &lt;!channel&gt; & < >',
  fence: '```\n*Approved by security* :white_check_mark:\n```',
  quote: '> quoted',
  bare: '@channel @here',
};

// ---------------------------------------------------------------------------------------------------------

describe('requestMessage', () => {
  it('shows the facts, expiry in Slack date format, arguments as pretty JSON, ids and three buttons', () => {
    const rec = record({ vm_name: 'web-01', cpus: 2 });
    const msg = requestMessage(rec, { publicUrl: PUBLIC_URL });
    assertWithinBlockKitLimits(msg);
    assertInert(msg, { allowedLinkPrefix: PUBLIC_URL });

    const [header] = blocksOfType(msg, 'header');
    assert.equal(textOf(header?.['text']), 'Approval needed: start_vm');
    const fields = (blocksOfType(msg, 'section')[0]?.['fields'] as unknown[]).map(textOf);
    assert.deepEqual(fields.slice(0, 4), [
      '*Tool*\n`start_vm`',
      '*Server*\n`lab`',
      '*Agent*\n`ci-bot`',
      '*Rule*\n`lab/start_vm`',
    ]);
    assert.match(fields[4] ?? '', /^\*Risk\*\n/);
    const epoch = Math.floor((T0 + 900_000) / 1000);
    assert.equal(fields[5], `*Expires*\n<!date^${epoch}^{date_short_pretty} at {time}|2025-06-01 09:45 UTC>`);

    assert.equal(argumentsText(msg), '*Arguments*\n```\n{\n  "vm_name": "web-01",\n  "cpus": 2\n}\n```');
    const context = textOf((blocksOfType(msg, 'context').at(-1)?.['elements'] as unknown[])[0]);
    assert.ok(context.includes(ID));
    assert.ok(context.includes(rec.argsHash));
    assert.ok(context.includes(`<${LINK}|Open in console>`));

    const [actions] = blocksOfType(msg, 'actions');
    const buttons = actions?.['elements'] as Json[];
    assert.deepEqual(
      buttons.map((b) => [b['action_id'], b['value'], b['style'], textOf(b['text'])]),
      [
        [APPROVE_ACTION_ID, ID, 'primary', 'Approve'],
        [REJECT_ACTION_ID, ID, 'danger', 'Reject'],
        [REJECT_REASON_ACTION_ID, ID, undefined, 'Reject with reason'],
      ],
    );
    assert.match(msg.text, /start_vm on lab for ci-bot/);
  });

  it('links to the console only when publicUrl is set and valid, under any base path', () => {
    const none = requestMessage(record());
    assert.ok(!allText(none).includes('#/requests/'));
    assertInert(none);
    const bad = requestMessage(record(), { publicUrl: 'javascript:alert(1)' });
    assert.ok(!allText(bad).includes('#/requests/'));
    const based = requestMessage(record(), { publicUrl: 'https://ops.example.com/airlock/' });
    assert.ok(allText(based).includes(`<https://ops.example.com/airlock/#/requests/${ID}|Open in console>`));
    const piped = requestMessage(record(), { publicUrl: 'https://ops.example.com/a|b>c' });
    assertInert(piped, { allowedLinkPrefix: 'https://ops.example.com/' });
  });

  it('makes hostile argument text inert and escapes it exactly once', () => {
    const msg = requestMessage(record(HOSTILE), { publicUrl: PUBLIC_URL });
    assertWithinBlockKitLimits(msg);
    assertInert(msg, { allowedLinkPrefix: PUBLIC_URL });
    const args = argumentsText(msg);
    assert.ok(args.includes('&lt;!channel&gt; please approve'));
    assert.ok(args.includes('&lt;https://evil.example|click here to approve&gt;'));
    assert.ok(args.includes('&lt;@U123&gt;'));
    assert.ok(
      args.includes('&amp;amp; &amp;lt;!channel&amp;gt; &amp; &lt; &gt;'),
      'escaped once, shows as typed',
    );
  });

  it('keeps hostile text inside the code block: fences in values cannot close it', () => {
    const args = argumentsText(requestMessage(record({ fence: HOSTILE.fence })));
    assert.equal(args.match(/```/g)?.length, 2, 'only Airlock’s own fences');
    assert.ok(args.includes('`\u200b`\u200b`'));
  });

  it('makes hostile tool, server, agent and rule names inert', () => {
    const rec = record(
      {},
      { tool: '<!channel>`*x*`', server: '<@U1>', agent: 'a&b <https://e|x>', rule: '<!here>' },
    );
    const msg = requestMessage(rec);
    assertWithinBlockKitLimits(msg);
    assertInert(msg);
  });

  it('redacts secrets by key name and never shows their values', () => {
    const msg = requestMessage(
      record({ vm_name: 'web-01', apiKey: 'sk-live-123', auth: { password: 'hunter2' } }),
    );
    const text = allText(msg);
    assert.ok(!text.includes('sk-live-123'));
    assert.ok(!text.includes('hunter2'));
    assert.ok(argumentsText(msg).includes('"apiKey": "[REDACTED]"'));
  });

  it('truncates a 100 KB value with a console link, within limits', () => {
    const msg = requestMessage(record({ filter: 'A'.repeat(100_000) }), { publicUrl: PUBLIC_URL });
    assertWithinBlockKitLimits(msg);
    assertInert(msg, { allowedLinkPrefix: PUBLIC_URL });
    const text = allText(msg);
    assert.ok(text.includes(`…truncated, full arguments in the console: <${LINK}|request ${ID}>`));
    assert.match(argumentsText(msg), /…\[98500 more chars\]/);
  });

  it('says where the full arguments are when there is no console URL', () => {
    const msg = requestMessage(record({ filter: 'A'.repeat(100_000) }));
    assertInert(msg);
    assert.ok(
      allText(msg).includes(`…truncated, full arguments in the console or with \`airlock show ${ID}\``),
    );
  });

  it('stays within limits when escaping multiplies the length (100 KB of &)', () => {
    const msg = requestMessage(
      record({ a: '&'.repeat(100_000), b: '<'.repeat(50_000), c: '>'.repeat(3000) }),
    );
    assertWithinBlockKitLimits(msg);
    assertInert(msg);
  });

  it('never splits a surrogate pair or an entity when cutting', () => {
    for (const unit of ['😀', '&', '👨‍👩‍👧', 'a😀']) {
      for (const maxStringChars of [1499, 1500, 2999, 5000]) {
        const msg = requestMessage(record({ s: unit.repeat(40_000), t: `x${unit.repeat(20_000)}` }), {
          display: { maxStringChars },
        });
        assertWithinBlockKitLimits(msg);
        assertInert(msg);
      }
    }
  });

  it('spreads many arguments over at most three code blocks and says the rest was cut', () => {
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) many[`arg_${i}`] = `value ${i} `.repeat(20);
    const msg = requestMessage(record(many), { publicUrl: PUBLIC_URL });
    assertWithinBlockKitLimits(msg);
    const codeSections = blocksOfType(msg, 'section').filter(
      (b) => b['text'] && textOf(b['text']).includes('```'),
    );
    assert.equal(codeSections.length, 3);
    for (const s of codeSections) assert.match(textOf(s['text']), /```\n[\s\S]*\n```$/);
    assert.ok(allText(msg).includes('…truncated'));
  });

  it('shows long arrays partially', () => {
    const msg = requestMessage(record({ ids: Array.from({ length: 5000 }, (_, i) => i) }));
    assertWithinBlockKitLimits(msg);
    assert.ok(argumentsText(msg).includes('…4900 more items'));
  });

  it('renders 500-level nesting cut at 16 levels instead of failing', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 500; i++) deep = i % 2 ? [deep] : { d: deep };
    // argumentHash would refuse this (see approval-canonical); the renderer must still cope.
    const msg = requestMessage(record({}, { args: { deep }, argsHash: 'f'.repeat(64) }), {
      publicUrl: PUBLIC_URL,
    });
    assertWithinBlockKitLimits(msg);
    assertInert(msg, { allowedLinkPrefix: PUBLIC_URL });
    assert.match(argumentsText(msg), /deeper nesting not shown/);
    assert.ok(allText(msg).includes('…truncated'));
  });

  it('keeps emoji, RTL text and zero-width characters, and shows bidi overrides as escapes', () => {
    const args = {
      family: '👨‍👩‍👧',
      hebrew: 'שלום עולם',
      arabic: 'مرحبا',
      zw: 'a\u200bb\u200dc\ufeffd',
      bidi: 'file\u202Etxt.exe',
    };
    const msg = requestMessage(record(args));
    const text = argumentsText(msg);
    for (const v of [args.family, args.hebrew, args.arabic, args.zw]) assert.ok(text.includes(v), v);
    assert.ok(text.includes('"file\\u202etxt.exe"'));
    assert.ok(!text.includes('\u202e'));
  });

  it('cuts a long tool name in the header without splitting an emoji', () => {
    const tool = '😀'.repeat(200);
    const msg = requestMessage(record({}, { tool }));
    assertWithinBlockKitLimits(msg);
    const header = textOf(blocksOfType(msg, 'header')[0]?.['text']);
    assert.ok(header.endsWith('😀…'));
  });

  it('shows quorum progress with who approved so far', () => {
    const rec = record(
      {},
      { approval: approvalSpec({ minApprovals: 2 }), decisions: [vote('alice', 'approve')] },
    );
    assert.ok(allText(requestMessage(rec)).includes('*Approvals:* 1 of 2 (alice)'));
  });

  it('derives risk from annotations, the tool name, or takes the caller’s label', () => {
    const riskField = (m: SlackMessage): string =>
      textOf((blocksOfType(m, 'section')[0]?.['fields'] as unknown[])[4]);
    assert.equal(
      riskField(requestMessage(record(), { riskLabel: 'Critical <prod>' })),
      '*Risk*\nCritical &lt;prod&gt;',
    );
    assert.equal(
      riskField(requestMessage(record(), { annotations: { readOnlyHint: true } })),
      '*Risk*\nLow (read-only)',
    );
    assert.equal(
      riskLabel('start_vm', {}),
      'High (destructive)',
      'MCP default: destructive unless said otherwise',
    );
    assert.equal(riskLabel('start_vm', { destructiveHint: false }), 'Medium (changes state)');
    assert.equal(
      riskLabel('start_vm', { destructiveHint: false, idempotentHint: true }),
      'Medium (changes state, idempotent)',
    );
    assert.equal(riskLabel('delete_vm'), 'High (destructive by name)');
    assert.equal(riskLabel('deleteVm'), 'High (destructive by name)');
    assert.equal(riskLabel('vm.terminate'), 'High (destructive by name)');
    assert.equal(riskLabel('start_vm'), 'Needs approval (by policy)');
    assert.equal(riskLabel('formatter_info'), 'Needs approval (by policy)');
  });

  it('survives a deterministic fuzz of hostile strings', () => {
    const alphabet = [
      '<',
      '>',
      '&',
      '|',
      '!',
      '@',
      '`',
      '*',
      '_',
      '~',
      'U',
      'a',
      ' ',
      '\n',
      '😀',
      '\u200b',
      '\u202e',
      'ש',
      'amp;',
      'lt;',
    ];
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const str = (len: number): string =>
      Array.from({ length: len }, () => alphabet[rand(alphabet.length)]).join('');
    for (let i = 0; i < 150; i++) {
      const args = {
        [str(5)]: str(rand(4000)),
        nested: { [str(3)]: [str(rand(50)), { x: str(rand(2000)) }] },
      };
      const rec = record(args, {
        tool: str(1 + rand(200)),
        agent: str(1 + rand(20)),
        status: 'rejected',
        decisions: [vote(`slack:${str(5)}`, 'reject', { reason: str(rand(5000)), display: str(rand(100)) })],
        reason: str(rand(5000)),
      });
      for (const msg of [requestMessage({ ...rec, status: 'pending' }), decidedMessage(rec)]) {
        assertWithinBlockKitLimits(msg);
        assertInert(msg);
      }
      assertInert({ text: refusalText(str(rand(5000))) });
    }
  });
});

describe('decidedMessage', () => {
  it('shows who approved, from where and when, with the comment, and no buttons', () => {
    const rec = record(
      { vm_name: 'web-01' },
      {
        status: 'approved',
        decisions: [vote('alice', 'approve', { display: 'Alice <Admin>', comment: 'ok <!channel>' })],
        decidedAt: T0 + 60_000,
        decidedBy: 'alice',
      },
    );
    const msg = decidedMessage(rec, { publicUrl: PUBLIC_URL });
    assertWithinBlockKitLimits(msg);
    assertInert(msg, { allowedLinkPrefix: PUBLIC_URL });
    assert.equal(blocksOfType(msg, 'actions').length, 0);
    assert.equal(textOf(blocksOfType(msg, 'header')[0]?.['text']), 'Approved: start_vm');
    const text = allText(msg);
    assert.ok(
      text.includes(
        `*Approved* by Alice &lt;Admin&gt; via Slack at <!date^${Math.floor((T0 + 60_000) / 1000)}^`,
      ),
    );
    assert.ok(text.includes('“ok &lt;!channel&gt;”'));
    assert.ok(argumentsText(msg).includes('"vm_name": "web-01"'), 'arguments stay for the record');
  });

  it('lists every approver of a quorum and mentions unconfigured Slack users by id', () => {
    const rec = record(
      {},
      {
        status: 'approved',
        approval: approvalSpec({ minApprovals: 2 }),
        decisions: [vote('alice', 'approve', { via: 'cli' }), vote('slack:U0DAVE001', 'approve')],
      },
    );
    const msg = decidedMessage(rec);
    assertInert(msg, { allowedMentions: ['@U0DAVE001'] });
    const text = allText(msg);
    assert.ok(text.includes('*Approved* by alice via the CLI'));
    assert.ok(text.includes('*Approved* by <@U0DAVE001> via Slack'));
  });

  it('never turns a malformed slack: identity into a mention', () => {
    const rec = record({}, { status: 'approved', decisions: [vote('slack:<!channel>', 'approve')] });
    assertInert(decidedMessage(rec));
  });

  it('shows who rejected and the reason', () => {
    const rec = record(
      {},
      {
        status: 'rejected',
        decisions: [vote('bob', 'reject', { via: 'console', reason: 'Use web-02 <https://evil|x>' })],
        reason: 'Use web-02 <https://evil|x>',
        decidedBy: 'bob',
      },
    );
    const msg = decidedMessage(rec);
    assertWithinBlockKitLimits(msg);
    assertInert(msg);
    const text = allText(msg);
    assert.equal(textOf(blocksOfType(msg, 'header')[0]?.['text']), 'Rejected: start_vm');
    assert.ok(text.includes(':x: *Rejected* by bob via the console'));
    assert.ok(text.includes('*Reason:* Use web-02 &lt;https://evil|x&gt;'));
  });

  it('clips a huge reason and many long comments within limits', () => {
    const decisions = Array.from({ length: 30 }, (_, i) =>
      vote(`r${i}`, 'approve', { comment: '&'.repeat(5000), display: '<'.repeat(500) }),
    );
    const rec = record(
      {},
      {
        status: 'rejected',
        approval: approvalSpec({ minApprovals: 40 }),
        decisions: [...decisions, vote('bob', 'reject', { reason: 'x'.repeat(100_000) })],
        reason: 'x'.repeat(100_000),
      },
    );
    const msg = decidedMessage(rec);
    assertWithinBlockKitLimits(msg);
    assertInert(msg);
    assert.match(allText(msg), /…and \d+ more \(see the console\)/);
  });

  it('reports the execution outcome once the call ran', () => {
    const base = record({}, { decisions: [vote('alice', 'approve')] });
    const executed = decidedMessage({
      ...base,
      status: 'executed',
      execution: { startedAt: T0, finishedAt: T0 + 1500, isError: false },
    });
    assert.ok(allText(executed).includes('Ran in 1.5s'));
    const failed = decidedMessage({
      ...base,
      status: 'failed',
      execution: { startedAt: T0, finishedAt: T0 + 200_000, isError: true },
    });
    assert.ok(allText(failed).includes(':warning: Failed after 3m 20s'));
    const running = decidedMessage({ ...base, status: 'executing', execution: { startedAt: T0 } });
    assert.ok(allText(running).includes('Running upstream'));
  });
});

describe('expiredMessage, cancelledMessage and messageFor', () => {
  it('says the request expired with no decision and shows partial approvals', () => {
    const rec = record(
      {},
      {
        status: 'expired',
        decidedAt: T0 + 900_000,
        approval: approvalSpec({ minApprovals: 2 }),
        decisions: [vote('alice', 'approve')],
      },
    );
    const msg = expiredMessage(rec);
    assertWithinBlockKitLimits(msg);
    assertInert(msg);
    assert.equal(blocksOfType(msg, 'actions').length, 0);
    const text = allText(msg);
    assert.ok(text.includes(':hourglass: *Expired* — no decision by <!date^'));
    assert.ok(text.includes('Approvals so far (1 of 2)'));
  });

  it('says the request was cancelled and why', () => {
    const msg = cancelledMessage(
      record({}, { status: 'cancelled', decidedAt: T0 + 5, reason: 'agent <!here> gave up' }),
    );
    assertWithinBlockKitLimits(msg);
    assertInert(msg);
    assert.ok(allText(msg).includes('*Cancelled* at <!date^'));
    assert.ok(allText(msg).includes('agent &lt;!here&gt; gave up. The call was not run.'));
  });

  it('picks the builder for the record’s status', () => {
    const header = (m: SlackMessage): string => textOf(blocksOfType(m, 'header')[0]?.['text']);
    assert.equal(header(messageFor(record())), 'Approval needed: start_vm');
    assert.equal(header(messageFor(record({}, { status: 'approved' }))), 'Approved: start_vm');
    assert.equal(header(messageFor(record({}, { status: 'failed' }))), 'Approved: start_vm');
    assert.equal(header(messageFor(record({}, { status: 'rejected' }))), 'Rejected: start_vm');
    assert.equal(header(messageFor(record({}, { status: 'expired' }))), 'Expired: start_vm');
    assert.equal(header(messageFor(record({}, { status: 'cancelled' }))), 'Cancelled: start_vm');
    assert.equal(header(decidedMessage(record({}, { status: 'expired' }))), 'Expired: start_vm');
  });
});

describe('executionReply', () => {
  it('reports success and duration', () => {
    const reply = executionReply(
      record({}, { status: 'executed', execution: { startedAt: T0, finishedAt: T0 + 850, isError: false } }),
    );
    assert.equal(reply.text, ':white_check_mark: `start_vm` on `lab` ran in 850ms.');
  });

  it('reports the upstream error, escaped and fenced', () => {
    const reply = executionReply(
      record(
        {},
        {
          status: 'failed',
          execution: {
            startedAt: T0,
            finishedAt: T0 + 2300,
            isError: true,
            summary: 'VM <!channel> not found ``` & gone',
          },
        },
      ),
    );
    assert.ok(reply.text.startsWith(':warning: `start_vm` on `lab` failed after 2.3s.\n```\n'));
    assert.ok(reply.text.includes('VM &lt;!channel&gt; not found `\u200b`\u200b` &amp; gone'));
    assertInert(reply);
  });

  it('keeps a 100 KB error within limits', () => {
    const reply = executionReply(
      record(
        {},
        {
          status: 'failed',
          execution: { startedAt: T0, finishedAt: T0 + 1, isError: true, summary: '<'.repeat(100_000) },
        },
      ),
    );
    within('reply', reply.text, BLOCK_KIT_LIMITS.messageText);
    assertInert(reply);
    assert.ok(reply.text.endsWith('…\n```'));
    const fences = executionReply(
      record(
        {},
        {
          status: 'failed',
          execution: { startedAt: T0, finishedAt: T0 + 1, isError: true, summary: '`'.repeat(100_000) },
        },
      ),
    );
    within('reply', fences.text, BLOCK_KIT_LIMITS.messageText);
    assert.equal(fences.text.match(/```/g)?.length, 2);
  });

  it('says why nothing ran for other statuses', () => {
    assert.match(
      executionReply(record({}, { status: 'rejected' })).text,
      /did not run: the request is rejected/,
    );
    assert.match(
      executionReply(record({}, { status: 'executing', execution: { startedAt: T0 } })).text,
      /is running/,
    );
  });
});

describe('rejectReasonModal', () => {
  it('is a modal carrying the request id, with a required reason of up to 3000 chars', () => {
    const view = rejectReasonModal(ID);
    assertWithinBlockKitLimits(view, 'modal');
    assert.equal(view.type, 'modal');
    assert.equal(view.callback_id, REJECT_MODAL_CALLBACK_ID);
    assert.equal(view.callback_id, 'airlock_reject_modal');
    assert.equal(view.private_metadata, ID);
    const input = (view.blocks as unknown as Json[]).find((b) => b['type'] === 'input');
    assert.equal(input?.['block_id'], REASON_BLOCK_ID);
    const el = asObj(input?.['element']);
    assert.equal(el['type'], 'plain_text_input');
    assert.equal(el['action_id'], REASON_ACTION_ID);
    assert.equal(el['max_length'], 3000);
    assert.equal(el['min_length'], 1);
    assertInert(view);
  });
});

describe('refusalText', () => {
  it('is escaped and within limits', () => {
    assert.equal(
      refusalText('bob is not an approver <!channel>'),
      ':no_entry: bob is not an approver &lt;!channel&gt;',
    );
    const long = refusalText('&'.repeat(10_000));
    within('refusal', long, BLOCK_KIT_LIMITS.messageText);
    assertInert({ text: long });
  });
});
