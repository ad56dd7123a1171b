// 股室与协同部门: internal offices, the brigade and partner agencies, with
// their versions. Admins and coordinators add one — a partner agency
// before a joint inspection with it, or before recording its joint draw
// (art. 27, 28) — and rename one (the versions keep the old name).
import { h, field } from '../../shared/dom.js';
import { t } from '../strings.js';
import { versionsList, dialogBox, message, errorText } from '../widgets.js';

const KINDS = ['internal', 'brigade', 'external'];

export async function render({ api, navigate }) {
  const deps = (await api.get('/api/v1/departments')).departments;
  const keeper = api.hasRole('admin', 'coordinator');
  const kindSelect = (selected) => h('select', {}, KINDS.map((k) => h('option', { value: k, text: t(`department.${k}`), selected: k === selected })));

  // add: a new department, then the list again.
  const name = h('input', { maxlength: 100, required: true });
  const kind = kindSelect('external');
  const msg = message();
  const add = keeper ? h('form', { class: 'panel', onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api.post('/api/v1/departments', { name: name.value.trim(), kind: kind.value });
      navigate('/departments');
    } catch (err) {
      msg.set('error', errorText(err));
    }
  } },
  h('h2', { text: t('dept.new') }),
  h('div', { class: 'grid2' }, field(t('field.name'), name), field(t('field.kind'), kind)),
  msg, h('button', { type: 'submit', text: t('dept.add') })) : null;

  // edit: rename or re-classify one, with its versions.
  async function edit(d) {
    const rename = h('input', { value: d.name, maxlength: 100 });
    const rekind = kindSelect(d.kind);
    const note = message();
    const versions = await versionsList(api, `/api/v1/departments/${d.id}/versions`);
    const save = async () => {
      try {
        await api.patch(`/api/v1/departments/${d.id}`, { name: rename.value.trim(), kind: rekind.value, version: d.version });
        dialog.close();
        navigate('/departments');
      } catch (err) {
        note.set('error', errorText(err));
      }
    };
    const dialog = dialogBox(`${d.name} · ${t('common.version', { version: d.version })}`,
      keeper ? [h('div', { class: 'grid2' }, field(t('field.name'), rename), field(t('field.kind'), rekind)),
        h('p', {}, h('button', { type: 'button', text: t('common.save'), onclick: save })), note] : null,
      h('h3', { text: t('common.versions') }), versions);
  }

  return h('section', {},
    h('h1', { text: t('dept.title') }),
    h('table', {},
      h('thead', {}, h('tr', {}, [t('field.name'), t('field.kind'), t('common.actions')].map((x) => h('th', { text: x })))),
      h('tbody', {}, deps.map((d) => h('tr', {},
        h('td', { text: d.name }), h('td', { text: t(`department.${d.kind}`) }),
        h('td', {}, h('button', { type: 'button', class: 'secondary',
          text: keeper ? t('common.edit') : t('common.version', { version: d.version }), onclick: () => edit(d) })))))),
    add);
}
