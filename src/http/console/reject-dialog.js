// The "Reject with reason" dialog. The reason is required: the agent (and the audit trail) gets it.

let active = null;

function parts() {
  return {
    dialog: document.getElementById('reject-dialog'),
    form: document.getElementById('reject-form'),
    summary: document.getElementById('reject-summary'),
    reason: document.getElementById('reject-reason'),
    error: document.getElementById('reject-error'),
    submit: document.getElementById('reject-submit'),
    cancel: document.getElementById('reject-cancel'),
  };
}

/** Wires the dialog's static markup once. */
export function setupRejectDialog() {
  const p = parts();
  p.cancel.addEventListener('click', () => p.dialog.close('cancel'));
  p.dialog.addEventListener('close', () => {
    active?.done();
    active = null;
  });
  p.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!active) return;
    const reason = p.reason.value.trim();
    if (!reason)
      return showError(p, 'A reason is required: it is sent to the agent and kept in the history.');
    p.submit.disabled = true;
    p.submit.textContent = 'Rejecting…';
    showError(p, '');
    try {
      await active.submit(reason);
      p.dialog.close('done');
    } catch (err) {
      showError(p, err.message);
    } finally {
      p.submit.disabled = false;
      p.submit.textContent = 'Reject';
    }
  });
}

function showError(p, message) {
  p.error.textContent = message;
  p.error.hidden = !message;
  if (message) p.reason.focus();
}

/**
 * Opens the dialog for a request. `submit(reason)` sends the rejection; if it throws, its message is
 * shown in the dialog and the reviewer can retry or cancel. Resolves when the dialog closes.
 */
export function askRejectReason(record, submit) {
  const p = parts();
  if (p.dialog.open) p.dialog.close('replaced');
  p.summary.textContent = `${record.tool} on ${record.server}, requested by ${record.agent} (${record.id})`;
  p.reason.value = '';
  showError(p, '');
  return new Promise((resolve) => {
    active = { submit, done: resolve };
    p.dialog.showModal();
    p.reason.focus();
  });
}
