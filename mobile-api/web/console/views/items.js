// 随机抽查事项清单: the yearly item lists; a coordinator publishes a year's
// list (art. 10), after which it changes only with a reason.
import { h, field } from '../../shared/dom.js';
import { t } from '../strings.js';
import { pagedTable, searchBox, select, exportButtons, importButton, versionsList, dialogBox, message, errorText } from '../widgets.js';

export async function render({ api }) {
  const deps = await api.get('/api/v1/departments');
  const depName = (id) => deps.departments.find((d) => d.id === id)?.name ?? id;
  const year = h('input', { type: 'number', name: 'year', min: 2000, max: 2100, value: String(new Date().getFullYear()), dataset: { label: t('common.year') } });
  const msg = message();
  const editors = api.hasRole('coordinator', 'staff');

  // edit shows an item with its versions; once its year's list is
  // published a change needs a reason (art. 10) and becomes a new version.
  async function edit(it) {
    const f = {
      name: h('input', { value: it.name }),
      content: h('textarea', { rows: 3, value: it.content }),
      method: select('method', t('field.method'), METHODS.map((m) => [m, t(`method.${m}`)]), { all: false }),
    };
    f.method.value = it.method;
    const law = h('input', { value: it.legal_basis.law });
    const article = h('input', { value: it.legal_basis.article });
    const reason = h('input', { value: '' });
    const msg2 = message();
    const versions = await versionsList(api, `/api/v1/items/${it.id}/versions`);
    const save = async () => {
      const body = Object.fromEntries(Object.entries(f).map(([k, el]) => [k, el.value]));
      body.legal_basis = { law: law.value, article: article.value };
      if (reason.value.trim()) body.reason = reason.value.trim();
      body.version = it.version;
      try {
        Object.assign(it, await api.patch(`/api/v1/items/${it.id}`, body));
        msg2.set('success', `${t('common.saved')} ${t('common.version', { version: it.version })}`);
        table.reload();
      } catch (err) {
        msg2.set('error', errorText(err));
      }
    };
    dialogBox(`${it.code} ${it.name} · ${t('common.version', { version: it.version })}`,
      editors ? [
        h('div', { class: 'grid2' }, field(t('field.name'), f.name), field(t('field.method'), f.method),
          field(`${t('field.legalBasis')}（法律法规）`, law), field(`${t('field.legalBasis')}（条款）`, article)),
        field(t('field.content'), f.content),
        field(t('items.reason'), reason),
        h('p', {}, h('button', { type: 'button', text: t('common.save'), onclick: save })), msg2,
      ] : null,
      h('h3', { text: t('common.versions') }), versions);
  }

  const table = pagedTable({
    api, path: '/api/v1/items', key: 'items',
    filters: [year, searchBox('q', t('common.search'), t('common.searchHint'))],
    columns: [
      { label: t('field.code'), cell: (i) => h('code', { text: i.code }) },
      { label: t('field.name'), cell: (i) => h('strong', { text: i.name }) },
      { label: t('field.legalBasis'), cell: (i) => `${i.legal_basis.law} ${i.legal_basis.article}` },
      { label: t('field.department'), cell: (i) => depName(i.department_id) },
      { label: t('field.method'), cell: (i) => t(`method.${i.method}`) },
      { label: t('field.published'), cell: (i) => (i.published ? h('span', { class: 'badge ok', text: t('common.yes') }) : h('span', { class: 'badge warn', text: t('common.no') })) },
      { label: t('common.actions'), cell: (i) => h('button', { type: 'button', class: 'secondary',
        text: editors ? t('common.edit') : t('common.versions'), onclick: () => edit(i) }) },
    ],
    actions: [
      api.hasRole('coordinator') ? h('button', { type: 'button', text: t('items.publish', { year: year.value }), onclick: async (e) => {
        try {
          await api.post('/api/v1/items/publish', { year: Number(year.value) });
          msg.set('success', t('items.published', { year: year.value }));
          table.reload();
        } catch (err) {
          msg.set('error', errorText(err));
        }
        e.target.blur();
      } }) : null,
      api.hasRole('coordinator', 'staff') ? importButton(api, '/api/v1/items/import', t('nav.items'), () => table.reload()) : null,
      ...exportButtons(api, '/api/v1/items/export', 'items', () => new URLSearchParams({ year: year.value }), t('items.exportWhole')),
    ],
  });
  return h('section', {}, h('h1', { text: t('items.title') }), msg, table.element);
}

const METHODS = ['on_site', 'document_review', 'remote_monitoring']; // backend.ItemMethods
