// 股室与协同部门: internal offices, the brigade and partner agencies, with
// their versions.
import { h } from '../../shared/dom.js';
import { t } from '../strings.js';
import { versionsList, dialogBox } from '../widgets.js';

export async function render({ api }) {
  const deps = (await api.get('/api/v1/departments')).departments;
  return h('section', {},
    h('h1', { text: t('dept.title') }),
    h('table', {},
      h('thead', {}, h('tr', {}, [t('field.name'), t('field.kind'), t('common.versions')].map((x) => h('th', { text: x })))),
      h('tbody', {}, deps.map((d) => h('tr', {},
        h('td', { text: d.name }), h('td', { text: t(`department.${d.kind}`) }),
        h('td', {}, h('button', { type: 'button', class: 'secondary', text: t('common.version', { version: d.version }),
          onclick: async () => dialogBox(d.name, await versionsList(api, `/api/v1/departments/${d.id}/versions`)) })))))));
}
