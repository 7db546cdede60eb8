// One request in full: what was asked, by whom, who decided, what ran, and a timeline of it all.

import { api } from './api.js';
import { h, fill, facts, statusBadge, timeEl, countdownEl, prettyJson, duration, clock } from './dom.js';
import { grantButton } from './grant-choice.js';
import { shadowBadge, shadowDetail, grantedNote, grantMadeNote, directOutcome } from './record-notes.js';
import { askEdit, editable, editedSection } from './edit-dialog.js';

const FINAL = {
  approved: 'approved',
  executing: 'approved',
  executed: 'approved',
  failed: 'approved',
  rejected: 'rejected',
  expired: 'expired',
  cancelled: 'cancelled',
};

const POLICY_OUTCOME = {
  allowed: 'Allowed by policy',
  denied: 'Denied by policy',
  rate_limited: 'Refused: rate limit',
};

/**
 * Everything that happened to a request, oldest first: created → reminders, escalations and votes →
 * decided / expired / cancelled → execution started → finished. A pending request ends with its (future) expiry.
 */
export function timeline(r) {
  const events = [];
  events.push({
    at: r.createdAt,
    kind: 'created',
    label: `Requested by ${r.agent}`,
    detail: `rule ${r.rule}`,
  });
  if (POLICY_OUTCOME[r.status])
    events.push({
      at: r.createdAt,
      kind: r.status,
      label: directOutcome(r) ?? POLICY_OUTCOME[r.status],
      detail: r.reason ?? r.shadow?.reason,
    });
  for (const d of r.decisions ?? []) {
    const who = d.display && d.display !== d.by ? `${d.display} (${d.by})` : d.by;
    events.push({
      at: d.at,
      kind: d.decision === 'approve' ? 'approve' : 'reject',
      label: `${who} ${d.decision === 'approve' ? (d.editedHash ? 'approved with changes' : 'approved') : 'rejected'} via ${d.via}`,
      detail: d.decision === 'reject' ? d.reason : d.comment,
    });
  }
  (r.reminders ?? []).forEach((at, i) =>
    events.push({ at, kind: 'reminded', label: `Approvers reminded (reminder ${i + 1})` }),
  );
  for (const e of r.escalations ?? []) {
    events.push({
      at: e.at,
      kind: 'escalated',
      label: `Escalated: ${e.approvers.join(', ')} may decide too`,
      detail: e.channel ? `posted in ${e.channel}` : undefined,
    });
  }
  const final = FINAL[r.status];
  if (final && typeof r.decidedAt === 'number') {
    const label = {
      approved: `Approved${r.decidedBy ? `, deciding vote by ${r.decidedBy}` : ''}`,
      rejected: `Rejected${r.decidedBy ? ` by ${r.decidedBy}` : ''}`,
      expired: `Expired: no decision within ${duration(r.approval?.timeoutMs) ?? 'the timeout'}`,
      cancelled: 'Cancelled',
    }[final];
    events.push({
      at: r.decidedAt,
      kind: final,
      label,
      detail: final === 'cancelled' || final === 'rejected' ? r.reason : undefined,
    });
  }
  const x = r.execution;
  if (x && typeof x.startedAt === 'number')
    events.push({ at: x.startedAt, kind: 'started', label: 'Execution started upstream' });
  if (x && typeof x.finishedAt === 'number') {
    events.push({
      at: x.finishedAt,
      kind: x.isError ? 'failed' : 'finished',
      label: x.isError ? 'Execution failed' : 'Execution finished',
      detail: x.summary,
    });
  }
  // Stable sort: events at the same millisecond keep their causal order.
  events.sort((a, b) => a.at - b.at);
  if (r.status === 'pending' && typeof r.expiresAt === 'number') {
    events.push({ at: r.expiresAt, kind: 'future', label: 'Expires unless decided', future: true });
  }
  return events;
}

/**
 * Mounts the detail page of request `id`. `ctx.decide` and `ctx.askReason` are the same as the
 * queue's; `update(change)` reloads when this request changed.
 */
export function mountDetail(view, id, ctx) {
  let record = null;
  let comment = '';
  let actionError = '';
  let loading = null;
  let destroyed = false;
  view.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));

  const load = async () => {
    if (loading) return loading;
    loading = (async () => {
      try {
        record = await api(`requests/${encodeURIComponent(id)}`);
        render();
      } catch (err) {
        if (destroyed) return;
        if (err.status === 404 || !record) renderError(err);
        else actionError = `Could not refresh: ${err.message}`;
      } finally {
        loading = null;
      }
    })();
    return loading;
  };

  const renderError = (err) => {
    view.replaceChildren(
      backLink(),
      h('h1', {}, err.status === 404 ? 'Request not found' : 'Could not load the request'),
      h('p', { class: 'error', role: 'alert' }, err.message),
    );
  };

  const decide = async (decision, body) => {
    actionError = '';
    try {
      record = await ctx.decide(record, decision, body);
      comment = '';
    } catch (err) {
      actionError = err.message;
      // A reject or a grant comes from a dialog, which stays open to show why.
      const inDialog = decision === 'reject' || body?.grant;
      if (inDialog && err.status !== 409 && err.status !== 404) throw err;
      await load();
    } finally {
      render();
    }
  };

  const render = () => {
    if (destroyed || !record) return;
    const r = record;
    const focusedId = document.activeElement?.id;
    fill(
      view,
      backLink(),
      h(
        'header',
        { class: 'detail-head' },
        h(
          'h1',
          {},
          h('span', { class: 'tool' }, r.tool),
          h('span', { class: 'on' }, ' on '),
          h('span', { class: 'server' }, r.server),
        ),
        statusBadge(r.status),
        shadowBadge(r),
      ),
      r.status === 'pending' ? decisionPanel(r) : null,
      actionError && r.status !== 'pending' ? h('p', { class: 'error', role: 'alert' }, actionError) : null,
      section(
        'Request',
        facts([
          ['Request id', h('code', {}, r.id)],
          ['Agent', r.agent],
          ['Rule', r.rule],
          ['Requested', timeEl(r.createdAt)],
          r.status === 'pending' ? ['Expires', timeEl(r.expiresAt)] : null,
          ['Decided', typeof r.decidedAt === 'number' ? timeEl(r.decidedAt) : undefined],
          ['Decided by', r.decidedBy],
          ['Reason', r.reason],
          ['Shadow mode', shadowDetail(r)],
          ['Grant', grantedNote(r) ?? grantMadeNote(r)],
          ['Response time', duration(r.responseMs)],
          ['Argument hash', h('code', { class: 'hash' }, r.argsHash ?? '—')],
        ]),
      ),
      section(
        r.edited ? 'Arguments (edited, as run)' : 'Arguments',
        h('pre', { class: 'args full', tabindex: '0', 'aria-label': 'Arguments' }, prettyJson(r.args ?? {})),
        h(
          'p',
          { class: 'muted small' },
          'A display copy: values under secret-looking keys are redacted. What runs upstream is the exact stored arguments this hash covers.',
        ),
      ),
      editedSection(r),
      section('Timeline', timelineList(r)),
      r.approval ? section('Approval policy', approvalFacts(r.approval)) : null,
      section('Decisions', decisionsList(r.decisions ?? [])),
      r.execution ? section('Execution', executionFacts(r.execution)) : null,
      r.slack
        ? section(
            'Slack',
            facts([
              ['Channel', h('code', {}, r.slack.channel)],
              ['Message ts', h('code', {}, r.slack.ts)],
            ]),
          )
        : null,
    );
    if (focusedId) document.getElementById(focusedId)?.focus();
  };

  const decisionPanel = (r) => {
    const approvals = (r.decisions ?? []).filter((d) => d.decision === 'approve').length;
    const min = r.approval?.minApprovals ?? 1;
    const input = h('textarea', {
      id: 'approve-comment',
      rows: '2',
      maxlength: '3000',
      oninput: (e) => (comment = e.target.value),
    });
    input.value = comment;
    const approve = h(
      'button',
      {
        id: 'detail-approve',
        type: 'button',
        class: 'approve',
        onclick: async () => {
          approve.disabled = true;
          approve.textContent = 'Approving…';
          await decide('approve', comment.trim() ? { comment: comment.trim() } : {});
        },
      },
      'Approve',
    );
    const approveFor = grantButton(r, {
      id: 'detail-approve-for',
      comment: () => comment,
      submit: (body) => decide('approve', body),
    });
    if (approveFor) approve.textContent = 'Approve once';
    const reject = h(
      'button',
      {
        id: 'detail-reject',
        type: 'button',
        class: 'reject',
        'aria-haspopup': 'dialog',
        onclick: () => ctx.askReason(r, (reason) => decide('reject', { reason })),
      },
      'Reject…',
    );
    const edit = editable(r)
      ? h(
          'button',
          {
            id: 'detail-edit',
            type: 'button',
            class: 'secondary',
            'aria-haspopup': 'dialog',
            onclick: () =>
              askEdit(r, async (body) => {
                record = await ctx.decide(record, 'approve', body);
                render();
              }),
          },
          'Edit and approve…',
        )
      : null;
    return h(
      'section',
      { class: 'panel decide', 'aria-label': 'Decision' },
      h(
        'p',
        {},
        'Waiting for a decision · ',
        countdownEl(r.expiresAt),
        min > 1 ? ` · ${approvals} of ${min} approvals` : '',
      ),
      h('label', { for: 'approve-comment' }, 'Comment with your approval (optional)'),
      input,
      actionError ? h('p', { class: 'error', role: 'alert' }, actionError) : null,
      h('div', { class: 'actions' }, approve, approveFor, edit, reject),
    );
  };

  load();
  return {
    update(change) {
      if (!change || change.id === id) load();
    },
    destroy() {
      destroyed = true;
    },
  };
}

function backLink() {
  return h(
    'p',
    { class: 'back' },
    h('a', { href: '#/' }, '← Pending'),
    ' · ',
    h('a', { href: '#/history' }, 'History'),
  );
}

function section(title, ...content) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...content);
}

function timelineList(r) {
  const start = r.createdAt;
  return h(
    'ol',
    { class: 'timeline' },
    timeline(r).map((e) =>
      h(
        'li',
        { class: `tl tl-${e.kind}${e.future ? ' future' : ''}` },
        h(
          'div',
          { class: 'tl-when' },
          timeEl(e.at),
          e.at > start && !e.future ? h('span', { class: 'offset' }, ` +${clock(e.at - start)}`) : null,
        ),
        h('div', { class: 'tl-what' }, e.label),
        e.detail ? h('div', { class: 'tl-detail' }, e.detail) : null,
      ),
    ),
  );
}

function approvalFacts(a) {
  return facts([
    [
      'Approvers',
      Array.isArray(a.approvers) && a.approvers.length
        ? h(
            'ul',
            { class: 'chips' },
            a.approvers.map((x) => h('li', {}, x)),
          )
        : 'any reviewer',
    ],
    ['Approvals needed', a.minApprovals],
    ['Timeout', duration(a.timeoutMs)],
    ['Agent call held for', duration(a.waitMs)],
    ['Self-approval', a.allowSelfApproval ? 'allowed' : 'not allowed (the agent’s owner may only reject)'],
    ['Channel', a.channel],
  ]);
}

function decisionsList(decisions) {
  if (!decisions.length) return h('p', { class: 'muted' }, 'No decisions yet.');
  return h(
    'ul',
    { class: 'decisions' },
    decisions.map((d) =>
      h(
        'li',
        { class: d.decision === 'approve' ? 'vote-approve' : 'vote-reject' },
        h('strong', {}, d.display && d.display !== d.by ? `${d.display} (${d.by})` : d.by),
        ` ${d.decision === 'approve' ? 'approved' : 'rejected'} via ${d.via} · `,
        timeEl(d.at),
        d.reason ? h('div', { class: 'quote' }, `Reason: ${d.reason}`) : null,
        d.comment ? h('div', { class: 'quote' }, `Comment: ${d.comment}`) : null,
      ),
    ),
  );
}

function executionFacts(x) {
  return h(
    'div',
    {},
    facts([
      ['Started', timeEl(x.startedAt)],
      ['Finished', typeof x.finishedAt === 'number' ? timeEl(x.finishedAt) : 'still running'],
      ['Took', typeof x.finishedAt === 'number' ? duration(x.finishedAt - x.startedAt) : undefined],
      ['Outcome', typeof x.finishedAt !== 'number' ? undefined : x.isError ? 'error' : 'success'],
    ]),
    x.summary
      ? h(
          'pre',
          { class: `result${x.isError ? ' is-error' : ''}`, tabindex: '0', 'aria-label': 'Execution result' },
          x.summary,
        )
      : null,
  );
}
