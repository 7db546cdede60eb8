// "Approve for…": approve a request with a grant, so the agent's matching calls run without a new
// request for a while. Only what the request's rule offers (`approval.grants`: the longest duration
// and the scopes) can be picked; the server checks it again and its refusal is shown in the dialog.

import { h } from './dom.js';
import { SCOPE_LABEL } from './record-notes.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
/** Usual durations, offered when shorter than the rule's longest grant. */
const PRESETS = ['15m', '1h', '4h', '8h', '1d', '7d'];

/** The grants a request's rule offers, `{max, maxMs, scopes}`; null when it offers none (approve once only). */
export function grantOffer(record) {
  const g = record?.approval?.grants;
  if (!g || !Array.isArray(g.scopes) || !g.scopes.length) return null;
  return typeof g.maxMs === 'number' && g.maxMs > 0 ? g : null;
}

/** Milliseconds of a duration written as the policy writes them (`30m`, `2h`, `1h30m`); undefined if invalid. */
export function parseDuration(text) {
  const s = String(text ?? '').trim();
  if (!s || s.length > 64) return undefined;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < s.length) {
    const start = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  const ms = Math.round(total);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** A duration in words for buttons: "15 minutes", "1 hour", "1 day", "90 seconds". */
export function spell(ms) {
  for (const [unit, size] of [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1000],
  ]) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms === size ? '' : 's'}`;
  }
  if (ms >= 3_600_000) return `${Math.floor(ms / 3_600_000)}h ${Math.round((ms % 3_600_000) / 60_000)}m`;
  if (ms >= 60_000) return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`;
  return `${ms} ms`;
}

/** The durations to pick from: the usual ones shorter than the longest grant, then the longest itself. */
export function presets(offer) {
  const out = PRESETS.map((text) => ({ text, ms: parseDuration(text) })).filter((p) => p.ms < offer.maxMs);
  out.push({ text: offer.max, ms: offer.maxMs, longest: true });
  return out;
}

/**
 * The "Approve for…" button of a request whose rule offers grants, or null. `submit(body)` sends
 * `{grant: {for, scope}, comment?}` and throws to keep the dialog open with its message; `comment()`
 * gives the comment already typed next to the button, if any.
 */
export function grantButton(record, { id, label, submit, comment = () => '' }) {
  const offer = grantOffer(record);
  if (!offer) return null;
  return h(
    'button',
    {
      id,
      type: 'button',
      class: 'approve-for',
      'aria-haspopup': 'dialog',
      'aria-label': label ? `Approve ${label} for a while` : undefined,
      onclick: () => askGrant(record, offer, submit, comment()),
    },
    'Approve for…',
  );
}

let dialog = null;

/** Opens the dialog; resolves when it closes (sent, cancelled, or replaced by another). */
function askGrant(record, offer, submit, initialComment) {
  dialog?.close('replaced');
  dialog?.remove();
  const choices = presets(offer);
  const initial = choices.find((c) => c.text === '1h') ?? choices[choices.length - 1];
  let chosen = initial.text;
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const submitButton = h('button', { type: 'submit', class: 'approve', id: 'grant-submit' });
  const custom = h('input', {
    id: 'grant-custom',
    name: 'grant-custom',
    type: 'text',
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    placeholder: `e.g. 90m or 2h30m, at most ${offer.max}`,
    'aria-label': `Other duration, at most ${offer.max}`,
    oninput: () => pick('other'),
  });
  const pick = (value) => {
    chosen = value;
    form.elements['grant-for'].value = value;
    paintSubmit();
  };
  const paintSubmit = () => {
    const ms = chosen === 'other' ? parseDuration(custom.value) : parseDuration(chosen);
    submitButton.textContent = ms && ms <= offer.maxMs ? `Approve for ${spell(ms)}` : 'Approve for…';
  };
  const radio = (name, value, text, checked) =>
    h(
      'label',
      { class: 'choice' },
      h('input', {
        type: 'radio',
        name,
        value,
        checked,
        onchange: name === 'grant-for' ? () => pick(value) : undefined,
      }),
      h('span', {}, text),
    );
  const scopes = offer.scopes.filter((s) => SCOPE_LABEL[s]);
  const comment = h('textarea', { id: 'grant-comment', name: 'comment', rows: '2', maxlength: '3000' });
  comment.value = initialComment ?? '';
  const form = h(
    'form',
    { novalidate: true },
    h('h2', { id: 'grant-title' }, 'Approve for a while'),
    h(
      'p',
      { class: 'muted' },
      `${record.tool} on ${record.server}, requested by ${record.agent} (${record.id})`,
    ),
    h(
      'p',
      { class: 'small' },
      `Until the grant expires or is revoked, ${record.agent}'s matching calls run at once, without a new request. ` +
        'Rate limits still count them and deny rules still deny.',
    ),
    h(
      'fieldset',
      { class: 'choices' },
      h('legend', {}, `For how long (at most ${offer.max})`),
      choices.map((c) =>
        radio('grant-for', c.text, `${spell(c.ms)}${c.longest ? ' (longest allowed)' : ''}`, c === initial),
      ),
      radio('grant-for', 'other', 'Other…', false),
      custom,
    ),
    h(
      'fieldset',
      { class: 'choices' },
      h('legend', {}, 'Which calls'),
      scopes.map((s, i) =>
        radio(
          'grant-scope',
          s,
          s === 'exact' ? 'Exactly these arguments' : `Any arguments to ${record.tool}`,
          i === 0,
        ),
      ),
    ),
    h('label', { for: 'grant-comment' }, 'Comment with your approval (optional)'),
    comment,
    error,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'),
      submitButton,
    ),
  );
  const showError = (message, focus) => {
    error.textContent = message;
    error.hidden = !message;
    if (message) (focus ?? submitButton).focus();
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = chosen === 'other' ? custom.value.trim() : chosen;
    const ms = parseDuration(text);
    if (ms === undefined)
      return showError('Enter a duration as a number and a unit, like 30m, 2h or 1h30m.', custom);
    if (ms > offer.maxMs)
      return showError(`That is longer than this rule allows: at most ${offer.max}.`, custom);
    const scope = form.elements['grant-scope'].value || scopes[0];
    const body = { grant: { for: text, scope } };
    if (comment.value.trim()) body.comment = comment.value.trim();
    const label = submitButton.textContent;
    submitButton.disabled = true;
    submitButton.textContent = 'Approving…';
    showError('');
    try {
      await submit(body);
      dialog.close('done');
    } catch (err) {
      showError(err.message);
    } finally {
      submitButton.disabled = false;
      submitButton.textContent = label;
    }
  });
  const d = h(
    'dialog',
    { id: 'grant-dialog', class: 'grant-dialog', 'aria-labelledby': 'grant-title' },
    form,
  );
  dialog = d;
  document.body.append(d);
  paintSubmit();
  return new Promise((resolve) => {
    d.addEventListener('close', () => {
      d.remove();
      if (dialog === d) dialog = null;
      resolve(d.returnValue);
    });
    d.showModal();
    form.querySelector('input[name=grant-for]:checked')?.focus();
  });
}
