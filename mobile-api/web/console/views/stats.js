// 统计: art. 16's coverage of key-supervision and blacklisted units and the
// random share of checks per department, as charts (Chart.js, vendored)
// and tables, each exportable as CSV.
import { h, download } from '../../shared/dom.js';
import { t } from '../strings.js';

export async function render({ api }) {
  const year = h('input', { type: 'number', id: 'stats-year', min: 2000, max: 2100, value: String(new Date().getFullYear()) });
  const out = h('div');
  const deps = (await api.get('/api/v1/departments')).departments;
  const depName = (id) => deps.find((d) => d.id === id)?.name ?? id;
  const Chart = await loadChart();

  async function load() {
    const [cov, share] = await Promise.all([
      api.get(`/api/v1/reports/coverage?year=${year.value}`),
      api.get(`/api/v1/reports/random-share?year=${year.value}`),
    ]);
    const covCanvas = h('canvas', { 'aria-label': t('stats.coverage'), role: 'img' });
    const shareCanvas = h('canvas', { 'aria-label': t('stats.randomShare'), role: 'img' });
    const shareRows = share.departments.map((d) => [depName(d.department_id), d.random, d.targeted, `${(d.random_share * 100).toFixed(1)}%`, d.meets_70_percent ? t('common.yes') : t('common.no')]);
    const covRows = cov.uncovered.map((e) => [e.name, e.uscc, e.town, [...e.categories.map((c) => t(`category.${c}`)), ...e.flags.map((f) => t(`flag.${f}`))].join('、')]);
    out.replaceChildren(h('div', {},
      Chart ? null : h('p', { class: 'note', text: t('stats.noChart') }),
      h('div', { class: 'charts' },
        h('div', { class: 'panel' }, h('h2', { text: t('stats.coverage') }),
          h('p', { id: 'coverage-figure', text: `${t('stats.covered')} ${cov.covered} / ${cov.total}` }),
          Chart ? h('div', { class: 'chart' }, covCanvas) : null),
        h('div', { class: 'panel' }, h('h2', { text: t('stats.randomShare') }),
          Chart ? h('div', { class: 'chart' }, shareCanvas) : null)),
      table(t('stats.randomShare'), [t('field.department'), t('stats.random'), t('stats.targeted'), t('stats.share'), t('stats.meets')], shareRows, `random-share-${year.value}`),
      table(t('stats.uncoveredList'), [t('field.name'), t('field.uscc'), t('field.town'), t('field.categories')], covRows, `coverage-${year.value}`)));
    if (Chart) {
      new Chart(covCanvas, {
        type: 'doughnut',
        data: { labels: [t('stats.covered'), t('stats.uncovered')], datasets: [{ data: [cov.covered, cov.total - cov.covered], backgroundColor: ['#1d7a46', '#d8dee6'] }] },
        options: { maintainAspectRatio: false, animation: false },
      });
      new Chart(shareCanvas, {
        type: 'bar',
        data: {
          labels: share.departments.map((d) => depName(d.department_id)),
          datasets: [
            { label: t('stats.random'), data: share.departments.map((d) => d.random), backgroundColor: '#1f5fa8' },
            { label: t('stats.targeted'), data: share.departments.map((d) => d.targeted), backgroundColor: '#e0a43a' },
          ],
        },
        options: { maintainAspectRatio: false, animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
      });
    }
  }
  year.addEventListener('change', load);
  await load();
  return h('section', {}, h('h1', { text: t('stats.title') }),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'stats-year', text: t('common.year') }), year)), out);
}

function table(title, head, rows, name) {
  const csv = () => download(new Blob(['\ufeff' + [head, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n')], { type: 'text/csv' }), `${name}.csv`);
  return h('div', { class: 'panel' },
    h('div', { class: 'toolbar' }, h('h2', { text: title }), h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'secondary', text: t('common.exportCSV'), onclick: csv })),
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, head.map((x) => h('th', { text: x })))),
      h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((c) => h('td', { text: String(c) }))))
        : h('tr', {}, h('td', { colspan: head.length, class: 'empty', text: t('common.none') }))))));
}

function csvCell(v) {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

// loadChart loads the vendored Chart.js once (a classic script: its UMD
// build needs no bundler); null when the vendor step has not run.
let chartPromise;
function loadChart() {
  chartPromise ??= new Promise((resolve) => {
    if (window.Chart) return resolve(window.Chart);
    const s = document.createElement('script');
    s.src = '/vendor/chart.umd.min.js';
    s.onload = () => {
      // Charts use the page's typeface (CJK labels included).
      if (window.Chart) window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      resolve(window.Chart ?? null);
    };
    s.onerror = () => resolve(null);
    document.head.append(s);
  });
  return chartPromise;
}
