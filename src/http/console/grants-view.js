// Grants: the active grants (approvals that let an agent's matching calls run without a new request),
// filtered by agent, server and tool, each with Revoke (asked twice: it takes effect at once).

import { api, query } from './api.js';
import { h, fill, timeEl, countdownEl, requestHref } from './dom.js';
import { SCOPE_LABEL } from './record-notes.js';
import { filterForm, textFilter } from './filter-form.js';

const FILTERS = ['agent', 'server', 'tool'];

/** Mounts the grants page for the filters in `params`; `grant=gr_…` picks one out. */
export function mountGrants(view, params) {
  const filters = {};
  for (const k of FILTERS) if (params.get(k)?.trim()) filters[k] = params.get(k).trim();
  const picked = params.get('grant') ?? '';
  let destroyed = false;
  let loading = null;
  let again = false;
  let expiryTimer = null;
  /** id → {grant, tr, uses, state: 'idle' | 'confirm' | 'busy'} */
  const rows = new Map();

  const message = h('div', { 'aria-live': 'polite' });
  const notice = h('div', { class: 'grant-notices', 'aria-live': 'polite' });
  const tbody = h('tbody', {});
  const table = h(
    'table',
    { class: 'history grants', hidden: true },
    h('caption', { class: 'visually-hidden' }, 'Active grants, soonest to expire first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        [
          'Tool',
          'Server',
          'Agent',
          'Scope',
          'Args hash',
          'Granted by',
          'Request',
          'Created',
          'Expires',
          'Uses',
          'Revoke',
        ].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    tbody,
  );
  view.replaceChildren(
    h('h1', {}, 'Grants'),
    h(
      'p',
      { class: 'muted' },
      'While a grant is active, its agent’s matching calls run without a new request. Revoking one holds the next matching call for approval again, on every replica.',
    ),
    grantFilters(params),
    notice,
    message,
    table,
  );

  const load = async () => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      do {
        again = false;
        try {
          const page = await api(`grants${query(filters)}`);
          if (destroyed) return;
          show(Array.isArray(page.grants) ? page.grants : []);
        } catch (err) {
          if (destroyed) return;
          message.replaceChildren(
            h('p', { class: 'error', role: 'alert' }, `Grants could not be loaded: ${err.message}`),
          );
        }
      } while (again && !destroyed);
    })().finally(() => (loading = null));
    return loading;
  };

  /** Brings the table in line with the list, keeping rows a reviewer is busy with (and their focus). */
  const show = (grants) => {
    const live = new Set(grants.map((g) => g.id));
    for (const [id, row] of rows) {
      if (live.has(id) || row.state !== 'idle') continue;
      row.tr.remove();
      rows.delete(id);
    }
    let cursor = tbody.firstElementChild;
    for (const g of grants) {
      let row = rows.get(g.id);
      if (!row) {
        row = { grant: g, state: 'idle' };
        row.tr = rowOf(row);
        rows.set(g.id, row);
      } else {
        row.grant = g;
        row.uses.textContent = String(g.uses ?? 0);
      }
      if (row.tr === cursor) cursor = cursor.nextElementSibling;
      else tbody.insertBefore(row.tr, cursor);
    }
    table.hidden = rows.size === 0;
    const missing = picked && !rows.has(picked);
    message.replaceChildren(
      missing
        ? h(
            'p',
            { class: 'empty' },
            `Grant ${picked} is not active: it expired or was revoked${filters.agent || filters.server || filters.tool ? ', or the filters leave it out' : ''}.`,
          )
        : '',
      rows.size
        ? ''
        : h(
            'p',
            { class: 'empty' },
            Object.keys(filters).length
              ? 'No active grant matches these filters.'
              : 'No active grants. Approve a request with “Approve for…” to make one.',
          ),
    );
    if (picked && rows.has(picked) && !rows.get(picked).shown) {
      rows.get(picked).shown = true;
      rows.get(picked).tr.scrollIntoView({ block: 'center' });
    }
    // Expired grants leave the list on their own: reload when the next one ends.
    clearTimeout(expiryTimer);
    const next = Math.min(...grants.map((g) => g.expiresAt));
    if (Number.isFinite(next))
      expiryTimer = setTimeout(load, Math.min(Math.max(0, next - Date.now()) + 500, 3_600_000));
  };

  const rowOf = (row) => {
    const g = row.grant;
    const what = `${g.tool} on ${g.server} for ${g.agent}`;
    row.uses = h('span', {}, String(g.uses ?? 0));
    const action = h('td', { 'data-label': 'Revoke', class: 'grant-action' });
    const paint = (error) => {
      const busy = row.state === 'busy';
      if (row.state === 'idle') {
        fill(
          action,
          h(
            'button',
            {
              type: 'button',
              class: 'reject',
              'aria-label': `Revoke grant ${g.id} (${what})`,
              onclick: () => {
                row.state = 'confirm';
                paint();
                action.querySelector('button.reject')?.focus();
              },
            },
            'Revoke',
          ),
          error ? h('p', { class: 'error', role: 'alert' }, error) : null,
        );
        return;
      }
      fill(
        action,
        h('p', { class: 'confirm' }, `Revoke this grant? The next ${g.tool} call is held again.`),
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            { type: 'button', class: 'reject', disabled: busy, onclick: () => revoke() },
            busy ? 'Revoking…' : 'Yes, revoke',
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              disabled: busy,
              onclick: () => {
                row.state = 'idle';
                paint();
                action.querySelector('button')?.focus();
              },
            },
            'Keep',
          ),
        ),
      );
    };
    const revoke = async () => {
      row.state = 'busy';
      paint();
      try {
        await api(`grants/${encodeURIComponent(g.id)}`, { method: 'DELETE' });
        gone(`Revoked grant ${g.id} (${what}).`);
      } catch (err) {
        if (destroyed) return;
        if (err.status === 404) return gone(`Grant ${g.id} had already ended: ${err.message}.`);
        row.state = 'idle';
        paint(`Could not revoke: ${err.message}`);
        action.querySelector('button')?.focus();
      }
    };
    const gone = (text) => {
      if (destroyed) return;
      row.tr.remove();
      rows.delete(g.id);
      table.hidden = rows.size === 0;
      notice.prepend(h('p', { class: 'notice', role: 'status' }, text));
      while (notice.children.length > 3) notice.lastElementChild.remove();
      load();
    };
    paint();
    return h(
      'tr',
      { dataset: { id: g.id }, class: g.id === picked ? 'picked' : undefined },
      h('td', { 'data-label': 'Tool' }, h('span', { class: 'tool' }, g.tool)),
      h('td', { 'data-label': 'Server' }, g.server),
      h('td', { 'data-label': 'Agent' }, g.agent),
      h('td', { 'data-label': 'Scope' }, SCOPE_LABEL[g.scope] ?? g.scope),
      h(
        'td',
        { 'data-label': 'Args hash' },
        g.argsHash ? h('code', { class: 'hash', title: g.argsHash }, `${g.argsHash.slice(0, 12)}…`) : '—',
      ),
      h('td', { 'data-label': 'Granted by' }, (g.grantedBy ?? []).join(', ') || '—'),
      h(
        'td',
        { 'data-label': 'Request' },
        g.requestId ? h('a', { href: requestHref(g.requestId) }, g.requestId) : '—',
      ),
      h('td', { 'data-label': 'Created' }, timeEl(g.createdAt, { relative: true })),
      h('td', { 'data-label': 'Expires' }, countdownEl(g.expiresAt)),
      h('td', { 'data-label': 'Uses' }, row.uses),
      action,
    );
  };

  load();
  return {
    /** A request changed (an approval may have made a grant, a granted call used one): re-read the list. */
    update() {
      load();
    },
    destroy() {
      destroyed = true;
      clearTimeout(expiryTimer);
    },
  };
}

function grantFilters(params) {
  return filterForm('#/grants', 'Filter grants', [
    textFilter('g', 'agent', 'Agent', params),
    textFilter('g', 'server', 'Server', params),
    textFilter('g', 'tool', 'Tool', params),
  ]);
}
