// 抽查计划: the plans of a year with their status; drafting is for the
// office (coordinators and department staff).
import { h, chinaTime } from '../../shared/dom.js';
import { t } from '../strings.js';

export async function render({ api, navigate }) {
  const year = new Date().getFullYear();
  const yearInput = h('input', { type: 'number', id: 'plans-year', min: 2000, max: 2100, value: String(year) });
  const body = h('tbody');
  async function load() {
    const data = await api.get(`/api/v1/plans?year=${encodeURIComponent(yearInput.value)}`);
    body.replaceChildren(...(data.plans.length ? data.plans.map((p) => h('tr', {},
      h('td', {}, h('a', { href: `#/plans/${p.id}`, text: p.title })),
      h('td', { text: t(`plans.kind.${p.external ? 'external' : p.kind}`) }),
      h('td', {}, h('span', { class: `badge ${p.status === 'draft' ? 'warn' : 'ok'}`, text: t(`plans.status.${p.status}`) })),
      h('td', { text: `${p.window.start} — ${p.window.end}` }),
      h('td', { text: chinaTime(p.updated_at) }))) : [h('tr', {}, h('td', { colspan: 5, class: 'empty', text: t('common.none') }))]));
  }
  yearInput.addEventListener('change', load);
  await load();
  return h('section', {},
    h('h1', { text: t('plans.title') }),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field' }, h('label', { for: 'plans-year', text: t('common.year') }), yearInput),
      h('span', { class: 'spacer' }),
      api.hasRole('coordinator', 'staff') ? h('button', { type: 'button', text: t('plans.new'), onclick: () => navigate('/plans/new') }) : null),
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, [t('plans.titleField'), t('plans.kind'), t('plans.status'), t('plans.window'), t('audit.time')].map((x) => h('th', { text: x })))),
      body)));
}
