// DOM building and display formatting. Every piece of data enters the page as text (textContent or a
// text node), never as HTML: request arguments are written by agents and may be hostile.

/**
 * Creates an element. Props: `class`, `text`, `dataset`, `on<event>` handlers, anything else as an
 * attribute. Children: nodes, or strings/numbers which become text nodes.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  appendAll(el, children);
  return el;
}

/** Replaces an element's children, with the same rules as {@link h} (empty children are skipped). */
export function fill(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** A link to a request's detail page. */
export function requestHref(id) {
  return `#/requests/${encodeURIComponent(id)}`;
}

/** A `<dl>` of label/value pairs, skipping empty pairs and values. */
export function facts(pairs, className = 'facts') {
  const dl = h('dl', { class: className });
  for (const pair of pairs) {
    if (!pair) continue;
    const [label, value] = pair;
    if (value === undefined || value === null || value === '') continue;
    dl.append(h('div', {}, h('dt', {}, label), h('dd', {}, value)));
  }
  return dl;
}

const STATUS_LABEL = {
  pending: 'Pending',
  approved: 'Approved',
  executing: 'Running',
  executed: 'Executed',
  failed: 'Failed',
  rejected: 'Rejected',
  expired: 'Expired',
  cancelled: 'Cancelled',
  allowed: 'Allowed',
  denied: 'Denied',
  rate_limited: 'Rate-limited',
};

/** Every status the history can be filtered by, in a sensible order. */
export const STATUSES = Object.keys(STATUS_LABEL);

/** A coloured status badge. */
export function statusBadge(status) {
  const s = String(status ?? 'unknown');
  return h('span', { class: `badge status-${s.replace(/[^a-z_]/g, '')}` }, STATUS_LABEL[s] ?? s);
}

/** A `<time>` element showing a local date and time. */
export function timeEl(ms, { relative = false } = {}) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return h('span', {}, '—');
  const d = new Date(ms);
  const el = h('time', { datetime: d.toISOString(), title: d.toISOString() }, formatTime(ms));
  if (relative) {
    el.dataset.since = String(ms);
    el.textContent = ago(ms);
    el.title = formatTime(ms);
  }
  return el;
}

/** A live "expires in …" countdown, kept current by {@link tickClocks}. */
export function countdownEl(expiresAt) {
  const el = h('span', {
    class: 'countdown',
    dataset: { expires: String(expiresAt) },
    title: formatTime(expiresAt),
  });
  paintCountdown(el, Date.now());
  return el;
}

/** Refreshes every relative time and countdown on the page; called once a second. */
export function tickClocks(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('[data-since]')) el.textContent = ago(Number(el.dataset.since), now);
  for (const el of root.querySelectorAll('[data-expires]')) paintCountdown(el, now);
}

function paintCountdown(el, now) {
  const left = Number(el.dataset.expires) - now;
  el.textContent = left > 0 ? `expires in ${clock(left)}` : 'expiring…';
  el.classList.toggle('soon', left < 60_000);
}

/** Local date and time, e.g. "21 Nov 2025, 14:03:12". */
export function formatTime(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** "just now", "42s ago", "5m ago", "3h ago", "2d ago". */
export function ago(ms, now = Date.now()) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** A countdown: "14m 05s", "1h 02m", "9s". */
export function clock(ms) {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A duration in words: "250 ms", "50s", "15m", "1h 30m". */
export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return undefined;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m}m`;
  return m % 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : `${m / 60}h`;
}

/** Pretty JSON for display; never throws. */
export function prettyJson(value) {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The first lines of pretty JSON, for a queue card; the detail page shows the rest. */
export function jsonPreview(value, maxLines = 10, maxChars = 600) {
  const full = prettyJson(value ?? {});
  let cut = full.split('\n').slice(0, maxLines).join('\n');
  if (cut.length > maxChars) cut = cut.slice(0, maxChars);
  return { text: cut === full ? full : `${cut}\n…`, truncated: cut !== full };
}
