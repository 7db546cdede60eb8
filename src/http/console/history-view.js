// History: every request, newest first, filtered by the fields in the URL hash, paged by cursor,
// exportable as CSV or JSON with the same filters.

import { api, query, ApiError } from './api.js';
import { h, statusBadge, timeEl, requestHref, STATUSES } from './dom.js';
import { shadowBadge, grantedNote, grantMadeNote } from './record-notes.js';
import { filterForm, labelled, textFilter } from './filter-form.js';

const DEFAULT_PAGE = 50;
const TEXT_FILTERS = ['server', 'tool', 'agent'];

/** The API's filters from the hash's (what the form shows): datetimes become epoch milliseconds. */
export function apiFilters(params) {
  const out = {};
  const status = params.get('status');
  if (status) out.status = status;
  for (const k of TEXT_FILTERS) if (params.get(k)?.trim()) out[k] = params.get(k).trim();
  if (params.get('shadow') === 'true' || params.get('shadow') === 'false') out.shadow = params.get('shadow');
  for (const k of ['since', 'until']) {
    const v = params.get(k);
    const ms = v ? new Date(v).getTime() : NaN;
    if (Number.isFinite(ms)) out[k] = ms;
  }
  return out;
}

/** Mounts the history for the filters in `params` (URLSearchParams from the hash). */
export function mountHistory(view, params) {
  const filters = apiFilters(params);
  // `limit` in the hash sets the page size (not in the form: a power-user and test knob).
  const asked = Number(params.get('limit'));
  const pageSize = Number.isInteger(asked) && asked >= 1 && asked <= 500 ? asked : DEFAULT_PAGE;
  let cursor;
  let destroyed = false;
  const rows = new Map();

  const form = historyFilters(params);
  const message = h('div', { 'aria-live': 'polite' });
  const tbody = h('tbody', {});
  const table = h(
    'table',
    { class: 'history', hidden: true },
    h('caption', { class: 'visually-hidden' }, 'Requests, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Requested', 'Status', 'Tool', 'Server', 'Agent', 'Decided by', 'Rule'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    tbody,
  );
  const more = h(
    'button',
    { type: 'button', class: 'secondary', hidden: true, onclick: () => loadPage() },
    'Load more',
  );
  const exportError = h('p', { class: 'error', role: 'alert', hidden: true });
  const exports = h(
    'div',
    { class: 'actions exports' },
    h(
      'button',
      { type: 'button', class: 'secondary', onclick: (e) => download('csv', e.currentTarget) },
      'Export CSV',
    ),
    h(
      'button',
      { type: 'button', class: 'secondary', onclick: (e) => download('json', e.currentTarget) },
      'Export JSON',
    ),
  );
  view.replaceChildren(
    h('h1', {}, 'History'),
    form,
    exports,
    exportError,
    message,
    table,
    h('div', { class: 'more' }, more),
  );

  const loadPage = async () => {
    more.disabled = true;
    more.textContent = 'Loading…';
    message.replaceChildren(cursor ? '' : h('p', { class: 'muted' }, 'Loading…'));
    try {
      const page = await api(`requests${query({ ...filters, limit: pageSize, cursor })}`);
      if (destroyed) return;
      const list = Array.isArray(page.requests) ? page.requests : [];
      for (const r of list) {
        const tr = row(r);
        rows.set(r.id, tr);
        tbody.append(tr);
      }
      cursor = page.nextCursor || undefined;
      message.replaceChildren(
        rows.size ? '' : h('p', { class: 'empty' }, 'No requests match these filters.'),
      );
      table.hidden = rows.size === 0;
      more.hidden = !cursor;
    } catch (err) {
      if (destroyed) return;
      message.replaceChildren(
        h('p', { class: 'error', role: 'alert' }, `History could not be loaded: ${err.message}`),
      );
    } finally {
      more.disabled = false;
      more.textContent = 'Load more';
    }
  };

  const download = async (format, button) => {
    exportError.hidden = true;
    button.disabled = true;
    try {
      const res = await api(`requests/export${query({ ...filters, format })}`, { raw: true });
      const blob = await res.blob();
      const name =
        /filename="?([^";]+)"?/i.exec(res.headers.get('content-disposition') ?? '')?.[1] ??
        `airlock-history.${format}`;
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: name.replace(/[^\w.-]/g, '_'), hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      exportError.textContent = `Export failed: ${err instanceof ApiError ? err.message : String(err)}`;
      exportError.hidden = false;
    } finally {
      button.disabled = false;
    }
  };

  loadPage();
  return {
    /** A listed request changed: refresh its row in place (new requests wait for a reload). */
    async update(change) {
      if (!change || !rows.has(change.id)) return;
      try {
        const r = await api(`requests/${encodeURIComponent(change.id)}`);
        const old = rows.get(change.id);
        if (destroyed || !old) return;
        const tr = row(r);
        old.replaceWith(tr);
        rows.set(r.id, tr);
      } catch {
        // The row keeps its last known state; the next change retries.
      }
    },
    destroy() {
      destroyed = true;
    },
  };
}

function row(r) {
  return h(
    'tr',
    { dataset: { id: r.id } },
    h('td', { 'data-label': 'Requested' }, timeEl(r.createdAt)),
    h(
      'td',
      { 'data-label': 'Status', class: 'status-cell' },
      statusBadge(r.status),
      shadowBadge(r),
      grantedNote(r) ?? grantMadeNote(r, 'made grant '),
    ),
    h('td', { 'data-label': 'Tool' }, h('a', { href: requestHref(r.id) }, r.tool)),
    h('td', { 'data-label': 'Server' }, r.server),
    h('td', { 'data-label': 'Agent' }, r.agent),
    h('td', { 'data-label': 'Decided by' }, r.decidedBy ?? '—'),
    h('td', { 'data-label': 'Rule' }, r.rule ?? '—'),
  );
}

function historyFilters(params) {
  const field = (name, label, input) => labelled('f', name, label, input);
  const text = (name, label) => textFilter('f', name, label, params);
  const when = (name, label) => {
    const input = h('input', { id: `f-${name}`, name, type: 'datetime-local', step: '1' });
    input.value = params.get(name) ?? '';
    return field(name, label, input);
  };
  const status = h(
    'select',
    { id: 'f-status', name: 'status' },
    h('option', { value: '' }, 'Any status'),
    h('option', { value: 'approved,executing,executed,failed' }, 'Approved (any outcome)'),
    STATUSES.map((s) => h('option', { value: s }, s.replace('_', ' '))),
  );
  status.value = params.get('status') ?? '';
  if (status.value !== (params.get('status') ?? '')) {
    // A status list typed into the URL by hand: keep it selectable.
    status.append(h('option', { value: params.get('status') }, params.get('status')));
    status.value = params.get('status');
  }
  const shadow = h(
    'select',
    { id: 'f-shadow', name: 'shadow' },
    h('option', { value: '' }, 'Enforced and shadow'),
    h('option', { value: 'true' }, 'Shadow verdicts only'),
    h('option', { value: 'false' }, 'Enforced only'),
  );
  shadow.value = ['true', 'false'].includes(params.get('shadow')) ? params.get('shadow') : '';
  return filterForm('#/history', 'Filter history', [
    field('status', 'Status', status),
    field('shadow', 'Shadow mode', shadow),
    text('server', 'Server'),
    text('tool', 'Tool'),
    text('agent', 'Agent'),
    when('since', 'Since'),
    when('until', 'Until'),
  ]);
}
