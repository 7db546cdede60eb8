// What shadow mode and grants add to a record: the verdict enforcement would have given, the grant a
// call ran under, and the grant an approval made. Shared by the history list and the detail page.

import { h, duration } from './dom.js';

const WOULD = {
  denied: 'would deny',
  rate_limited: 'would rate-limit',
  held: 'would hold for approval',
};

/** How a grant's scope reads: what calls it covers. */
export const SCOPE_LABEL = { exact: 'exact arguments', tool: 'any arguments' };

/** "would deny (lab/delete_vm)" for a call shadow mode let run; undefined for every other record. */
export function shadowText(r) {
  const s = r?.shadow;
  if (!s || typeof s !== 'object') return undefined;
  return `${WOULD[s.would] ?? `would ${s.would}`}${s.rule ? ` (${s.rule})` : ''}`;
}

/** The detail page's sentence for a call shadow mode let run: what enforcement would have done, and why. */
export function shadowDetail(r) {
  const text = shadowText(r);
  if (!text) return undefined;
  return `the call ran; an enforced policy ${text}${r.shadow.reason ? `: ${r.shadow.reason}` : ''}`;
}

/** How an allowed call was allowed, when not plainly by policy: under a grant, or by shadow mode. */
export function directOutcome(r) {
  if (typeof r?.grant === 'string') return `Allowed via grant ${r.grant}: no new request`;
  const text = shadowText(r);
  return text ? `Allowed by shadow mode: an enforced policy ${text}` : undefined;
}

/** A badge for a call shadow mode let run, "shadow: would deny (lab/delete_vm)"; null otherwise. */
export function shadowBadge(r) {
  const text = shadowText(r);
  if (!text) return null;
  const why = r.shadow.reason ? ` Reason: ${r.shadow.reason}` : '';
  return h(
    'span',
    {
      class: 'badge shadow',
      title: `Shadow mode: nothing was enforced and the call ran; an enforced policy ${text}.${why}`,
    },
    `shadow: ${text}`,
  );
}

/** The grants page with one grant picked out. */
export function grantHref(id) {
  return `#/grants?grant=${encodeURIComponent(id)}`;
}

/** "allowed via grant gr_…" for a call that ran under a grant instead of a new request; null otherwise. */
export function grantedNote(r) {
  if (typeof r?.grant !== 'string') return null;
  return h(
    'span',
    { class: 'granted' },
    'allowed via grant ',
    h('a', { href: grantHref(r.grant), class: 'grant-id' }, r.grant),
  );
}

/** "gr_… · 1h · any arguments" (after `prefix`) for an approval that made a grant; null otherwise. */
export function grantMadeNote(r, prefix = '') {
  const g = r?.grant;
  if (!g || typeof g !== 'object' || typeof g.id !== 'string') return null;
  return h(
    'span',
    { class: 'granted' },
    prefix,
    h('a', { href: grantHref(g.id), class: 'grant-id' }, g.id),
    ` · ${duration(g.durationMs) ?? '?'} · ${SCOPE_LABEL[g.scope] ?? g.scope}`,
  );
}
