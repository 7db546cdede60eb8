import type { types } from '@slack/bolt';
import type { ApprovalRecord } from '../../core/approval/types.js';
import { jsonErrorOffset } from '../../core/policy/json-error-offset.js';
import { redactForDisplay } from '../../core/redact.js';
import { BLOCK_KIT_LIMITS } from './limits.js';
import { inlineCode } from './text.js';

/** action_id of the "Approve with changes" button, which opens the edit modal. */
export const EDIT_ACTION_ID = 'airlock_edit';
/** callback_id of the edit modal; its private_metadata is the request id. */
export const EDIT_MODAL_CALLBACK_ID = 'airlock_edit_modal';
/** block_id of the modal's arguments input: `view.state.values[EDIT_ARGS_BLOCK_ID][EDIT_ARGS_ACTION_ID].value`. */
export const EDIT_ARGS_BLOCK_ID = 'airlock_edit_args';
/** action_id of the modal's arguments input. */
export const EDIT_ARGS_ACTION_ID = 'airlock_edit_args_input';
/** block_id of the modal's optional comment input. */
export const EDIT_COMMENT_BLOCK_ID = 'airlock_edit_comment';
/** action_id of the modal's comment input. */
export const EDIT_COMMENT_ACTION_ID = 'airlock_edit_comment_input';

/** True when the request's rule lets one reviewer approve with changed arguments. */
export function editable(record: Pick<ApprovalRecord, 'approval'>): boolean {
  return record.approval.allowEdit === true && record.approval.minApprovals <= 1;
}

/**
 * The request's arguments as the modal shows them: the redacted display copy, pretty-printed. A secret
 * left as `[REDACTED]` keeps its value when submitted.
 */
export function editableText(record: Pick<ApprovalRecord, 'args'>): string {
  return JSON.stringify(redactForDisplay(record.args), null, 2) ?? '{}';
}

/** True when the arguments fit the input's initial value (Slack refuses longer ones; cutting would change them). */
export function fitsSlackEditor(record: Pick<ApprovalRecord, 'args'>): boolean {
  return editableText(record).length <= BLOCK_KIT_LIMITS.inputMaxLength;
}

/** The "Approve with changes" button for a request whose rule allows edits; none otherwise. */
export function editButtons(record: ApprovalRecord): types.Button[] {
  if (!editable(record)) return [];
  return [
    {
      type: 'button',
      action_id: EDIT_ACTION_ID,
      text: { type: 'plain_text', text: 'Approve with changes' },
      value: record.id.slice(0, BLOCK_KIT_LIMITS.buttonValue),
    },
  ];
}

/** The text a reviewer gets instead of the modal when the arguments are too long for Slack's editor. */
export function tooLongToEditText(record: ApprovalRecord, consoleLink?: string): string {
  const n = editableText(record).length;
  const where = consoleLink ? `the console (<${consoleLink}|open>)` : 'the console';
  return `The arguments of ${inlineCode(record.id, 100)} are ${n} characters as JSON, more than Slack's editor holds (${BLOCK_KIT_LIMITS.inputMaxLength}); edit them in ${where} or with \`airlock approve ${record.id} --args '<JSON>'\`.`;
}

/** The `views.open` modal behind "Approve with changes", prefilled with the arguments as pretty JSON. */
export function editArgsModal(record: ApprovalRecord): types.ModalView {
  return {
    type: 'modal',
    callback_id: EDIT_MODAL_CALLBACK_ID,
    private_metadata: record.id.slice(0, BLOCK_KIT_LIMITS.privateMetadata),
    title: { type: 'plain_text', text: 'Approve with changes' },
    submit: { type: 'plain_text', text: 'Approve' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `Change the arguments of ${inlineCode(`${record.server}/${record.tool}`, 200)} (request ${inlineCode(record.id, 100)}), then approve. Exactly what you submit runs, once; the policy and the tool's schema are checked again. A value left as \`[REDACTED]\` keeps the original.`,
        },
      },
      {
        type: 'input',
        block_id: EDIT_ARGS_BLOCK_ID,
        label: { type: 'plain_text', text: 'Arguments (JSON object)' },
        element: {
          type: 'plain_text_input',
          action_id: EDIT_ARGS_ACTION_ID,
          multiline: true,
          min_length: 2,
          max_length: BLOCK_KIT_LIMITS.inputMaxLength,
          initial_value: editableText(record),
        },
      },
      {
        type: 'input',
        block_id: EDIT_COMMENT_BLOCK_ID,
        optional: true,
        label: { type: 'plain_text', text: 'Comment (optional)' },
        element: {
          type: 'plain_text_input',
          action_id: EDIT_COMMENT_ACTION_ID,
          max_length: BLOCK_KIT_LIMITS.inputMaxLength,
          placeholder: { type: 'plain_text', text: 'Why the change; kept in history' },
        },
      },
    ],
  };
}

/** The submitted arguments, or a sentence saying what is wrong with them (line and column for bad JSON). */
export function parseEditedArgs(
  text: string,
): { ok: true; args: Record<string, unknown> } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const offset = jsonErrorOffset(text);
    if (offset === undefined) return { ok: false, error: 'This is not valid JSON.' };
    const before = text.slice(0, offset).split('\n');
    const line = before.length;
    const column = (before[before.length - 1]?.length ?? 0) + 1;
    return { ok: false, error: `This is not valid JSON: error at line ${line}, column ${column}.` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: 'The arguments must be a JSON object, like {"vm_name": "web-01"}.' };
  }
  return { ok: true, args: value as Record<string, unknown> };
}
