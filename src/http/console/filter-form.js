// The filter panel the History and Grants pages share: labelled fields, Apply and Clear. The filters live
// in the page's hash (`#/history?tool=start_vm`), so a filtered view can be bookmarked and shared.
import { query } from './api.js';
import { h } from './dom.js';

/** A labelled field around `input`, whose id is `${prefix}-${name}`. */
export function labelled(prefix, name, label, input) {
  return h('div', { class: 'field' }, h('label', { for: `${prefix}-${name}` }, label), input);
}

/** A free-text filter field, filled from the current `params`. */
export function textFilter(prefix, name, label, params) {
  const input = h('input', {
    id: `${prefix}-${name}`,
    name,
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
  });
  input.value = params.get(name) ?? '';
  return labelled(prefix, name, label, input);
}

/** The form: `fields`, then Apply (to `route` with every non-empty value) and Clear (to `route`). */
export function filterForm(route, ariaLabel, fields) {
  const form = h(
    'form',
    { class: 'filters panel', role: 'search', 'aria-label': ariaLabel },
    ...fields,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
      h('button', { type: 'button', class: 'secondary', onclick: () => go(route) }, 'Clear'),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = {};
    for (const [k, v] of new FormData(form)) if (String(v).trim()) next[k] = String(v).trim();
    go(`${route}${query(next)}`);
  });
  return form;
}

/** Navigates to a hash; the same hash again reloads the view (a manual refresh). */
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}
