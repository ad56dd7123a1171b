// The signed-in user's inbox (通知): what suiji wrote for them — a
// replacement waiting for a leader's approval, a deadline's reminder, an
// assignment — newest first, unread marked, with a link to the task. The
// same inbox the phone app reads; opening an entry's task marks it read.
import { h, chinaTime } from '../../shared/dom.js';
import { t } from '../strings.js';
import { message, errorText } from '../widgets.js';

export async function render({ api, navigate }) {
  const list = h('ul', { class: 'inbox', id: 'inbox' });
  const msg = message();
  const more = h('button', { type: 'button', class: 'secondary', text: t('inbox.older'), hidden: true });
  const unreadOnly = h('input', { type: 'checkbox', id: 'inbox-unread' });
  const count = h('span', { id: 'inbox-count' });
  let before = null;

  async function load(reset) {
    if (reset) {
      before = null;
      list.replaceChildren();
    }
    const q = new URLSearchParams({ limit: '50' });
    if (before) q.set('before', String(before));
    if (unreadOnly.checked) q.set('unread', 'true');
    try {
      const page = await api.get(`/api/v1/me/notifications?${q}`);
      count.textContent = t('inbox.unread', { n: page.unread });
      list.append(...page.notifications.map(entry));
      if (!list.children.length) list.append(h('li', { class: 'note', text: t('common.none') }));
      before = page.next_before;
      more.hidden = !before;
    } catch (err) {
      msg.set('error', errorText(err));
    }
  }

  function entry(n) {
    const read = () => (n.read_at ? Promise.resolve() : api.post(`/api/v1/me/notifications/${encodeURIComponent(n.id)}/read`).catch(() => {}));
    return h('li', { class: n.read_at ? 'read' : 'unread', 'data-kind': n.kind },
      n.read_at ? null : h('span', { class: 'badge warn', text: t('inbox.new') }), ' ',
      h('strong', { text: n.title }), ' ', n.body ? h('span', { text: n.body }) : null, ' ',
      h('small', { class: 'note', text: chinaTime(n.created_at) }), ' ',
      n.task_id ? h('a', { href: `#/tasks/${encodeURIComponent(n.task_id)}`, text: t('inbox.open'),
        onclick: async (ev) => {
          ev.preventDefault();
          await read();
          navigate(`/tasks/${encodeURIComponent(n.task_id)}`);
        } }) : null);
  }

  more.addEventListener('click', () => load(false));
  unreadOnly.addEventListener('change', () => load(true));
  const readAll = h('button', { type: 'button', class: 'secondary', text: t('inbox.readAll'), onclick: async () => {
    try {
      await api.post('/api/v1/me/notifications/read-all');
      await load(true);
    } catch (err) {
      msg.set('error', errorText(err));
    }
  } });
  await load(true);
  return h('section', {},
    h('h1', { text: t('inbox.title') }),
    h('p', { class: 'row-actions' }, count, ' ', h('label', {}, unreadOnly, ' ', t('inbox.unreadOnly')), ' ', readAll),
    msg, list, h('p', {}, more));
}
