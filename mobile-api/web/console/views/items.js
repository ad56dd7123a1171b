// 随机抽查事项清单: the yearly item lists; a coordinator publishes a year's
// list (art. 10), after which it changes only with a reason.
import { h } from '../../shared/dom.js';
import { t } from '../strings.js';
import { pagedTable, searchBox, exportButtons, importButton, versionsList, dialogBox, message } from '../widgets.js';

export async function render({ api }) {
  const deps = await api.get('/api/v1/departments');
  const depName = (id) => deps.departments.find((d) => d.id === id)?.name ?? id;
  const year = h('input', { type: 'number', name: 'year', min: 2000, max: 2100, value: String(new Date().getFullYear()), dataset: { label: t('common.year') } });
  const msg = message();
  const table = pagedTable({
    api, path: '/api/v1/items', key: 'items',
    filters: [year, searchBox('q', t('common.search'), t('common.searchHint'))],
    columns: [
      { label: t('field.code'), cell: (i) => h('code', { text: i.code }) },
      { label: t('field.name'), cell: (i) => h('strong', { text: i.name }) },
      { label: t('field.legalBasis'), cell: (i) => `${i.legal_basis.law} ${i.legal_basis.article}` },
      { label: t('field.department'), cell: (i) => depName(i.department_id) },
      { label: t('field.method'), cell: (i) => i.method },
      { label: t('field.published'), cell: (i) => (i.published ? h('span', { class: 'badge ok', text: t('common.yes') }) : h('span', { class: 'badge warn', text: t('common.no') })) },
      { label: t('common.versions'), cell: (i) => h('button', { type: 'button', class: 'secondary', text: t('common.versions'),
        onclick: async () => dialogBox(`${i.name} · ${t('common.version', { version: i.version })}`, await versionsList(api, `/api/v1/items/${i.id}/versions`)) }) },
    ],
    actions: [
      api.hasRole('coordinator') ? h('button', { type: 'button', text: t('items.publish', { year: year.value }), onclick: async (e) => {
        try {
          await api.post('/api/v1/items/publish', { year: Number(year.value) });
          msg.set('success', t('items.published', { year: year.value }));
          table.reload();
        } catch (err) {
          msg.set('error', t('common.error', { message: err.message }));
        }
        e.target.blur();
      } }) : null,
      api.hasRole('coordinator', 'staff') ? importButton(api, '/api/v1/items/import', t('nav.items'), () => table.reload()) : null,
      ...exportButtons(api, '/api/v1/items/export', 'items', () => table.query()),
    ],
  });
  return h('section', {}, h('h1', { text: t('items.title') }), msg, table.element);
}
