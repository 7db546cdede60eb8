// The Airlock web console: sign-in, hash routes (#/ queue, #/history, #/grants, #/requests/<id>), live updates.

import { api, session, onUnauthorized, liveUpdates } from './api.js';
import { h, requestHref, tickClocks, duration } from './dom.js';
import { mountQueue } from './queue-view.js';
import { mountHistory } from './history-view.js';
import { mountDetail } from './detail-view.js';
import { mountGrants } from './grants-view.js';
import { SCOPE_LABEL } from './record-notes.js';
import { setupRejectDialog, askRejectReason } from './reject-dialog.js';

const $ = (id) => document.getElementById(id);
const el = {
  nav: $('nav'),
  navQueue: $('nav-queue'),
  navHistory: $('nav-history'),
  navGrants: $('nav-grants'),
  count: $('pending-count'),
  session: $('session'),
  mode: $('session-mode'),
  live: $('live-status'),
  signOut: $('sign-out'),
  signIn: $('sign-in'),
  signInForm: $('sign-in-form'),
  token: $('token'),
  signInError: $('sign-in-error'),
  notices: $('notices'),
  view: $('view'),
};

/** The pending requests, shared by the queue and the nav count; refreshes coalesce. */
class PendingStore extends EventTarget {
  records = null;
  error = null;
  #running = null;
  #again = false;

  refresh() {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          const page = await api('requests?status=pending&limit=200');
          this.records = Array.isArray(page.requests) ? page.requests : [];
          this.error = null;
        } catch (err) {
          if (err.status === 401) return;
          this.error = err;
        }
        this.dispatchEvent(new Event('change'));
      } while (this.#again);
    })().finally(() => (this.#running = null));
    return this.#running;
  }
}

const pending = new PendingStore();
let current = null;
let stopLive = null;
let started = false;

const ctx = {
  pending,
  askReason: askRejectReason,
  /** Sends a decision; tells the reviewer what happened; the caller shows errors where they belong. */
  async decide(record, decision, body) {
    const updated = await api(`requests/${encodeURIComponent(record.id)}/${decision}`, {
      method: 'POST',
      body,
    });
    pending.refresh();
    const what = `${record.tool} on ${record.server}`;
    if (updated.status === 'pending') {
      const n = (updated.decisions ?? []).filter((d) => d.decision === 'approve').length;
      notify(
        `Your approval of ${what} is recorded: ${n} of ${updated.approval?.minApprovals ?? '?'} so far.`,
        updated.id,
      );
    } else if (decision === 'approve' && updated.grant) {
      const g = updated.grant;
      notify(
        `Approved ${what} with grant ${g.id}: ${record.agent}'s matching calls (${SCOPE_LABEL[g.scope] ?? g.scope}) run without a new request for ${duration(g.durationMs)}.`,
        updated.id,
      );
    } else {
      notify(`${decision === 'approve' ? 'Approved' : 'Rejected'} ${what}.`, updated.id);
    }
    return updated;
  },
};

/** A dismissible message at the top of the page, with a link to the request it is about. */
function notify(text, id) {
  const note = h(
    'div',
    { class: 'notice', role: 'status' },
    h('span', {}, text),
    id ? h('a', { href: requestHref(id) }, 'View') : null,
    h(
      'button',
      { type: 'button', class: 'link', 'aria-label': 'Dismiss message', onclick: () => note.remove() },
      '×',
    ),
  );
  el.notices.prepend(note);
  while (el.notices.children.length > 3) el.notices.lastElementChild.remove();
  setTimeout(() => note.remove(), 10_000);
}

function parseRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs = ''] = raw.split('?');
  if (path === '/' || path === '') return { name: 'queue' };
  if (path === '/history') return { name: 'history', params: new URLSearchParams(qs) };
  if (path === '/grants') return { name: 'grants', params: new URLSearchParams(qs) };
  const m = /^\/requests\/([^/?]+)$/.exec(path);
  if (m) {
    try {
      return { name: 'detail', id: decodeURIComponent(m[1]) };
    } catch {
      return { name: 'missing' };
    }
  }
  return { name: 'missing' };
}

function route() {
  if (!started) return;
  current?.destroy();
  current = null;
  const r = parseRoute();
  el.navQueue.toggleAttribute('aria-current', r.name === 'queue');
  el.navHistory.toggleAttribute('aria-current', r.name === 'history');
  el.navGrants.toggleAttribute('aria-current', r.name === 'grants');
  if (r.name === 'queue') current = mountQueue(el.view, ctx);
  else if (r.name === 'history') current = mountHistory(el.view, r.params);
  else if (r.name === 'grants') current = mountGrants(el.view, r.params);
  else if (r.name === 'detail') current = mountDetail(el.view, r.id, ctx);
  else
    el.view.replaceChildren(
      h('h1', {}, 'Page not found'),
      h('p', {}, h('a', { href: '#/' }, 'Go to the pending queue')),
    );
  if (el.navQueue.hasAttribute('aria-current')) el.navQueue.setAttribute('aria-current', 'page');
  if (el.navHistory.hasAttribute('aria-current')) el.navHistory.setAttribute('aria-current', 'page');
  if (el.navGrants.hasAttribute('aria-current')) el.navGrants.setAttribute('aria-current', 'page');
  updateTitle();
}

function updateTitle() {
  const n = pending.records?.length ?? 0;
  el.count.textContent = n ? String(n) : '';
  el.count.hidden = !n;
  document.title = n ? `(${n}) Airlock console` : 'Airlock console';
}

function start(openMode) {
  started = true;
  el.signIn.hidden = true;
  el.nav.hidden = false;
  el.session.hidden = false;
  el.signOut.hidden = openMode;
  el.mode.textContent = openMode ? 'Open demo mode (no reviewer tokens configured)' : '';
  el.mode.hidden = !openMode;
  stopLive = liveUpdates(
    (change) => {
      pending.refresh();
      current?.update(change);
    },
    (mode) => {
      el.live.textContent = mode === 'live' ? 'Live' : 'Updating every 3 s';
      el.live.dataset.mode = mode;
    },
  );
  pending.refresh();
  route();
}

function showSignIn(message) {
  started = false;
  stopLive?.();
  stopLive = null;
  current?.destroy();
  current = null;
  pending.records = null;
  el.view.replaceChildren();
  el.notices.replaceChildren();
  el.nav.hidden = true;
  el.session.hidden = true;
  el.signIn.hidden = false;
  el.signInError.textContent = message ?? '';
  el.signInError.hidden = !message;
  el.token.value = '';
  el.token.focus();
  document.title = 'Sign in · Airlock console';
}

/** Checks a token (or none) against the API: 'ok', or the error. */
async function probe(token) {
  try {
    await api('requests?status=pending&limit=1', { token, quiet401: true });
    return { ok: true };
  } catch (err) {
    return { ok: false, err };
  }
}

async function boot() {
  setupRejectDialog();
  pending.addEventListener('change', updateTitle);
  window.addEventListener('hashchange', route);
  setInterval(() => tickClocks(), 1000);
  onUnauthorized((message) => {
    session.token = '';
    showSignIn(`You were signed out: ${message}. Sign in again with a valid reviewer token.`);
  });
  el.signOut.addEventListener('click', () => {
    session.token = '';
    showSignIn('Signed out.');
  });
  el.signInForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = el.token.value.trim();
    if (!token) return fail('Enter your reviewer token.');
    const button = el.signInForm.querySelector('button[type=submit]');
    button.disabled = true;
    const result = await probe(token);
    button.disabled = false;
    if (result.ok) {
      session.token = token;
      return start(false);
    }
    fail(
      result.err.status === 401
        ? `That token was not accepted (${result.err.message}). Check it and try again.`
        : `Could not sign in: ${result.err.message}`,
    );
  });
  const fail = (message) => {
    el.signInError.textContent = message;
    el.signInError.hidden = false;
    el.token.focus();
  };

  const saved = session.token;
  el.view.replaceChildren(h('p', { class: 'muted' }, 'Connecting to Airlock…'));
  let result = await probe(saved);
  if (!result.ok && saved && result.err.status === 401) {
    session.token = '';
    return showSignIn(`Your saved token was not accepted (${result.err.message}). Sign in again.`);
  }
  if (result.ok) return start(!saved);
  if (result.err.status === 401) return showSignIn();
  // Airlock unreachable or failing: say so and keep trying.
  el.view.replaceChildren(h('p', { class: 'error', role: 'alert' }, `${result.err.message} Retrying…`));
  while (!result.ok && result.err.status !== 401) {
    await new Promise((r) => setTimeout(r, 3000));
    result = await probe(saved);
  }
  if (result.ok) start(!saved);
  else showSignIn();
}

boot();
