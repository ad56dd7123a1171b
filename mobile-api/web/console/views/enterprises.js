// 监管对象名录库: search, filter and page the directory; edit with the
// version shown (and kept: every change is a version); record the yearly
// review; import and export. Enterprises not reviewed for 12 months are
// flagged (art. 7: updated at least once a year).
import { h, field, chinaTime } from '../../shared/dom.js';
import { t } from '../strings.js';
import {
  pagedTable, searchBox, select, checkbox, badges, exportButtons, importButton, versionsList,
  dialogBox, message, errorText, CATEGORIES, FLAGS, olderThanMonths,
} from '../widgets.js';

export async function render({ api }) {
  const towns = (await api.get('/api/v1/towns')).towns ?? [];
  const q = searchBox('q', t('common.search'), t('common.searchHint'));
  const town = select('town', t('field.town'), towns.map((x) => [x.name, x.name]));
  const category = select('category', t('field.categories'), CATEGORIES.map((c) => [c, t(`category.${c}`)]));
  const flag = select('flag', t('field.flags'), FLAGS.map((f) => [f, t(`flag.${f}`)]));
  const status = select('status', t('field.status'), [['active', t('status.active')], ['closed', t('status.closed')]]);
  const stale = checkbox('stale', t('ent.staleOnly'));
  const canEdit = api.hasRole('coordinator', 'staff');

  const table = pagedTable({
    api, key: 'enterprises',
    pathFor: () => (stale.checked ? '/api/v1/enterprises/stale' : '/api/v1/enterprises'),
    filters: [q, town, category, flag, status, stale],
    columns: [
      { label: t('field.name'), cell: (e) => [h('strong', { text: e.name }), h('br'), h('code', { text: e.uscc })] },
      { label: t('field.town'), cell: (e) => e.town },
      { label: t('field.industry'), cell: (e) => e.industry },
      { label: t('field.categories'), cell: (e) => [badges(e.categories, 'category.'), badges(e.flags, 'flag.', 'bad')] },
      { label: t('field.reviewedAt'), cell: (e) => [
        e.reviewed_at ? chinaTime(e.reviewed_at, false) : t('ent.never'), ' ',
        olderThanMonths(e.reviewed_at, 12) ? h('span', { class: 'badge warn', text: t('ent.stale') }) : null] },
      { label: t('field.status'), cell: (e) => t(`status.${e.status}`) },
      { label: t('common.actions'), cell: (e) => h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'secondary', text: canEdit ? t('common.edit') : t('common.versions'), onclick: () => edit(e) })) },
    ],
    actions: canEdit ? [
      importButton(api, '/api/v1/enterprises/import', t('nav.enterprises'), () => table.reload()),
      ...exportButtons(api, '/api/v1/enterprises/export', 'enterprises', () => table.query()),
    ] : [],
  });

  async function edit(e) {
    const f = {
      name: h('input', { value: e.name }),
      town: h('select', {}, towns.map((x) => h('option', { value: x.name, text: x.name, selected: x.name === e.town }))),
      industry: h('input', { value: e.industry }),
      address: h('input', { value: e.address }),
      status: h('select', {}, ['active', 'closed'].map((s) => h('option', { value: s, text: t(`status.${s}`), selected: s === e.status }))),
      legal_representative: h('input', { value: e.legal_representative }),
      safety_manager: h('input', { value: e.safety_manager }),
      phone: h('input', { value: e.phone }),
    };
    const cats = CATEGORIES.map((c) => h('input', { type: 'checkbox', value: c, checked: e.categories.includes(c) }));
    const flags = FLAGS.map((c) => h('input', { type: 'checkbox', value: c, checked: e.flags.includes(c) }));
    const msg = message();
    const versions = await versionsList(api, `/api/v1/enterprises/${e.id}/versions`);
    const save = async () => {
      const body = Object.fromEntries(Object.entries(f).map(([k, el]) => [k, el.value]));
      body.categories = cats.filter((c) => c.checked).map((c) => c.value);
      body.flags = flags.filter((c) => c.checked).map((c) => c.value);
      body.version = e.version;
      try {
        const saved = await api.patch(`/api/v1/enterprises/${e.id}`, body);
        Object.assign(e, saved);
        msg.set('success', `${t('common.saved')} ${t('common.version', { version: saved.version })}`);
        table.reload();
      } catch (err) {
        msg.set('error', errorText(err));
      }
    };
    const review = async () => {
      try {
        const saved = await api.post(`/api/v1/enterprises/${e.id}/review`, { version: e.version });
        Object.assign(e, saved);
        msg.set('success', t('ent.reviewed'));
        table.reload();
      } catch (err) {
        msg.set('error', errorText(err));
      }
    };
    dialogBox(`${e.name} · ${t('common.version', { version: e.version })}`,
      h('p', {}, h('code', { text: e.uscc })),
      canEdit ? [
        h('div', { class: 'grid2' },
          field(t('field.name'), f.name), field(t('field.town'), f.town), field(t('field.industry'), f.industry),
          field(t('field.address'), f.address), field(t('field.status'), f.status),
          field(t('field.legalRepresentative'), f.legal_representative), field(t('field.safetyManager'), f.safety_manager),
          field(t('field.phone'), f.phone)),
        h('fieldset', {}, h('legend', { text: t('field.categories') }), h('div', { class: 'checks' },
          cats.map((c) => h('label', {}, c, t(`category.${c.value}`))))),
        h('fieldset', {}, h('legend', { text: t('field.flags') }), h('div', { class: 'checks' },
          flags.map((c) => h('label', {}, c, t(`flag.${c.value}`))))),
        h('p', { class: 'row-actions' },
          h('button', { type: 'button', text: t('common.save'), onclick: save }),
          h('button', { type: 'button', class: 'secondary', text: t('ent.review'), onclick: review })),
        msg,
      ] : null,
      h('h3', { text: t('common.versions') }), versions);
  }

  return h('section', {}, h('h1', { text: t('ent.title') }), table.element);
}
