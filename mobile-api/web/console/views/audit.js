// 审计日志: the audit trail with filters, and the chain's verification
// (GET /api/v1/audit/verify re-computes every hash on the server).
import { h } from '../../shared/dom.js';
import { t } from '../strings.js';
import { errorText } from '../widgets.js';

export async function render({ api }) {
  const action = h('input', { id: 'audit-action', placeholder: 'plan.approve' });
  const objectType = h('input', { id: 'audit-object', placeholder: 'plan' });
  const from = h('input', { id: 'audit-from', type: 'date' });
  const to = h('input', { id: 'audit-to', type: 'date' });
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', text: t('audit.more'), hidden: true });
  const chain = h('p', { id: 'audit-chain', role: 'status', class: 'note', text: t('common.loading') });
  let after = 0;

  async function load(reset) {
    if (reset) {
      after = 0;
      body.replaceChildren();
    }
    const q = new URLSearchParams({ limit: 100 });
    if (after) q.set('after_seq', after);
    if (action.value.trim()) q.set('action', action.value.trim());
    if (objectType.value.trim()) q.set('object_type', objectType.value.trim());
    if (from.value) q.set('from', `${from.value}T00:00:00+08:00`);
    if (to.value) q.set('to', `${to.value}T23:59:59+08:00`);
    const data = await api.get(`/api/v1/audit?${q}`);
    body.append(...data.events.map((e) => h('tr', {},
      h('td', { class: 'num', text: e.seq }), h('td', { text: e.time }), h('td', { text: e.actor_name || e.actor_id }),
      h('td', {}, h('code', { text: e.action })), h('td', { text: `${e.object_type} ${e.object_id}` }),
      h('td', {}, h('code', { class: 'hash', text: e.hash.slice(0, 16) })))));
    after = data.next_after_seq;
    more.hidden = !after;
  }
  more.addEventListener('click', () => load(false));
  for (const el of [action, objectType, from, to]) el.addEventListener('change', () => load(true));

  api.get('/api/v1/audit/verify').then((v) => {
    chain.className = v.intact ? 'success' : 'error';
    chain.textContent = v.intact ? t('audit.chainOk', { n: v.events }) : t('audit.chainBad', { seq: v.break.seq, reason: v.break.message });
  }, (err) => {
    chain.className = 'error';
    chain.textContent = errorText(err);
  });
  await load(true);
  const f = (label, el) => h('div', { class: 'field' }, h('label', { for: el.id, text: label }), el);
  return h('section', {}, h('h1', { text: t('audit.title') }),
    h('div', { class: 'panel' }, h('h2', { text: t('audit.chain') }), chain),
    h('div', { class: 'toolbar' }, f(t('audit.action'), action), f(t('audit.object'), objectType), f(t('audit.from'), from), f(t('audit.to'), to)),
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, [t('audit.seq'), t('audit.time'), t('audit.actor'), t('audit.action'), t('audit.object'), t('audit.hash')].map((x) => h('th', { text: x })))),
      body)), more);
}
