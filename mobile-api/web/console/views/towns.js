// 乡镇: the county's towns, used to balance undirected draws (art. 8).
import { h } from '../../shared/dom.js';
import { t } from '../strings.js';

export async function render({ api }) {
  const towns = (await api.get('/api/v1/towns')).towns;
  return h('section', {},
    h('h1', { text: t('towns.title') }),
    h('table', {},
      h('thead', {}, h('tr', {}, [t('field.name'), t('field.code')].map((x) => h('th', { text: x })))),
      h('tbody', {}, towns.map((x) => h('tr', {}, h('td', { text: x.name }), h('td', { text: x.code ?? '' }))))));
}
