// 执法人员名录库: the roster, with certificates about to expire (30 days)
// or expired flagged (art. 15: expired certificates are never drawn).
import { h, field } from '../../shared/dom.js';
import { t } from '../strings.js';
import { pagedTable, searchBox, select, checkbox, exportButtons, importButton, versionsList, dialogBox, message, errorText } from '../widgets.js';

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
      { label: t('common.actions'), cell: (i) => h('button', { type: 'button', class: 'secondary',
        text: office ? t('common.edit') : t('common.versions'), onclick: () => edit(i) }) },
    ],
    actions: [
      office ? importButton(api, '/api/v1/inspectors/import', t('nav.inspectors'), () => table.reload()) : null,
      ...exportButtons(api, '/api/v1/inspectors/export', 'inspectors', undefined, t('inspectors.exportWhole')),
    ],
  });
  // edit shows the inspector with its versions; the office may change the
  // certificate, qualifications, department and whether in service.
  async function edit(i) {
    const f = {
      name: h('input', { value: i.name }),
      certificate_expires: h('input', { type: 'date', value: i.certificate_expires }),
      department_id: h('select', {}, deps.departments.map((d) => h('option', { value: d.id, text: d.name, selected: d.id === i.department_id }))),
      phone: h('input', { value: i.phone ?? '' }),
    };
    const active = h('input', { type: 'checkbox', checked: i.active });
    const quals = quals0.map((q) => h('input', { type: 'checkbox', value: q.code, checked: i.qualifications.includes(q.code), dataset: { label: q.name } }));
    const msg = message();
    const versions = await versionsList(api, `/api/v1/inspectors/${i.id}/versions`);
    const save = async () => {
      const body = Object.fromEntries(Object.entries(f).map(([k, el]) => [k, el.value]));
      body.active = active.checked;
      body.qualifications = quals.filter((c) => c.checked).map((c) => c.value);
      body.version = i.version;
      try {
        Object.assign(i, await api.patch(`/api/v1/inspectors/${i.id}`, body));
        msg.set('success', `${t('common.saved')} ${t('common.version', { version: i.version })}`);
        table.reload();
      } catch (err) {
        msg.set('error', errorText(err));
      }
    };
    dialogBox(`${i.name}（${i.badge_no}）· ${t('common.version', { version: i.version })}`,
      office ? [
        h('div', { class: 'grid2' }, field(t('field.name'), f.name), field(t('field.certificateExpires'), f.certificate_expires),
          field(t('field.department'), f.department_id), field(t('field.phone'), f.phone)),
        h('p', {}, h('label', {}, active, ' ', t('field.active'))),
        h('fieldset', {}, h('legend', { text: t('field.qualifications') }), h('div', { class: 'checks' }, quals.map((c) => h('label', {}, c, c.dataset.label)))),
        h('p', {}, h('button', { type: 'button', text: t('common.save'), onclick: save })), msg,
      ] : null,
      h('h3', { text: t('common.versions') }), versions);
  }
  const quals0 = quals.qualifications;

  return h('section', {},
    h('h1', { text: t('insp.title') }),
    expiring.inspectors.length ? h('p', { class: 'warning' }, `${t('insp.expiringList', { days: 30 })}：`,
      expiring.inspectors.map((i) => `${i.name}（${i.certificate_expires}）`).join('、')) : null,
    table.element);
}
