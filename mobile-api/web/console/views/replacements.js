// A drawn task's replacements (回避, illness, a conflict found late), for
// the office and the leaders. Nobody picks the member coming in: the
// office commits the replacement of one member with its reason (the seed's
// commitment published, the roster frozen), a leader other than the one
// who committed it approves or rejects it, and someone other than the
// approver draws it at random from those eligible; each record is public
// and verifiable. What may be done the API decides: a refusal is shown.
import { h, field, chinaTime } from '../../shared/dom.js';
import { t } from '../strings.js';
import { message, select, errorText } from '../widgets.js';

export function replacementsSection(api, task, list, { manages, onChange }) {
  const msg = message();
  const names = new Map([...task.members, ...(task.replaced_members ?? [])].map((m) => [m.badge_no, m.name]));
  const who = (badge) => (names.has(badge) ? `${names.get(badge)}（${badge}）` : badge);
  const open = ['assigned', 'in_progress', 'submitted'].includes(task.state);
  // act runs an action; a refusal (4xx) is shown with what the API said.
  const act = (label, fn, cls) => h('button', { type: 'button', class: cls, text: label, onclick: async (ev) => {
    ev.target.disabled = true;
    msg.set('', '');
    try {
      await fn();
      onChange();
    } catch (err) {
      msg.set('error', errorText(err));
      ev.target.disabled = false;
    }
  } });
  const path = `/api/v1/tasks/${encodeURIComponent(task.id)}/replacements`;

  const rows = list.map((r) => {
    const pending = r.state === 'committed';
    const state = r.state === 'drawn' ? t('repl.state.drawn', { who: who(r.record?.in ?? '') })
      : r.state === 'rejected' ? t('repl.state.rejected', { comment: r.decision_comment ?? '' })
        : r.state === 'failed' ? t('repl.state.failed', { why: r.failure ?? '' })
          : r.approved_at ? t('repl.state.approved') : t('repl.state.committed');
    const actions = [];
    // Not offered where the API refuses: whoever committed it does not
    // decide it, the approver does not draw it, a closed task keeps its group.
    const me = api.user.id;
    // Until it is drawn, a rejection also withdraws an approval (one that
    // can no longer be drawn would block the task's replacements).
    if (pending && open && api.hasRole('leader') && r.committed_by !== me) {
      const comment = h('input', { class: 'repl-comment', maxlength: 1000, placeholder: t('repl.rejectComment'), 'aria-label': t('repl.rejectComment') });
      if (!r.approved_at) actions.push(act(t('repl.approve'), () => api.post(`${path}/${r.id}/approval`, { decision: 'approve' })), ' ');
      actions.push(comment, ' ', act(t(r.approved_at ? 'repl.withdraw' : 'repl.reject'),
        () => api.post(`${path}/${r.id}/approval`, { decision: 'reject', comment: comment.value.trim() }), 'secondary'));
    }
    if (pending && r.approved_at && manages && open && r.approved_by !== me) {
      // Fixed by the first draw call (the API refuses another value): shown
      // as it is, not to be typed again.
      const entropy = h('input', { class: 'repl-entropy', maxlength: 500, 'aria-label': t('repl.entropy'),
        value: r.public_entropy ?? '', readonly: Boolean(r.public_entropy) });
      actions.push(r.entropy_source ? [field(t('repl.entropyValue', { source: r.entropy_source }), entropy), ' '] : null,
        act(t('repl.draw'), () => api.post(`${path}/${r.id}/draw`, r.entropy_source ? { public_entropy: entropy.value.trim() } : {})));
    }
    return h('li', { 'data-replacement': r.id },
      h('strong', { text: t('repl.out', { who: who(r.out) }) }), '：', r.reason, ' ',
      h('span', { class: `badge ${r.state === 'drawn' ? 'ok' : ['rejected', 'failed'].includes(r.state) ? 'bad' : 'warn'}`, text: state }), ' ',
      h('small', { class: 'note', text: `${chinaTime(r.committed_at)} · ${t('repl.eligible', { n: r.eligible })} · ${t('plans.commitment')} ${r.seed_commitment.slice(0, 12)}…` }), ' ',
      h('a', { href: r.verify_url, target: '_blank', rel: 'noopener', text: t('plans.publicRecord') }),
      // Who may come in, for whoever decides: an eligible set narrowed
      // before the commit (the others deactivated, say) shows here, and
      // one left means the draw decides nothing.
      pending && r.eligible_badges?.length ? h('p', { class: 'note repl-eligible', text: t('repl.eligibleList', { list: r.eligible_badges.map(who).join('、') }) }) : null,
      pending && r.eligible === 1 ? h('p', { class: 'warning', text: t('repl.onlyOne') }) : null,
      actions.length ? h('div', { class: 'row-actions' }, actions) : null);
  });

  // A new replacement while none is pending, for an open drawn task.
  let form = null;
  if (manages && open && task.draw_id && !list.some((r) => r.state === 'committed')) {
    const out = select('badge_no', t('repl.member'), task.members.map((m) => [m.badge_no, `${m.name}（${m.badge_no}）`]), { all: false });
    out.id = 'repl-member';
    const reason = h('input', { id: 'repl-reason', maxlength: 1000 });
    const source = h('input', { id: 'repl-source', maxlength: 200 });
    form = h('div', { class: 'panel' },
      h('h3', { text: t('repl.commitTitle') }),
      h('p', { class: 'note', text: t('repl.commitNote') }),
      h('div', { class: 'grid2' }, field(t('repl.member'), out), field(t('repl.reason'), reason), field(t('repl.source'), source)),
      h('p', {}, act(t('repl.commit'), () => api.post(path, { badge_no: out.value, reason: reason.value.trim(), entropy_source: source.value.trim() }), 'secondary')));
  }
  if (!rows.length && !form) return null;
  return h('section', { 'aria-label': t('repl.title'), id: 'task-replacements' },
    h('h2', { text: t('repl.title') }), msg,
    rows.length ? h('ul', {}, rows) : null, form);
}
