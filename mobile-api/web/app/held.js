// A change the server did not take, shown where the inspector will see it
// (the task's page, and the task list when its task is gone from the
// phone): what it was, what the server said and has now, and the two ways
// out — send it again (brought up to the task's current version), or give
// it up. Nothing leaves the outbox without the inspector's say.
import { h } from '../shared/dom.js';
import { describeRefusal } from '../shared/refusal.js';
import { CONFLICT } from './outbox.js';
import { refreshTask } from './sync.js';

// closedState: nothing changes on site any more (art. 22's record stands).
function closedState(task) {
  return ['reviewed', 'published', 'cancelled'].includes(task.state);
}

// heldRow(app, entry, task, taskName?) returns the entry's list item. A
// change of a task that is closed, or gone from the phone, can only be
// given up: sent again, it would be refused again. (task.js keeps its own
// closedState: a page running the app's previous held.js may load the new
// task.js, and must not fail on an import it lacks.)
export function heldRow(app, x, task, taskName) {
  const { t, api, outbox } = app;
  // Evidence is taken until the task is published (or cancelled): an
  // upload refused before a review can still go after it.
  const over = !task || (x.kind === 'evidence' ? ['published', 'cancelled'].includes(task.state) : closedState(task));
  const current = x.error?.current;
  const what = x.state === CONFLICT ? t('outbox.conflict') : t('outbox.failed', { message: x.error ? describeRefusal(x.error, t) : '' });
  return h('li', { class: x.state === CONFLICT ? 'conflict' : 'failed', role: 'alert' },
    h('strong', { text: `${taskName ? `${taskName} · ` : ''}${t(`outbox.kind.${x.kind}`)}：${what}` }),
    x.state === CONFLICT && x.error?.message ? h('p', { class: 'meta', text: describeRefusal(x.error, t) }) : null,
    current ? h('p', { class: 'meta', text: t('outbox.serverHas', { value: describe(t, x, current) }) }) : null,
    over ? h('p', { class: 'meta', text: t('outbox.taskOver') }) : null,
    h('div', { class: 'row' },
      over ? null : h('button', { type: 'button', text: t('outbox.resend'), onclick: async () => {
        // The task as the server has it now (the conflict's answer carries
        // it; otherwise fetch it).
        const fresh = x.error?.current ?? (app.online ? await refreshTask(api, x.task_id).catch(() => null) : null);
        // Refused for want of an amendment's reason (made offline after
        // the group completed): it goes again with the reason given.
        let patch = null;
        // Only an outcome, a finding or a non-cooperation record takes one
        // (the API's amendments); a check-in or a submission is refused
        // after completion whatever is given.
        if (x.error?.fields?.amendment_reason && ['item', 'finding', 'noncoop'].includes(x.kind)) {
          const reason = document.getElementById('amendment-reason');
          if (!reason?.value.trim()) {
            alert(t('amend.needReason'));
            reason?.focus();
            return;
          }
          patch = { amendment_reason: reason.value.trim() };
        }
        await outbox.resend(x.seq, fresh?.version, patch);
      } }),
      h('button', { type: 'button', class: 'secondary', text: t('outbox.discard'), onclick: async () => {
        if (confirm(t('outbox.discardConfirm'))) await outbox.discard(x.seq);
      } })));
}

// describe says in a line what the server has now: for an item's outcome,
// the outcome and note it holds; otherwise the task's state and version.
function describe(t, entry, task) {
  if (entry.kind === 'item') {
    const o = (task.checklist ?? []).find((c) => c.item_id === entry.item_id);
    if (!o) return t('outbox.noOutcome');
    const label = { pass: 'item.pass', fail: 'item.fail', not_applicable: 'item.na' }[o.outcome];
    return [label ? t(label) : o.outcome, o.note].filter(Boolean).join(' · ');
  }
  return [task.state ? t(`tasks.state.${task.state}`) : '', task.version != null ? t('outbox.version', { v: task.version }) : ''].filter(Boolean).join(' · ');
}
