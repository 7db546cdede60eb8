// "Edit and approve": the arguments as editable JSON, checked in the page (JSON syntax) and then by
// Airlock (the tool's input schema, the policy). Any refusal is shown in the dialog; the request stays
// pending until an edit is accepted.

import { h, prettyJson } from './dom.js';

let dialog = null;
let active = null;

/** True when the request's rule lets one reviewer approve with changed arguments. */
export function editable(record) {
  return (
    record.status === 'pending' &&
    record.approval?.allowEdit === true &&
    (record.approval?.minApprovals ?? 1) <= 1
  );
}

function parts() {
  if (dialog) return dialog;
  const el = {
    summary: h('p', { id: 'edit-summary', class: 'muted' }),
    args: h('textarea', { id: 'edit-args', name: 'args', rows: '12', spellcheck: 'false', class: 'code' }),
    comment: h('input', { id: 'edit-comment', name: 'comment', type: 'text', maxlength: '3000' }),
    error: h('p', { id: 'edit-error', class: 'error', role: 'alert', hidden: true }),
    submit: h(
      'button',
      { type: 'submit', id: 'edit-submit', class: 'approve' },
      'Approve with these arguments',
    ),
    cancel: h('button', { type: 'button', id: 'edit-cancel', class: 'secondary' }, 'Cancel'),
  };
  const form = h(
    'form',
    { id: 'edit-form', novalidate: true },
    h('h2', { id: 'edit-title' }, 'Edit and approve'),
    el.summary,
    h(
      'label',
      { for: 'edit-args' },
      'Arguments (a JSON object; a value left as "[REDACTED]" keeps the original)',
    ),
    el.args,
    h('label', { for: 'edit-comment' }, 'Comment (optional, kept in the history)'),
    el.comment,
    el.error,
    h('div', { class: 'actions' }, el.cancel, el.submit),
  );
  el.dialog = h('dialog', { id: 'edit-dialog', class: 'wide', 'aria-labelledby': 'edit-title' }, form);
  document.body.append(el.dialog);
  el.cancel.addEventListener('click', () => el.dialog.close('cancel'));
  el.dialog.addEventListener('close', () => {
    active?.done();
    active = null;
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!active) return;
    const parsed = parseArgs(el.args.value);
    if (parsed.error) return showError(el, parsed.error);
    el.submit.disabled = true;
    el.submit.textContent = 'Approving…';
    showError(el, '');
    const comment = el.comment.value.trim();
    try {
      await active.submit({ args: parsed.args, ...(comment ? { comment } : {}) });
      el.dialog.close('done');
    } catch (err) {
      // Schema and policy refusals (4xx, 409) leave the request pending: fix the JSON and try again.
      showError(el, err.message);
    } finally {
      el.submit.disabled = false;
      el.submit.textContent = 'Approve with these arguments';
    }
  });
  dialog = el;
  return el;
}

/** The arguments as an object, or the reason the text is not one. */
export function parseArgs(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `Not valid JSON: ${err.message}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'The arguments must be a JSON object, like {"vm_name": "web-01"}.' };
  }
  return { args: value };
}

function showError(el, message) {
  el.error.textContent = message;
  el.error.hidden = !message;
  if (message) el.args.focus();
}

/**
 * Opens the dialog prefilled with the request's (display) arguments. `submit({args, comment?})` sends
 * the approval; when it throws, its message is shown and the reviewer can fix the JSON or cancel.
 * Resolves when the dialog closes.
 */
export function askEdit(record, submit) {
  const el = parts();
  if (el.dialog.open) el.dialog.close('replaced');
  el.summary.textContent = `${record.tool} on ${record.server}, requested by ${record.agent} (${record.id}). Exactly what you submit runs, once.`;
  el.args.value = prettyJson(record.args ?? {});
  el.comment.value = '';
  showError(el, '');
  return new Promise((resolve) => {
    active = { submit, done: resolve };
    el.dialog.showModal();
    el.args.focus();
  });
}

/** The facts of an edit for the detail page: who changed the arguments, and the agent's original ones. */
export function editedSection(r) {
  const e = r.edited;
  if (!e) return null;
  const who = e.display && e.display !== e.by ? `${e.display} (${e.by})` : e.by;
  return h(
    'section',
    { class: 'panel', id: 'edited' },
    h('h2', {}, 'Original arguments'),
    h(
      'p',
      { class: 'muted small' },
      `Edited by ${who} via ${e.via} when approving; the arguments above are what ran. The agent sent these (argument hash `,
      h('code', { class: 'hash' }, e.originalHash),
      ').',
    ),
    h(
      'pre',
      { class: 'args full', tabindex: '0', 'aria-label': 'Original arguments' },
      prettyJson(e.originalArgs ?? {}),
    ),
  );
}
