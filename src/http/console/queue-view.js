// The pending queue: one card per held call, most urgent first, updated in place as changes arrive.

import { h, facts, countdownEl, timeEl, jsonPreview, requestHref } from './dom.js';
import { grantButton } from './grant-choice.js';

/** Errors that mean the request is no longer pending: the card stays to say so until dismissed. */
const GONE = new Set(['ALREADY_DECIDED', 'APPROVAL_EXPIRED', 'NOT_FOUND']);

/**
 * Mounts the queue into `view`. `ctx.pending` is the shared pending store (an EventTarget firing
 * `change`), `ctx.decide(record, decision, body)` sends a decision, `ctx.askReason(record, submit)`
 * opens the reject dialog.
 */
export function mountQueue(view, ctx) {
  const heading = h('h1', {}, 'Pending approvals');
  const status = h('div', { class: 'queue-status', 'aria-live': 'polite' });
  const list = h('div', { class: 'queue', id: 'queue' });
  view.replaceChildren(heading, status, list);
  /** id → {record, key, el, error, busy, gone} */
  const entries = new Map();
  /** Decided here; hidden even while a not-yet-refreshed list still shows them as pending. */
  const decided = new Set();

  const render = () => {
    const { records, error } = ctx.pending;
    status.replaceChildren();
    if (error)
      status.append(h('p', { class: 'error', role: 'alert' }, `Could not load the queue: ${error.message}`));
    if (records === null) {
      if (!error) status.append(h('p', { class: 'muted' }, 'Loading…'));
      return;
    }
    const live = new Set(records.map((r) => r.id));
    for (const id of decided) if (!live.has(id)) decided.delete(id);
    for (const [id, e] of entries) if (!live.has(id) && !e.gone && !e.busy) entries.delete(id);
    for (const r of records) {
      if (decided.has(r.id)) continue;
      const e = entries.get(r.id);
      if (!e) entries.set(r.id, { record: r, key: keyOf(r) });
      else if (!e.busy && !e.gone && keyOf(r) !== e.key)
        Object.assign(e, { record: r, key: keyOf(r), el: null });
    }
    const ordered = [...entries.values()].sort(
      (a, b) =>
        (a.record.expiresAt ?? Infinity) - (b.record.expiresAt ?? Infinity) ||
        a.record.createdAt - b.record.createdAt,
    );
    for (const e of ordered) e.el ??= card(e);
    place(
      list,
      ordered.map((e) => e.el),
    );
    if (!ordered.length) {
      status.append(
        h(
          'p',
          { class: 'empty' },
          'Nothing is waiting for approval. New requests appear here as soon as an agent makes them.',
        ),
      );
    }
  };

  const act = async (e, decision, body) => {
    e.busy = true;
    try {
      const updated = await ctx.decide(e.record, decision, body);
      e.busy = false;
      if (updated.status === 'pending')
        Object.assign(e, { record: updated, key: keyOf(updated), error: null });
      else {
        entries.delete(e.record.id);
        decided.add(e.record.id);
      }
    } catch (err) {
      e.busy = false;
      e.error = err.message;
      if (GONE.has(err.code) || err.status === 404 || err.status === 409) e.gone = true;
      // A reject or a grant comes from a dialog, which stays open to show why.
      if ((decision === 'reject' || body?.grant) && !e.gone) throw err;
    } finally {
      e.el = null;
      render();
    }
  };

  const card = (e) => {
    const r = e.record;
    const label = `${r.tool} on ${r.server} (${r.id})`;
    const titleId = `req-${Math.random().toString(36).slice(2)}`;
    const approvals = (r.decisions ?? []).filter((d) => d.decision === 'approve');
    const min = r.approval?.minApprovals ?? 1;
    const preview = jsonPreview(r.args);
    const buttons = [];
    if (e.gone) {
      buttons.push(
        h(
          'button',
          { type: 'button', class: 'secondary', onclick: () => (entries.delete(r.id), render()) },
          'Dismiss',
        ),
      );
    } else {
      const approve = h(
        'button',
        {
          type: 'button',
          class: 'approve',
          'aria-label': `Approve ${label}`,
          onclick: () => run(approve, 'Approving…', () => act(e, 'approve', {})),
        },
        'Approve',
      );
      const approveFor = grantButton(r, { label, submit: (body) => act(e, 'approve', body) });
      if (approveFor) {
        approve.textContent = 'Approve once';
        approve.setAttribute('aria-label', `Approve ${label} once`);
      }
      const reject = h(
        'button',
        {
          type: 'button',
          class: 'reject',
          'aria-label': `Reject ${label}`,
          'aria-haspopup': 'dialog',
          onclick: () => ctx.askReason(r, (reason) => act(e, 'reject', { reason })),
        },
        'Reject…',
      );
      buttons.push(approve, approveFor, reject);
    }
    buttons.push(
      h(
        'a',
        { class: 'button secondary', href: requestHref(r.id), 'aria-label': `Details of ${label}` },
        'Details',
      ),
    );
    return h(
      'article',
      { class: `card${e.gone ? ' gone' : ''}`, 'aria-labelledby': titleId, dataset: { id: r.id } },
      h(
        'header',
        { class: 'card-head' },
        h(
          'h2',
          { id: titleId, class: 'card-title' },
          h('span', { class: 'tool' }, r.tool),
          h('span', { class: 'on' }, ' on '),
          h('span', { class: 'server' }, r.server),
        ),
        e.gone ? null : countdownEl(r.expiresAt),
      ),
      facts(
        [
          ['Agent', r.agent],
          ['Rule', r.rule],
          ['Requested', timeEl(r.createdAt, { relative: true })],
          min > 1 && [
            'Approvals',
            `${approvals.length} of ${min}${approvals.length ? ` (${approvals.map((d) => d.display || d.by).join(', ')})` : ''}`,
          ],
        ],
        'facts inline',
      ),
      h('pre', { class: 'args', tabindex: '0', 'aria-label': `Arguments of ${label}` }, preview.text),
      preview.truncated
        ? h('p', { class: 'muted small' }, h('a', { href: requestHref(r.id) }, 'See the full arguments'))
        : null,
      e.error ? h('p', { class: 'error', role: 'alert' }, e.error) : null,
      h('div', { class: 'actions' }, buttons),
    );
  };

  ctx.pending.addEventListener('change', render);
  render();
  return {
    update() {},
    destroy() {
      ctx.pending.removeEventListener('change', render);
    },
  };
}

/** A card is rebuilt only when what it shows changes. */
function keyOf(r) {
  return `${r.status}|${(r.decisions ?? []).length}|${r.expiresAt}`;
}

/** Disables a button with a busy label while `fn` runs. */
async function run(button, busyText, fn) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  try {
    await fn();
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}

/**
 * Makes `parent`'s children exactly `nodes` while moving as few as possible, so a card a reviewer is
 * using keeps its focus when other cards arrive or leave.
 */
function place(parent, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...parent.children]) if (!wanted.has(child)) child.remove();
  let cursor = parent.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) cursor = cursor.nextElementSibling;
    else parent.insertBefore(node, cursor);
  }
}
