// One plan: its facts and, by status and role, the next step — edit the
// draft, approve it (leader), commit the seed (the commitment shown large,
// with a copy button and a printable notice to post before the draw), go
// to the draw ceremony — and its draws with links to the public records.
// A redraw (or a new attempt after a failed one) takes two people: a
// leader approves it with a reason that is published, and someone else of
// the office commits and draws it (the API refuses the approver both).
import { h, field, chinaTime } from '../../shared/dom.js';
import { t } from '../strings.js';
import { message, errorText } from '../widgets.js';

export async function render({ api, navigate }, id) {
  const [plan, deps, draws] = await Promise.all([
    api.get(`/api/v1/plans/${id}`),
    api.get('/api/v1/departments'),
    api.get(`/api/v1/plans/${id}/draws`).catch(() => ({ draws: [] })),
  ]);
  const items = (await api.get(`/api/v1/items?year=${plan.year}&limit=500`)).items.filter((it) => plan.item_ids.includes(it.id));
  const x = plan.external; // art. 28: another agency named the enterprise
  const named = x ? await api.get(`/api/v1/enterprises/${x.enterprise_id}`).catch(() => null) : null;
  const depName = (d) => deps.departments.find((x) => x.id === d)?.name ?? d;
  const msg = message();
  const office = api.hasRole('coordinator', 'staff');
  // Who runs the plan's attempts (commit, draw, dispatch): the coordinator
  // or the lead department's staff, as the API (mayRun).
  const runs = api.hasRole('coordinator') || (api.hasRole('staff') && api.user.department_id === plan.lead_department_id);
  const actions = h('p', { class: 'row-actions' });
  const act = (label, fn, cls) => h('button', { type: 'button', class: cls, text: label, onclick: async () => {
    try {
      await fn();
    } catch (err) {
      msg.set('error', errorText(err));
    }
  } });

  if (plan.status === 'draft') {
    if (office) actions.append(act(t('common.edit'), () => navigate(`/plans/${id}/edit`), 'secondary'));
    if (api.hasRole('leader')) {
      actions.append(act(t('plans.approve'), async () => {
        await api.post(`/api/v1/plans/${id}/approve`);
        navigate(`/plans/${id}`);
      }));
    }
  }
  // The next attempt after the first needs a leader's approval; the
  // approver leaves its commitment and draw to someone else.
  const next = plan.draw_count + 1;
  const drawable = ['approved', 'drawn'].includes(plan.status); // not yet dispatched
  const approval = drawable && plan.redraw_approval?.seq === next ? plan.redraw_approval : null;
  const again = drawable && plan.draw_count > 0;
  const approver = approval && approval.approved_by === api.user.id;
  let redraw = null;
  if (again && !approval && !plan.seed_commitment && api.hasRole('leader')) {
    const reason = h('input', { id: 'redraw-reason', maxlength: 1000 }); // one line: the API refuses line breaks
    redraw = h('section', { class: 'panel', 'aria-label': t('plans.redraw') },
      h('h2', { text: t('plans.redraw') }),
      h('p', { class: 'note', text: t('plans.redrawNote', { seq: next }) }),
      field(t('plans.redrawReason'), reason),
      h('p', {}, act(t('plans.approveRedraw'), async () => {
        await api.post(`/api/v1/plans/${id}/redraw-approvals`, { reason: reason.value.trim() });
        navigate(`/plans/${id}`);
      }, 'secondary')));
  } else if (again && !approval && !plan.seed_commitment && runs) {
    actions.append(h('span', { class: 'note', id: 'redraw-needs-approval', text: t('plans.redrawNeedsApproval') }));
  }
  const approved = approval ? h('p', { class: 'warning', id: 'redraw-approval' },
    t('plans.redrawApproved', { seq: approval.seq, reason: approval.reason, at: chinaTime(approval.approved_at) }),
    approver ? ` ${t('plans.redrawApprover')}` : '') : null;
  if (drawable && !plan.seed_commitment && runs && (!again || (approval && !approver))) {
    // The entropy source is fixed with the commitment; its value (a later
    // lottery draw, unknown now) is given at the draw.
    const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    const source = h('input', { id: 'entropy-source', value: t('plans.entropySourceDefault', { date: tomorrow }) });
    actions.append(h('label', { for: 'entropy-source', text: t('plans.entropySource') }), source);
    actions.append(act(t('plans.commit'), async () => {
      await api.post(`/api/v1/plans/${id}/commit`, { entropy_source: source.value.trim() });
      navigate(`/plans/${id}`);
    }));
  }

  if (plan.status === 'drawn' && plan.current_draw_id && runs) {
    actions.append(act(t('tasks.dispatch'), async () => {
      const res = await api.post(`/api/v1/draws/${plan.current_draw_id}/dispatch`);
      msg.set('success', t('tasks.dispatched', { n: res.tasks }));
      navigate(`/tasks?plan_id=${id}`);
    }));
  }
  if (['drawn', 'dispatched', 'closed'].includes(plan.status)) {
    actions.append(h('a', { class: 'button secondary', href: `#/tasks?plan_id=${id}`, text: t('tasks.view') }));
  }

  let commitment = null;
  if (plan.seed_commitment) {
    const copy = h('button', { type: 'button', class: 'secondary', text: t('common.copy') });
    copy.addEventListener('click', async () => {
      await navigator.clipboard.writeText(plan.seed_commitment);
      copy.textContent = t('common.copied');
    });
    commitment = h('section', { class: 'panel commit-box' },
      h('h2', { text: t('plans.commitment') }),
      h('code', { class: 'hash big', id: 'commitment', text: plan.seed_commitment }),
      h('p', { class: 'note', text: t('plans.commitmentNote') }),
      h('p', { class: 'row-actions' }, copy,
        h('button', { type: 'button', class: 'secondary', text: t('plans.notice'), onclick: () => printNotice(plan) }),
        runs && !approver ? h('button', { type: 'button', text: t('plans.ceremony'), onclick: () => navigate(`/ceremony/${id}`) }) : null));
  }

  const sample = plan.sample.count ? `${plan.sample.count} 家` : plan.sample.ratio ? `${Math.round(plan.sample.ratio * 10000) / 100}%` : '—';
  return h('section', {},
    h('p', {}, h('a', { href: '#/plans', text: `← ${t('plans.title')}` })),
    h('h1', { text: plan.title }),
    h('p', {}, h('span', { class: `badge ${plan.status === 'draft' ? 'warn' : 'ok'}`, id: 'plan-status', text: t(`plans.status.${plan.status}`) })),
    actions, msg, approved, redraw, commitment,
    h('div', { class: 'panel' }, h('dl', { class: 'facts' },
      h('dt', { text: t('plans.kind') }), h('dd', { text: t(`plans.kind.${x ? 'external' : plan.kind}`) }),
      x ? [h('dt', { text: t('plans.externalAgency') }), h('dd', { text: x.agency }),
        h('dt', { text: t('plans.externalReference') }), h('dd', { text: x.reference }),
        h('dt', { text: t('plans.externalEnterprise') }), h('dd', { id: 'plan-external-enterprise', text: named ? `${named.name} · ${named.uscc}` : x.enterprise_id })] : null,
      h('dt', { text: t('common.year') }), h('dd', { text: String(plan.year) }),
      h('dt', { text: t('plans.lead') }), h('dd', { text: depName(plan.lead_department_id) }),
      x ? null : [h('dt', { text: t('plans.joint') }), h('dd', { text: plan.joint_department_ids.map(depName).join('、') || '—' })],
      h('dt', { text: t('plans.window') }), h('dd', { text: `${plan.window.start} — ${plan.window.end}` }),
      h('dt', { text: t('plans.sample') }), h('dd', { text: sample }),
      h('dt', { text: t('plans.groupSize') }), h('dd', { text: String(plan.group_size) }),
      x ? null : [h('dt', { text: t('plans.filterTowns') }), h('dd', { text: plan.filter.towns.join('、') || t('common.all') }),
        h('dt', { text: t('plans.filterCategories') }), h('dd', { text: plan.filter.categories.map((c) => t(`category.${c}`)).join('、') || t('common.all') }),
        h('dt', { text: t('plans.filterFlags') }), h('dd', { text: plan.filter.flags.map((c) => t(`flag.${c}`)).join('、') || t('common.all') })],
      h('dt', { text: t('plans.items') }), h('dd', {}, h('ul', {}, items.map((it) => h('li', { text: `${it.code} ${it.name}` })))))),
    draws.draws.length ? [h('h2', { text: t('plans.draws') }), h('ul', { id: 'plan-draws' }, draws.draws.map((d) => h('li', {},
      t('plans.drawSeq', { seq: d.seq }), ' · ', chinaTime(d.created_at), ' · ',
      d.outcome === 'failed'
        ? h('span', { class: 'badge bad', text: t('plans.drawFailed', { why: failure(d.failure, depName) }) })
        : `${(d.selections ?? []).length} 家`, ' ',
      d.superseded ? h('span', { class: 'badge warn', text: t('plans.drawSuperseded') }) : null, ' ',
      d.reason ? h('small', { class: 'note', text: t('plans.drawReason', { reason: d.reason }) }) : null, ' ',
      h('a', { href: `/draws/${d.id}`, target: '_blank', rel: 'noopener', text: t('plans.publicRecord') }))))] : null);
}

// failure says why an attempt failed, from its aggregate code
// (department_short:<id>, qualification_short:<code>, eligibility,
// no_assignment): the record names no enterprise and no person.
export function failure(code, depName = (x) => x) {
  const [kind, what] = (code ?? '').split(/:(.*)/s);
  if (kind === 'department_short') return t('draw.failure.department', { what: depName(what) });
  if (kind === 'qualification_short') return t('draw.failure.qualification', { what });
  return t(`draw.failure.${kind}`) === `draw.failure.${kind}` ? code : t(`draw.failure.${kind}`);
}

// printNotice prints the notice to post before the draw: the plan, the
// date, and the commitment the revealed seed must match.
function printNotice(plan) {
  const site = `${location.origin}/plans/${plan.id}`;
  const notice = h('div', { class: 'print-only' },
    h('h1', { text: t('plans.noticeTitle') }),
    h('p', { text: t('plans.noticeBody', { date: plan.window.start, title: plan.title, site }) }),
    h('h2', { text: t('plans.commitment') }),
    h('code', { class: 'hash big', text: plan.seed_commitment }),
    h('p', { text: t('app.bureau') }));
  document.body.append(notice);
  document.body.classList.add('printing');
  const done = () => {
    document.body.classList.remove('printing');
    notice.remove();
    window.removeEventListener('afterprint', done);
  };
  window.addEventListener('afterprint', done);
  window.print();
}
