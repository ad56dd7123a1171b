// 工作日历: the working-day calendar the statutory deadlines are counted
// on (feedback 7, publication 20 working days — art. 21, 24): the State
// Council's holidays and make-up working days (调休) as the library knows
// them, merged with the bureau's own entries. A year the library does not
// know yet is flagged: its deadlines would count only weekends as days
// off. The coordinator enters the new year's schedule here, a date or a
// range at a time, once it is published; the deadlines still running are
// dated anew on it (tasks.Service.PutOverride).
import { h, field } from '../../shared/dom.js';
import { t } from '../strings.js';
import { message, errorText } from '../widgets.js';

export async function render({ api }) {
  const coordinator = api.hasRole('coordinator');
  const thisYear = Number(new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 4));
  const year = h('input', { type: 'number', id: 'calendar-year', min: 2000, max: 2100, value: String(thisYear + 1) });
  const warning = h('p', { class: 'warning', id: 'calendar-uncovered', hidden: true });
  const status = message();
  const body = h('tbody');
  async function load() {
    let cal;
    try {
      cal = await api.get(`/api/v1/calendar?year=${encodeURIComponent(year.value)}`);
      status.set('', '');
    } catch (err) {
      status.set('error', errorText(err));
      body.replaceChildren();
      warning.hidden = true;
      return;
    }
    // Not built in: nothing known, or only what the bureau entered (one
    // entry covers a year, so say whose it is and ask for the rest).
    warning.hidden = cal.statutory;
    warning.textContent = cal.covered
      ? t('cal.bureauOnly', { year: cal.year, n: cal.entries.length })
      : t('cal.uncovered', { year: cal.year });
    body.replaceChildren(...(cal.entries.length ? cal.entries.map((e) => h('tr', {},
      h('td', { text: e.date }), h('td', { text: t(`cal.kind.${e.kind}`) }), h('td', { text: e.name }),
      h('td', {}, h('span', { class: `badge ${e.source === 'override' ? 'warn' : ''}`, text: t(`cal.source.${e.source}`) })))) : [
      h('tr', {}, h('td', { colspan: 4, class: 'empty', text: t('common.none') }))]));
  }
  year.addEventListener('change', load);

  // add: every date from–to (one if to is empty) as a holiday or a
  // make-up working day, one request each (a repeat changes nothing).
  let form = null;
  if (coordinator) {
    const kind = h('select', {}, ['holiday', 'workday'].map((k) => h('option', { value: k, text: t(`cal.kind.${k}`) })));
    const name = h('input', { maxlength: 50 });
    const from = h('input', { type: 'date' });
    const to = h('input', { type: 'date' });
    const msg = message();
    form = h('form', { class: 'panel', onsubmit: async (e) => {
      e.preventDefault();
      const dates = [];
      const last = to.value || from.value;
      for (let d = new Date(`${from.value}T00:00:00Z`); from.value && d <= new Date(`${last}T00:00:00Z`) && dates.length <= 31; d.setUTCDate(d.getUTCDate() + 1)) {
        dates.push(d.toISOString().slice(0, 10));
      }
      if (!dates.length || dates.length > 31) {
        msg.set('error', t('cal.badRange'));
        return;
      }
      let done = 0;
      try {
        for (const date of dates) {
          await api.post('/api/v1/calendar', { date, kind: kind.value, name: name.value.trim() });
          done++;
        }
        msg.set('success', t('cal.added', { n: done }));
      } catch (err) {
        // The days before the refusal are entered: say so, and show them.
        msg.set('error', `${t('cal.partly', { n: done, of: dates.length })} ${errorText(err)}`);
      }
      year.value = dates[0].slice(0, 4);
      await load();
    } },
    h('h2', { text: t('cal.add') }),
    h('p', { class: 'note', text: t('cal.addNote') }),
    h('div', { class: 'grid2' }, field(t('cal.kind'), kind), field(t('cal.name'), name), field(t('cal.from'), from), field(t('cal.to'), to)),
    msg, h('button', { type: 'submit', text: t('cal.addButton') }));
  }
  await load();
  return h('section', {},
    h('h1', { text: t('cal.title') }),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'calendar-year', text: t('common.year') }), year)),
    warning, status,
    h('table', {}, h('thead', {}, h('tr', {}, [t('cal.date'), t('cal.kind'), t('cal.name'), t('cal.source')].map((x) => h('th', { text: x })))), body),
    form);
}
