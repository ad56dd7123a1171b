// The plan draft form. The pool a plan would draw from is shown live as
// the filter changes (GET /api/v1/reports/pool applies the same rules as
// the draw: art. 13's active enterprises, art. 16's cap of two and the
// coverage rule), so the filter is tuned before a leader approves it.
//
// The kind "external" is the bureau's share of another agency's joint
// draw (art. 28): the agency, its reference and the enterprise it named
// replace the filter and the sample (the API's plan.external; the plan is
// directed with a sample of one, and its draw draws only the inspectors).
import { h, field } from '../../shared/dom.js';
import { t } from '../strings.js';
import { message, errorText, enterprisePicker, CATEGORIES, FLAGS } from '../widgets.js';

export async function render({ api, navigate }, id) {
  const plan = id ? await api.get(`/api/v1/plans/${id}`) : null;
  const thisYear = new Date().getFullYear();
  const [towns, departments] = await Promise.all([api.get('/api/v1/towns'), api.get('/api/v1/departments')]);
  const me = api.user;

  const year = h('input', { type: 'number', min: 2000, max: 2100, value: String(plan?.year ?? thisYear), required: true });
  const title = h('input', { value: plan?.title ?? '', required: true, maxlength: 200 });
  const kindOf = plan?.external ? 'external' : plan?.kind;
  const kind = h('select', {}, ['undirected', 'directed', 'coverage', 'external'].map((k) => h('option', { value: k, text: t(`plans.kind.${k}`), selected: kindOf === k })));
  const lead = h('select', {}, departments.departments.map((d) => h('option', {
    value: d.id, text: d.name, selected: plan ? plan.lead_department_id === d.id : d.id === me.department_id,
  })));
  const joint = departments.departments.map((d) => h('input', { type: 'checkbox', value: d.id, checked: plan?.joint_department_ids.includes(d.id), dataset: { label: d.name } }));
  const townBoxes = towns.towns.map((x) => h('input', { type: 'checkbox', value: x.name, checked: plan?.filter.towns.includes(x.name), dataset: { label: x.name } }));
  const catBoxes = CATEGORIES.map((c) => h('input', { type: 'checkbox', value: c, checked: plan?.filter.categories.includes(c), dataset: { label: t(`category.${c}`) } }));
  const flagBoxes = FLAGS.map((c) => h('input', { type: 'checkbox', value: c, checked: plan?.filter.flags.includes(c), dataset: { label: t(`flag.${c}`) } }));
  const industries = h('input', { value: (plan?.filter.industries ?? []).join('、') });
  const mode = h('select', {}, h('option', { value: 'ratio', text: t('plans.sampleRatio') }), h('option', { value: 'count', text: t('plans.sampleCount'), selected: !!plan?.sample.count }));
  const amount = h('input', { type: 'number', min: 0, step: 'any', value: String(plan?.sample.count || (plan?.sample.ratio ? plan.sample.ratio * 100 : 10)) });
  const groupSize = h('input', { type: 'number', min: 2, max: 10, value: String(plan?.group_size ?? 2) });
  const start = h('input', { type: 'date', value: plan?.window.start ?? `${thisYear}-06-01` });
  const end = h('input', { type: 'date', value: plan?.window.end ?? `${thisYear}-06-30` });
  const itemBox = h('div', { class: 'checks' });

  // Art. 28: who asked, under which reference, for which enterprise.
  // The agency is a partner the bureau registered (a department of kind
  // external), as the API requires.
  const agency = h('select', {}, h('option', { value: '', text: t('plans.externalAgencyPick') }),
    departments.departments.filter((d) => d.kind === 'external').map((d) => h('option', { value: d.name, text: d.name, selected: plan?.external?.agency === d.name })));
  const reference = h('input', { value: plan?.external?.reference ?? '', maxlength: 100 });
  const named = plan?.external ? await api.get(`/api/v1/enterprises/${plan.external.enterprise_id}`).catch(() => null) : null;
  const ent = enterprisePicker(api, { initial: named, onChange: () => refreshPool() });
  let itemChecks = [];

  async function loadItems() {
    const data = await api.get(`/api/v1/items?year=${encodeURIComponent(year.value)}&limit=500`);
    itemChecks = data.items.filter((it) => it.published).map((it) => h('input', {
      type: 'checkbox', value: it.id, checked: plan?.item_ids.includes(it.id), dataset: { label: `${it.code} ${it.name}` },
    }));
    itemBox.replaceChildren(...(itemChecks.length ? itemChecks.map(labelled) : [h('span', { class: 'empty', text: t('common.none') })]));
  }
  const labelled = (c) => h('label', {}, c, c.dataset.label);
  const checked = (boxes) => boxes.filter((c) => c.checked).map((c) => c.value);

  const poolText = h('span', { id: 'pool-size', text: t('plans.poolLoading') });
  const poolDetail = h('div', { class: 'note' });
  const pool = h('div', { class: 'pool', role: 'status', 'aria-live': 'polite' }, poolText, poolDetail);
  let poolSeq = 0;
  let poolTimer;
  function sample() {
    const n = Number(amount.value);
    return mode.value === 'count' ? { count: Math.round(n) } : { ratio: n / 100 };
  }
  function refreshPool() {
    clearTimeout(poolTimer);
    if (kind.value === 'external') { // one named enterprise: no pool to draw from
      poolSeq++; // a pool asked for before the kind changed is not shown
      poolText.textContent = ent.pick.value ? t('plans.externalPool', { name: ent.name() }) : t('picker.none');
      poolDetail.textContent = '';
      return;
    }
    poolTimer = setTimeout(async () => {
      const seq = ++poolSeq;
      const q = new URLSearchParams({ year: year.value, kind: kind.value });
      const add = (k, v) => { if (v.length) q.set(k, v.join(',')); };
      add('towns', checked(townBoxes));
      add('categories', checked(catBoxes));
      add('flags', checked(flagBoxes));
      add('industries', industries.value.split(/[、,，]/).map((s) => s.trim()).filter(Boolean));
      const s = sample();
      if (kind.value !== 'coverage') for (const [k, v] of Object.entries(s)) if (v) q.set(k, String(v));
      try {
        const p = await api.get(`/api/v1/reports/pool?${q}`);
        if (seq !== poolSeq) return;
        poolText.replaceChildren(h('strong', { text: t('plans.pool', { n: p.pool_size }) }), '　', t('plans.poolSample', { k: p.sample_size }));
        poolDetail.textContent = p.towns.length ? t('plans.poolTowns', { towns: p.towns.map((x) => `${x.town} ${x.pool_size}`).join('，') }) : '';
      } catch (err) {
        if (seq === poolSeq) poolText.textContent = errorText(err);
      }
    }, 200);
  }

  // What the kind shows: a filter and a sample to draw from, or the
  // enterprise another agency named (art. 28).
  const externalPart = h('fieldset', {}, h('legend', { text: t('plans.kind.external') }),
    h('p', { class: 'note', text: t('plans.externalNote') }),
    h('div', { class: 'grid2' }, field(t('plans.externalAgency'), agency), field(t('plans.externalReference'), reference)),
    field(t('plans.externalSearch'), ent.query), field(t('plans.externalEnterprise'), ent.pick));
  const drawnPart = h('div', {},
    h('fieldset', {}, h('legend', { text: t('plans.filterTowns') }), h('div', { class: 'checks' }, townBoxes.map(labelled))),
    h('fieldset', {}, h('legend', { text: t('plans.filterCategories') }), h('div', { class: 'checks' }, catBoxes.map(labelled))),
    h('fieldset', {}, h('legend', { text: t('plans.filterFlags') }), h('div', { class: 'checks' }, flagBoxes.map(labelled))),
    field(t('plans.filterIndustries'), industries),
    h('div', { class: 'grid2' }, field(t('plans.sampleMode'), mode), field(t('plans.sample'), amount)));
  const jointPart = h('fieldset', {}, h('legend', { text: t('plans.joint') }), h('div', { class: 'checks' }, joint.map(labelled)));
  function showKind() {
    const external = kind.value === 'external';
    externalPart.hidden = !external;
    drawnPart.hidden = external;
    jointPart.hidden = external;
  }
  kind.addEventListener('change', showKind);
  showKind();

  const msg = message();
  const form = h('form', { class: 'panel', onsubmit: async (e) => {
    e.preventDefault();
    const body = {
      year: Number(year.value), title: title.value.trim(), kind: kind.value, item_ids: checked(itemChecks),
      lead_department_id: lead.value, joint_department_ids: checked(joint),
      filter: { towns: checked(townBoxes), industries: industries.value.split(/[、,，]/).map((s) => s.trim()).filter(Boolean), categories: checked(catBoxes), flags: checked(flagBoxes) },
      sample: kind.value === 'coverage' ? {} : sample(), group_size: Number(groupSize.value),
      window: { start: start.value, end: end.value }, external: null,
    };
    if (kind.value === 'external') {
      Object.assign(body, {
        kind: 'directed', joint_department_ids: [], filter: { towns: [], industries: [], categories: [], flags: [] }, sample: { count: 1 },
        external: { agency: agency.value.trim(), reference: reference.value.trim(), enterprise_id: ent.pick.value },
      });
    }
    try {
      const saved = plan ? await api.patch(`/api/v1/plans/${plan.id}`, { ...body, version: plan.version }) : await api.post('/api/v1/plans', body);
      navigate(`/plans/${saved.id}`);
    } catch (err) {
      msg.set('error', errorText(err));
    }
  } },
  pool,
  h('div', { class: 'grid2' },
    field(t('plans.titleField'), title), field(t('common.year'), year), field(t('plans.kind'), kind), field(t('plans.lead'), lead)),
  externalPart,
  h('fieldset', {}, h('legend', { text: t('plans.items') }), itemBox),
  drawnPart,
  h('div', { class: 'grid2' },
    field(t('plans.groupSize'), groupSize), field(t('plans.windowStart'), start), field(t('plans.windowEnd'), end)),
  jointPart,
  msg,
  h('button', { type: 'submit', text: t('plans.save') }));

  form.addEventListener('change', refreshPool);
  form.addEventListener('input', refreshPool);
  year.addEventListener('change', loadItems);
  await loadItems();
  refreshPool();
  return h('section', {}, h('h1', { text: plan ? t('plans.edit') : t('plans.new') }), form);
}
