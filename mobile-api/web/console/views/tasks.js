// 检查任务: the tasks dispatched from draws (and targeted checks), with
// their groups, deadlines and state; the overdue list (art. 21, 24). A
// task's name opens it (views/task.js).
import { h } from '../../shared/dom.js';
import { t } from '../strings.js';
import { pagedTable, select, checkbox } from '../widgets.js';

export async function render({ api }) {
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
  return h('section', {}, h('h1', { text: t('tasks.title') }),
    plan.value ? h('p', {}, h('a', { href: `#/plans/${plan.value}`, text: `← ${t('tasks.ofPlan')}` })) : null,
    table.element);
}

const STATES = ['assigned', 'in_progress', 'submitted', 'completed', 'reviewed', 'published', 'cancelled'];
