// A change the server did not take, shown where the inspector will see it
// (the task's page, and the task list when its task is gone from the
// phone): what it was, what the server said and has now, and the two ways
// out — send it again (brought up to the task's current version), or give
// it up. Nothing leaves the outbox without the inspector's say.
import { h } from '../shared/dom.js';
import { CONFLICT } from './outbox.js';
import { refreshTask } from './sync.js';

// heldRow(app, entry, taskName?) returns the entry's list item.
export function heldRow(app, x, taskName) {
  const { t, api, outbox } = app;
  const current = x.error?.current;
  const what = x.state === CONFLICT ? t('outbox.conflict') : t('outbox.failed', { message: x.error?.message ?? '' });
  return h('li', { class: x.state === CONFLICT ? 'conflict' : 'failed', role: 'alert' },
    h('strong', { text: `${taskName ? `${taskName} · ` : ''}${t(`outbox.kind.${x.kind}`)}：${what}` }),
    x.state === CONFLICT && x.error?.message ? h('p', { class: 'meta', text: x.error.message }) : null,
    current ? h('p', { class: 'meta', text: t('outbox.serverHas', { value: describe(current) }) }) : null,
    h('div', { class: 'row' },
      h('button', { type: 'button', text: t('outbox.resend'), onclick: async () => {
        const fresh = app.online ? await refreshTask(api, x.task_id).catch(() => null) : null;
        await outbox.resend(x.seq, (body) => (body && fresh?.version != null && 'version' in body ? { ...body, version: fresh.version } : body));
      } }),
      h('button', { type: 'button', class: 'secondary', text: t('outbox.discard'), onclick: async () => {
        if (confirm(t('outbox.discardConfirm'))) await outbox.discard(x.seq);
      } })));
}

// describe says in a line what the server has now.
function describe(v) {
  if (v == null || typeof v !== 'object') return String(v ?? '');
  return [v.outcome, v.note, v.state, v.version != null ? `v${v.version}` : null].filter(Boolean).join(' · ') || JSON.stringify(v).slice(0, 120);
}
