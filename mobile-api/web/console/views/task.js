// One task: the enterprise, its plan, state and deadlines (feedback 7
// working days, publication 20 working days after the inspection ended,
// art. 21, 24; overdue marked), the group with each member's progress, the
// checklist outcomes and the findings; and the bureau's next step by state
// — review (approve with the confirmed result, or return with a comment),
// the feedback's delivery, publication — with the archived documents after
// approval, the evidence (evidence.js), the non-cooperation recorded, the
// dispositions that followed (art. 25: a case opened, a transfer) and a
// correction of a published result with its reason. What may be done the
// API decides: a refusal is shown here.
import { h, field, chinaTime } from '../../shared/dom.js';
import { t } from '../strings.js';
import { message, select, errorText } from '../widgets.js';
import { evidenceSection } from './evidence.js';
import { replacementsSection } from './replacements.js';

export async function render({ api, navigate }, id) {
  const task = await api.get(`/api/v1/tasks/${id}`);
  const office = api.hasRole('coordinator', 'staff');
  const [result, deps, plan, findings, archive, evidence, noncoop, replacements] = await Promise.all([
    api.get(`/api/v1/tasks/${id}/result`).catch(() => null),
    api.get('/api/v1/departments').catch(() => ({ departments: [] })),
    task.plan_id ? api.get(`/api/v1/plans/${task.plan_id}`).catch(() => null) : null,
    api.get(`/api/v1/tasks/${id}/findings`).catch(() => ({ findings: [] })),
    ['reviewed', 'published'].includes(task.state) ? api.get(`/api/v1/tasks/${id}/archive`).catch(() => null) : null,
    api.get(`/api/v1/tasks/${id}/evidence`).catch(() => ({ evidence: [] })),
    api.get(`/api/v1/tasks/${id}/non-cooperation`).catch(() => ({ non_cooperation: [] })),
    task.draw_id ? api.get(`/api/v1/tasks/${id}/replacements`).catch(() => ({ replacements: [] })) : { replacements: [] },
  ]);
  const depName = (d) => deps.departments.find((x) => x.id === d)?.name ?? d;
  const itemName = (itemID) => {
    const it = task.items.find((x) => x.id === itemID);
    return it ? `${it.code} ${it.name}` : itemID;
  };
  const msg = message();
  // act runs an action; a refusal (4xx) is shown with what the API said.
  // labels names the fields this action means otherwise than the console does.
  const act = (label, fn, cls, labels) => h('button', { type: 'button', class: cls, text: label, onclick: async () => {
    msg.set('', '');
    try {
      await fn();
      navigate(`/tasks/${id}`);
    } catch (err) {
      msg.set('error', errorText(err, labels));
    }
  } });

  const actions = [];
  if (office && task.state === 'completed') actions.push(reviewForm(api, task, act));
  // Feedback follows the end of the inspection, once (art. 21).
  if (office && result && !result.feedback && task.inspection_ended_at && task.state !== 'cancelled') actions.push(feedbackForm(api, task, act));
  // Before the inspection begins only (the API refuses a begun one: it
  // ends with a result, such as 未发现监管对象).
  // The coordinator, or staff of the task's lead department (as the API).
  const manages = api.hasRole('coordinator') || (api.hasRole('staff') && api.user.department_id === task.lead_department_id);
  if (manages && task.state === 'assigned') {
    const reason = h('input', { maxlength: 1000 });
    actions.push(h('section', { class: 'panel', 'aria-label': t('task.cancel') },
      h('h2', { text: t('task.cancel') }),
      h('p', { class: 'note', text: t('task.cancelNote') }),
      field(t('task.cancelReason'), reason),
      h('p', {}, act(t('task.cancel'), () => api.post(`/api/v1/tasks/${id}/cancel`, { reason: reason.value.trim(), version: task.version }), 'danger'))));
  }
  // What followed the check (art. 25), once its inspection ended; on a
  // published result each is a new public version.
  if (manages && task.inspection_ended_at && task.state !== 'cancelled') actions.push(dispositionForm(api, task, act));
  if (manages && task.state === 'published' && result?.result) actions.push(correctionForm(api, task, result, act));
  if (office && task.state === 'reviewed') {
    actions.push(h('section', { class: 'panel', 'aria-label': t('task.publish') },
      h('h2', { text: t('task.publish') }),
      h('p', { class: 'note', text: t('task.publishNote') }),
      h('p', {}, act(t('task.publish'), () => api.post(`/api/v1/tasks/${id}/publish`, { version: task.version })))));
  }

  const overdue = (d) => ((task.overdue ?? []).includes(d) ? h('span', { class: 'badge bad', text: t(`tasks.overdue.${d}`) }) : null);
  const deadline = (d, due, hint) => [due || t('task.notYet'), ' ', h('small', { class: 'note', text: hint }), ' ', overdue(d)];
  const active = task.members.filter((m) => !m.removed_at);
  const progress = (m) => task.progress.find((p) => p.user_id === m.user_id || p.badge_no === m.badge_no);
  const yes = (v) => h('span', { class: `badge ${v ? 'ok' : ''}`, text: v ? t('common.yes') : t('common.no') });

  return h('section', {},
    h('p', {}, h('a', { href: task.plan_id ? `#/tasks?plan_id=${task.plan_id}` : '#/tasks', text: `← ${t('tasks.title')}` })),
    h('h1', { text: task.enterprise.name }),
    h('p', {}, h('code', { text: task.enterprise.uscc }), ' · ', task.enterprise.town, ' · ', task.enterprise.address, ' ',
      h('span', { class: `badge ${task.state === 'cancelled' ? 'bad' : 'ok'}`, id: 'task-state', text: t(`tasks.state.${task.state}`) })),
    task.cancellation ? h('p', { class: 'warning', id: 'task-cancellation', text: t('task.cancelled', { reason: task.cancellation.reason, at: chinaTime(task.cancellation.at) }) }) : null,
    msg, actions,
    h('div', { class: 'panel' }, h('dl', { class: 'facts' },
      h('dt', { text: t('tasks.kind') }), h('dd', { text: t(`tasks.kind.${task.kind}`) + (task.reason ? `（${task.reason}）` : '') }),
      h('dt', { text: t('task.plan') }), h('dd', {}, task.plan_id
        ? h('a', { href: `#/plans/${task.plan_id}`, text: plan?.title ?? task.plan_id })
        : (task.external_plan_ref || '—')),
      h('dt', { text: t('plans.lead') }), h('dd', { text: depName(task.lead_department_id) }),
      h('dt', { text: t('plans.window') }), h('dd', {}, `${task.window.start} — ${task.window.end} `, overdue('window')),
      h('dt', { text: t('task.ended') }), h('dd', { text: task.inspection_ended_at ? chinaTime(task.inspection_ended_at) : t('task.notYet') }),
      h('dt', { text: t('task.feedbackDue') }), h('dd', { id: 'task-feedback-due' }, deadline('feedback', task.deadlines.feedback, t('task.feedbackRule'))),
      h('dt', { text: t('task.publicationDue') }), h('dd', { id: 'task-publication-due' }, deadline('publication', task.deadlines.publication, t('task.publicationRule'))),
      h('dt', { text: t('task.submitted') }), h('dd', { text: task.submitted_result ? t(`result.${task.submitted_result}`) : '—' }),
      h('dt', { text: t('task.confirmed') }), h('dd', { id: 'task-result', text: result?.result ? t(`result.${result.result}`) : '—' }))),
    h('h2', { text: t('cer.group') }),
    h('div', { class: 'scroll' }, h('table', { id: 'task-group' },
      h('thead', {}, h('tr', {}, [t('task.member'), t('field.badgeNo'), t('field.department'), t('task.checkedIn'), t('task.submittedOwn')].map((x) => h('th', { text: x })))),
      // The group in force, then those replaced out of it (with why).
      h('tbody', {}, [...task.members, ...(task.replaced_members ?? [])].map((m) => {
        const p = progress(m);
        return h('tr', {},
          h('td', {}, m.name, m.lead ? h('span', { class: 'badge', text: t('task.lead') }) : null,
            m.removed_at ? h('span', { class: 'badge warn', text: t('task.removed', { reason: m.remove_reason ?? '' }) }) : null),
          h('td', {}, h('code', { text: m.badge_no })),
          h('td', { text: depName(m.department_id) }),
          h('td', {}, m.removed_at ? '—' : [yes(p?.checked_in), p?.check_in_flagged ? h('span', { class: 'badge warn', text: t('task.flagged') }) : null]),
          h('td', {}, m.removed_at ? '—' : yes(p?.submitted)));
      })))),
    replacementsSection(api, task, replacements.replacements, { manages, onChange: () => navigate(`/tasks/${id}`) }),
    h('p', { class: 'note', text: t('task.progress', {
      checked: active.filter((m) => progress(m)?.checked_in).length,
      submitted: active.filter((m) => progress(m)?.submitted).length, n: active.length }) }),
    h('h2', { text: t('task.checklist') }),
    h('div', { class: 'scroll' }, h('table', { id: 'task-checklist' },
      h('thead', {}, h('tr', {}, [t('plans.items'), t('task.outcome'), t('task.note')].map((x) => h('th', { text: x })))),
      h('tbody', {}, task.items.filter((it) => it.applicable).map((it) => {
        const o = task.checklist.find((c) => c.item_id === it.id);
        return h('tr', {},
          h('td', { text: `${it.code} ${it.name}` }),
          h('td', {}, o ? h('span', { class: `badge ${o.outcome === 'fail' ? 'bad' : o.outcome === 'pass' ? 'ok' : ''}`, text: t(`outcome.${o.outcome}`) }) : t('task.notYet')),
          h('td', { text: o?.note || '' }));
      })))),
    h('h2', { text: t('task.findings') }),
    findings.findings.length
      ? h('ul', { id: 'task-findings' }, findings.findings.map((f) => h('li', {},
        h('span', { class: `badge ${f.severity === 'major' ? 'bad' : 'warn'}`, text: t(`severity.${f.severity}`) }), ' ',
        h('strong', { text: itemName(f.item_id) }), '：', f.description,
        f.rectification ? h('br') : null,
        f.rectification ? h('span', { class: 'note', text: t('task.rectify', { what: f.rectification, by: f.rectify_by }) }) : null)))
      : h('p', { class: 'note', text: t('common.none') }),
    noncoop.non_cooperation.length ? [h('h2', { text: t('task.noncoop') }),
      h('ul', { id: 'task-noncoop' }, noncoop.non_cooperation.map((n) => h('li', {},
        h('span', { class: 'badge bad', text: t(`noncoop.${n.type}`) }), ' ', n.description, ' ',
        h('small', { class: 'note', text: chinaTime(n.recorded_at) }))))] : null,
    evidenceSection(api, task, evidence.evidence, { manages, onChange: () => navigate(`/tasks/${id}`) }),
    result ? resultSide(result) : null,
    archive ? documents(archive) : null);
}

// reviewForm approves the completed result (the reviewer confirms it, the
// group's submission preselected) or returns it with a comment.
function reviewForm(api, task, act) {
  const results = select('result', t('task.confirmed'), RESULTS.map((r) => [r, t(`result.${r}`)]), { all: false });
  results.id = 'review-result';
  if (task.submitted_result) results.value = task.submitted_result;
  const comment = h('textarea', { id: 'review-comment', rows: 2, maxlength: 2000 });
  const post = (body) => () => api.post(`/api/v1/tasks/${task.id}/review`, { ...body, version: task.version });
  return h('section', { class: 'panel', 'aria-label': t('task.review') },
    h('h2', { text: t('task.review') }),
    field(t('task.confirmed'), results),
    h('p', {}, act(t('task.approve'), () => post({ decision: 'approve', result: results.value })())),
    field(t('task.returnComment'), comment),
    h('p', {}, act(t('task.return'), () => post({ decision: 'return', comment: comment.value.trim() })(), 'secondary')));
}

// feedbackForm records the delivery of the result to the enterprise
// (direct, or postal with its tracking number); the time is China time.
function feedbackForm(api, task, act) {
  const method = select('method', t('task.feedbackMethod'), [['direct', t('feedback.direct')], ['postal', t('feedback.postal')]], { all: false });
  method.id = 'feedback-method';
  const nowChina = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 16);
  const at = h('input', { type: 'datetime-local', id: 'feedback-at', value: nowChina, max: nowChina });
  const receiver = h('input', { id: 'feedback-receiver', maxlength: 200 });
  const tracking = h('input', { id: 'feedback-tracking', maxlength: 64 });
  const trackingField = field(t('task.trackingNo'), tracking);
  const sync = () => { trackingField.hidden = method.value !== 'postal'; };
  method.addEventListener('change', sync);
  sync();
  return h('section', { class: 'panel', 'aria-label': t('task.feedback') },
    h('h2', { text: t('task.feedback') }),
    h('p', { class: 'note', text: t('task.feedbackRule') + (task.deadlines.feedback ? ` · ${task.deadlines.feedback}` : '') }),
    h('div', { class: 'grid2' },
      field(t('task.feedbackMethod'), method),
      field(t('task.deliveredAt'), at),
      field(t('task.receiver'), receiver),
      trackingField),
    h('p', {}, act(t('task.recordFeedback'), () => api.post(`/api/v1/tasks/${task.id}/feedback`, {
      method: method.value,
      delivered_at: at.value ? `${at.value.length === 16 ? `${at.value}:00` : at.value}+08:00` : '',
      receiver: receiver.value.trim(),
      tracking_no: method.value === 'postal' ? tracking.value.trim() : '',
      version: task.version,
    }), undefined, { method: t('task.feedbackMethod') })));
}

// dispositionForm records a case opened (its number), a transfer to
// another agency (which) or to the judiciary, with its date and document.
function dispositionForm(api, task, act) {
  const kind = select('kind', t('disposition.kind'), DISPOSITIONS.map((k) => [k, t(`result.${k}`)]), { all: false });
  kind.id = 'disposition-kind';
  const caseNo = h('input', { id: 'disposition-case', maxlength: 64 });
  const agency = h('input', { id: 'disposition-agency', maxlength: 200 });
  const date = h('input', { id: 'disposition-date', type: 'date', max: new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10) });
  const docNo = h('input', { id: 'disposition-document', maxlength: 64 });
  const caseField = field(t('disposition.caseNo'), caseNo);
  const agencyField = field(t('disposition.agency'), agency);
  const sync = () => {
    caseField.hidden = kind.value !== 'case_opened';
    agencyField.hidden = kind.value === 'case_opened';
  };
  kind.addEventListener('change', sync);
  sync();
  return h('section', { class: 'panel', 'aria-label': t('disposition.title') },
    h('h2', { text: t('disposition.title') }),
    h('p', { class: 'note', text: t('disposition.note') }),
    h('div', { class: 'grid2' }, field(t('disposition.kind'), kind), caseField, agencyField,
      field(t('disposition.date'), date), field(t('disposition.documentNo'), docNo)),
    h('p', {}, act(t('disposition.record'), () => api.post(`/api/v1/tasks/${task.id}/dispositions`, {
      kind: kind.value, case_no: kind.value === 'case_opened' ? caseNo.value.trim() : '',
      agency: kind.value === 'case_opened' ? '' : agency.value.trim(), date: date.value, document_no: docNo.value.trim(), version: task.version,
    }), 'secondary', { kind: t('disposition.kind'), date: t('disposition.date') })));
}

// correctionForm publishes a new version of a published result, with its
// reason shown beside it on the portal.
function correctionForm(api, task, result, act) {
  const results = select('result', t('task.confirmed'), RESULTS.map((r) => [r, t(`result.${r}`)]), { all: false });
  results.id = 'correction-result';
  results.value = result.result;
  const reason = h('textarea', { id: 'correction-reason', rows: 2, maxlength: 1000 });
  return h('section', { class: 'panel', 'aria-label': t('correction.title') },
    h('h2', { text: t('correction.title') }),
    h('p', { class: 'note', text: t('correction.note') }),
    field(t('task.confirmed'), results), field(t('correction.reason'), reason),
    h('p', {}, act(t('correction.publish'), () => api.post(`/api/v1/tasks/${task.id}/publish`, {
      result: results.value, reason: reason.value.trim(), version: task.version,
    }), 'secondary')));
}

// resultSide lists the reviews, the feedback and the publications.
function resultSide(r) {
  const late = (x) => (x.late ? h('span', { class: 'badge bad', text: t('task.late', { n: x.workdays_late ?? '' }) }) : null);
  return [
    h('h2', { text: t('task.history') }),
    h('ul', { id: 'task-history' },
      r.reviews.map((v) => h('li', {}, chinaTime(v.at), ' · ', v.reviewer, ' · ',
        h('strong', { text: t(`review.${v.decision}`) }), v.result ? `：${t(`result.${v.result}`)}` : '', v.comment ? `（${v.comment}）` : '')),
      r.feedback ? h('li', { id: 'task-feedback' }, chinaTime(r.feedback.delivered_at), ' · ',
        h('strong', { text: t('task.feedback') }), `：${t(`feedback.${r.feedback.method}`)} · ${r.feedback.receiver}`,
        r.feedback.tracking_no ? ` · ${r.feedback.tracking_no}` : '', ' ', late(r.feedback)) : null,
      r.dispositions.map((d) => h('li', { class: 'disposition' }, d.date, ' · ',
        h('strong', { text: t(`result.${d.kind}`) }), d.case_no ? `：${t('disposition.caseNo')} ${d.case_no}` : '',
        d.agency ? `：${d.agency}` : '', ` · ${t('disposition.documentNo')} ${d.document_no}`)),
      r.publications.map((p) => h('li', {}, chinaTime(p.at), ' · ',
        h('strong', { text: t('task.published', { version: p.version }) }), p.reason ? `（${p.reason}）` : '', ' ', late(p))),
      !r.reviews.length && !r.feedback && !r.dispositions.length && !r.publications.length ? h('li', { class: 'note', text: t('common.none') }) : null),
  ];
}

// documents lists the archived documents (art. 22) with their short-lived
// download links.
function documents(a) {
  return [
    h('h2', { text: t('task.documents') }),
    a.documents_pending ? h('p', { class: 'note', text: t('task.documentsPending') }) : null,
    a.documents.length
      ? h('ul', { id: 'task-documents' }, a.documents.map((d) => h('li', {},
        d.url ? h('a', { href: d.url, target: '_blank', rel: 'noopener', text: t(`document.${d.kind}`) }) : t(`document.${d.kind}`),
        ' ', h('code', { text: d.number }), ' ', h('small', { class: 'note', text: `${chinaTime(d.generated_at)} · SHA-256 ${d.sha256.slice(0, 12)}…` }))))
      : (a.documents_pending ? null : h('p', { class: 'note', text: t('common.none') })),
  ];
}

const RESULTS = ['no_problem', 'problems_found_rectification_ordered', 'case_opened', 'transferred_to_agency',
  'transferred_to_judiciary', 'not_cooperating', 'enterprise_not_found'];
const DISPOSITIONS = ['case_opened', 'transferred_to_agency', 'transferred_to_judiciary']; // backend.DispositionKinds
