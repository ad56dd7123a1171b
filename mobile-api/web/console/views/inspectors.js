// 执法人员名录库: the roster, with certificates about to expire (30 days)
// or expired flagged (art. 15: expired certificates are never drawn).
import { h } from '../../shared/dom.js';
import { t } from '../strings.js';
import { pagedTable, searchBox, select, checkbox, exportButtons, importButton, versionsList, dialogBox } from '../widgets.js';

export async function render({ api }) {
  const [deps, quals, expiring] = await Promise.all([
    api.get('/api/v1/departments'), api.get('/api/v1/qualifications'), api.get('/api/v1/inspectors/expiring?days=30'),
  ]);
  const soon = new Set(expiring.inspectors.map((i) => i.id));
  const depName = (id) => deps.departments.find((d) => d.id === id)?.name ?? id;
  const qualName = (code) => quals.qualifications.find((q) => q.code === code)?.name ?? code;
  const office = api.hasRole('coordinator', 'staff');
  const table = pagedTable({
    api, path: '/api/v1/inspectors', key: 'inspectors',
    filters: [
      searchBox('q', t('common.search'), t('common.searchHint')),
      select('department_id', t('field.department'), deps.departments.map((d) => [d.id, d.name])),
      select('qualification', t('field.qualifications'), quals.qualifications.map((q) => [q.code, q.name])),
      checkbox('drawable', '可参与抽取'),
    ],
    columns: [
      { label: t('field.name'), cell: (i) => h('strong', { text: i.name }) },
      { label: t('field.badgeNo'), cell: (i) => h('code', { text: i.badge_no }) },
      { label: t('field.department'), cell: (i) => depName(i.department_id) },
      { label: t('field.qualifications'), cell: (i) => i.qualifications.map(qualName).join('、') },
      { label: t('field.certificateExpires'), cell: (i) => [i.certificate_expires, ' ',
        i.certificate_expired ? h('span', { class: 'badge bad', text: t('insp.expired') })
          : soon.has(i.id) ? h('span', { class: 'badge warn', text: t('insp.expiring') }) : null] },
      { label: t('field.active'), cell: (i) => (i.active ? t('common.yes') : t('common.no')) },
      { label: t('common.versions'), cell: (i) => h('button', { type: 'button', class: 'secondary', text: t('common.versions'),
        onclick: async () => dialogBox(`${i.name} · ${t('common.version', { version: i.version })}`, await versionsList(api, `/api/v1/inspectors/${i.id}/versions`)) }) },
    ],
    actions: [
      office ? importButton(api, '/api/v1/inspectors/import', t('nav.inspectors'), () => table.reload()) : null,
      ...exportButtons(api, '/api/v1/inspectors/export', 'inspectors', () => table.query()),
    ],
  });
  return h('section', {},
    h('h1', { text: t('insp.title') }),
    expiring.inspectors.length ? h('p', { class: 'warning' }, `${t('insp.expiringList', { days: 30 })}：`,
      expiring.inspectors.map((i) => `${i.name}（${i.certificate_expires}）`).join('、')) : null,
    table.element);
}
