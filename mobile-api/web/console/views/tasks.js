// 检查任务: the tasks dispatched from draws (and targeted checks), with
// their groups, deadlines and state; the overdue list (art. 21, 24). A
// task's name opens it (views/task.js). The office records a targeted
// (non-random) check here — a complaint, a superior's assignment, a
// referral (art. 2) — naming its group; it counts as targeted in the
// random share.
import { h, field } from '../../shared/dom.js';
import { t } from '../strings.js';
import { pagedTable, select, checkbox, dialogBox, message, errorText, enterprisePicker, memberPicker } from '../widgets.js';

const SOURCES = ['complaint', 'assigned', 'referral'];

export async function render({ api, navigate }) {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const plan = h('input', { type: 'hidden', name: 'plan_id', value: params.get('plan_id') ?? '' });
  const year = h('input', { type: 'number', name: 'year', min: 2000, max: 2100, value: String(new Date().getFullYear()), dataset: { label: t('common.year') } });
  const state = select('state', t('tasks.state'), STATES.map((s) => [s, t(`tasks.state.${s}`)]));
  const overdue = checkbox('overdue', t('tasks.overdueOnly'));
  const table = pagedTable({
    api, key: 'tasks',
    pathFor: (q) => {
      q.delete('overdue');
      return overdue.checked ? '/api/v1/tasks/overdue' : '/api/v1/tasks';
    },
    filters: [plan, year, state, overdue],
    columns: [
      { label: t('field.name'), cell: (x) => [h('a', { href: `#/tasks/${encodeURIComponent(x.id)}`, title: t('tasks.open') }, h('strong', { text: x.enterprise.name })), h('br'), h('code', { text: x.enterprise.uscc })] },
      { label: t('field.town'), cell: (x) => x.enterprise.town },
      { label: t('tasks.kind'), cell: (x) => t(`tasks.kind.${x.kind}`) },
      { label: t('cer.group'), cell: (x) => x.members.filter((m) => !m.removed_at).map((m) => `${m.name}（${m.badge_no}）`).join('、') },
      { label: t('tasks.deadline'), cell: (x) => [x.deadlines.window, ...(x.overdue ?? []).map((d) => h('span', { class: 'badge bad', text: t(`tasks.overdue.${d}`) }))] },
      { label: t('tasks.state'), cell: (x) => h('span', { class: 'badge', text: t(`tasks.state.${x.state}`) }) },
    ],
  });
  const office = api.hasRole('coordinator', 'staff');
  return h('section', {}, h('h1', { text: t('tasks.title') }),
    plan.value ? h('p', {}, h('a', { href: `#/plans/${plan.value}`, text: `← ${t('tasks.ofPlan')}` })) : null,
    office ? h('p', {}, h('button', { type: 'button', text: t('targeted.new'), onclick: () => targeted(api, navigate) })) : null,
    table.element);
}

// targeted opens the form of a targeted check: why, where, what, who and
// when; saved, it opens the new task.
async function targeted(api, navigate) {
  const year = new Date().getFullYear();
  const [items, deps] = await Promise.all([
    api.get(`/api/v1/items?year=${year}&limit=500`),
    api.get('/api/v1/departments'),
  ]);
  const depName = (id) => deps.departments.find((d) => d.id === id)?.name ?? id;
  const source = h('select', {}, SOURCES.map((s) => h('option', { value: s, text: t(`targeted.source.${s}`) })));
  const reason = h('input', { maxlength: 1000 });
  // The responsible department: a coordinator names one; staff act for their own.
  const mine = api.user.department_id;
  const coordinator = api.hasRole('coordinator');
  const department = h('select', { disabled: !coordinator }, deps.departments.filter((d) => d.kind !== 'external')
    .map((d) => h('option', { value: d.id, text: d.name, selected: d.id === mine })));
  const ent = enterprisePicker(api);
  const itemBoxes = items.items.filter((it) => it.published).map((it) => h('input', { type: 'checkbox', value: it.id, dataset: { label: `${it.code} ${it.name}` } }));
  const members = memberPicker(api, depName);
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10); // in the bureau's zone (UTC+8)
  const start = h('input', { type: 'date', value: today });
  const end = h('input', { type: 'date' });
  const labelled = (c) => h('label', {}, c, c.dataset.label);
  const checked = (boxes) => boxes.filter((c) => c.checked).map((c) => c.value);
  const msg = message();
  // One id for this form however often it is sent (a double click, a
  // retry after a lost answer): the server makes the task once.
  const taskID = crypto.randomUUID();
  const dialog = dialogBox(t('targeted.new'),
    h('p', { class: 'note', text: t('targeted.note') }),
    h('div', { class: 'grid2' }, field(t('targeted.source'), source), field(t('targeted.reason'), reason),
      field(t('targeted.department'), department),
      field(t('targeted.search'), ent.query), field(t('targeted.enterprise'), ent.pick),
      field(t('plans.windowStart'), start), field(t('plans.windowEnd'), end)),
    h('fieldset', {}, h('legend', { text: t('plans.items') }), h('div', { class: 'checks' }, itemBoxes.map(labelled))),
    h('fieldset', {}, h('legend', { text: t('targeted.group') }), field(t('members.search'), members.query, t('members.leadFirst')), members.boxes, members.status),
    h('p', {}, h('button', { type: 'button', text: t('common.save'), onclick: async (e) => {
      e.target.disabled = true;
      try {
        const task = await api.post('/api/v1/tasks', {
          id: taskID, source: source.value, reason: reason.value.trim(), enterprise_id: ent.pick.value, department_id: department.value,
          item_ids: checked(itemBoxes), badge_nos: members.chosen(), window: { start: start.value, end: end.value },
        });
        dialog.close();
        navigate(`/tasks/${task.id}`);
      } catch (err) {
        msg.set('error', errorText(err));
      } finally {
        e.target.disabled = false;
      }
    } })), msg);
}

const STATES = ['assigned', 'in_progress', 'submitted', 'completed', 'reviewed', 'published', 'cancelled'];
