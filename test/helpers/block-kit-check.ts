// What Slack would reject in Airlock's messages and modals, so the fake answers invalid_blocks like Slack.

type Json = Record<string, unknown>;

// The limits Slack enforces on what Airlock sends (https://docs.slack.dev/reference/block-kit/blocks).
const LIMITS = {
  blocks: 50,
  modalBlocks: 100,
  section: 3000,
  field: 2000,
  fields: 10,
  header: 150,
  context: 10,
  actions: 25,
  button: 75,
  buttonValue: 2000,
  id: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  modalTitle: 24,
  privateMetadata: 3000,
  messageText: 40_000,
};

/** What Slack would reject in a message's `blocks` and `text`, one line per problem; `[]` when valid. */
export function blockKitProblems(blocks: unknown, text?: unknown): string[] {
  const problems: string[] = [];
  if (typeof text === 'string' && text.length > LIMITS.messageText)
    problems.push(`text is ${text.length} chars`);
  if (blocks === undefined) return problems;
  if (!Array.isArray(blocks)) return [...problems, 'blocks is not an array'];
  if (blocks.length > LIMITS.blocks) problems.push(`${blocks.length} blocks > ${LIMITS.blocks}`);
  blocks.forEach((b, i) => checkBlock(b as Json, `blocks[${i}]`, problems));
  return problems;
}

/** What Slack would reject in a modal view. */
export function viewProblems(view: unknown): string[] {
  const v = view as Json | undefined;
  if (!v || typeof v !== 'object') return ['view is missing'];
  const problems: string[] = [];
  const blocks = (v.blocks as unknown[]) ?? [];
  if (blocks.length > LIMITS.modalBlocks) problems.push(`${blocks.length} modal blocks`);
  for (const key of ['title', 'submit', 'close']) {
    const t = v[key] as Json | undefined;
    if (t) textObject(t, `view.${key}`, LIMITS.modalTitle, problems);
  }
  if (typeof v.private_metadata === 'string' && v.private_metadata.length > LIMITS.privateMetadata) {
    problems.push('private_metadata too long');
  }
  blocks.forEach((b, i) => {
    const block = b as Json;
    if (block.type === 'input') {
      textObject(block.label as Json, `view.blocks[${i}].label`, 2000, problems);
      id(block.block_id, `view.blocks[${i}].block_id`, problems);
    } else checkBlock(block, `view.blocks[${i}]`, problems);
  });
  return problems;
}

function checkBlock(block: Json, at: string, problems: string[]): void {
  id(block.block_id, `${at}.block_id`, problems);
  switch (block.type) {
    case 'header':
      textObject(block.text as Json, `${at}.text`, LIMITS.header, problems, 'plain_text');
      break;
    case 'section': {
      if (block.text) textObject(block.text as Json, `${at}.text`, LIMITS.section, problems);
      const fields = (block.fields as Json[] | undefined) ?? [];
      if (fields.length > LIMITS.fields) problems.push(`${at}: ${fields.length} fields`);
      fields.forEach((f, i) => textObject(f, `${at}.fields[${i}]`, LIMITS.field, problems));
      if (!block.text && fields.length === 0) problems.push(`${at}: section without text or fields`);
      break;
    }
    case 'context': {
      const elements = (block.elements as Json[] | undefined) ?? [];
      if (elements.length === 0 || elements.length > LIMITS.context)
        problems.push(`${at}: ${elements.length} elements`);
      elements.forEach((e, i) => textObject(e, `${at}.elements[${i}]`, LIMITS.section, problems));
      break;
    }
    case 'actions': {
      const elements = (block.elements as Json[] | undefined) ?? [];
      if (elements.length === 0 || elements.length > LIMITS.actions)
        problems.push(`${at}: ${elements.length} elements`);
      elements.forEach((e, i) => checkButton(e, `${at}.elements[${i}]`, problems));
      break;
    }
    case 'divider':
      break;
    default:
      problems.push(`${at}: unexpected block type ${String(block.type)}`);
  }
}

function checkButton(e: Json, at: string, problems: string[]): void {
  if (e.type === 'static_select') return checkSelect(e, at, problems);
  if (e.type !== 'button') return;
  textObject(e.text as Json, `${at}.text`, LIMITS.button, problems, 'plain_text');
  id(e.action_id, `${at}.action_id`, problems);
  if (typeof e.value === 'string' && e.value.length > LIMITS.buttonValue)
    problems.push(`${at}.value too long`);
  const c = e.confirm as Json | undefined;
  if (c) {
    textObject(c.title as Json, `${at}.confirm.title`, LIMITS.confirmTitle, problems, 'plain_text');
    textObject(c.text as Json, `${at}.confirm.text`, LIMITS.confirmText, problems);
    textObject(c.confirm as Json, `${at}.confirm.confirm`, LIMITS.confirmButton, problems, 'plain_text');
    textObject(c.deny as Json, `${at}.confirm.deny`, LIMITS.confirmButton, problems, 'plain_text');
  }
}

// Slack's static_select: 100 options at most (over all groups), 75-char texts and labels, 150-char values.
function checkSelect(e: Json, at: string, problems: string[]): void {
  id(e.action_id, `${at}.action_id`, problems);
  textObject(e.placeholder as Json, `${at}.placeholder`, 150, problems, 'plain_text');
  const groups = (e.option_groups as Json[] | undefined) ?? [];
  if (e.options && e.option_groups) problems.push(`${at}: both options and option_groups`);
  groups.forEach((g, i) => textObject(g.label as Json, `${at}.option_groups[${i}].label`, 75, problems));
  const options = [
    ...((e.options as Json[] | undefined) ?? []),
    ...groups.flatMap((g) => (g.options as Json[] | undefined) ?? []),
  ];
  if (options.length === 0 || options.length > 100) problems.push(`${at}: ${options.length} options`);
  options.forEach((o, i) => {
    textObject(o.text as Json, `${at}.options[${i}].text`, 75, problems, 'plain_text');
    if (typeof o.value !== 'string' || o.value.length > 150) problems.push(`${at}.options[${i}].value`);
  });
  const c = e.confirm as Json | undefined;
  if (c) textObject(c.text as Json, `${at}.confirm.text`, LIMITS.confirmText, problems);
}

function textObject(t: Json | undefined, at: string, max: number, problems: string[], type?: string): void {
  if (!t || typeof t.text !== 'string') {
    problems.push(`${at}: missing text`);
    return;
  }
  if (type && t.type !== type) problems.push(`${at}: must be ${type}`);
  if (t.text.length === 0) problems.push(`${at}: empty text`);
  if (t.text.length > max) problems.push(`${at}: ${t.text.length} chars > ${max}`);
}

function id(value: unknown, at: string, problems: string[]): void {
  if (typeof value === 'string' && value.length > LIMITS.id) problems.push(`${at} too long`);
}
