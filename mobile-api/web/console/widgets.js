// Pieces the console's views share: a searchable, paged table over a list
// endpoint; the import dialog that shows every rejected row before
// anything is stored; export buttons; the versions dialog; messages.
import { h, clear, field, chinaTime, download } from '../shared/dom.js';
import { t } from './strings.js';
import { describeRefusal } from '../shared/refusal.js';

// message returns a status paragraph; set(kind, text) changes it.
export function message() {
  const p = h('p', { role: 'status', hidden: true });
  p.set = (kind, text) => {
    p.className = kind;
    p.textContent = text;
    p.hidden = !text;
  };
  return p;
}

// pagedTable({api, path, key, columns, filters, pageSize, rowClass})
// lists path?limit&after&<filters>, showing columns [{label, cell(row)}].
// filters are controls whose name/value become query parameters; the
// table reloads when they change. Returns {element, reload}.
export function pagedTable({ api, path, key, columns, filters = [], pageSize = 20, actions = [], pathFor }) {
  // Keyset paging: page i starts after cursors[i] (the API's "next" of the
  // page before), so paging stays cheap however deep it goes.
  let page = 0;
  let cursors = [null];
  const body = h('tbody');
  const info = h('span');
  const prev = h('button', { type: 'button', class: 'secondary', text: t('common.prev'), onclick: () => { page = Math.max(0, page - 1); load(); } });
  const next = h('button', { type: 'button', class: 'secondary', text: t('common.next'), onclick: () => { page += 1; load(); } });
  const status = message();
  const query = () => {
    const q = new URLSearchParams();
    for (const f of filters) {
      const v = f.type === 'checkbox' ? (f.checked ? 'true' : '') : f.value.trim();
      if (v) q.set(f.name, v);
    }
    return q;
  };
  let loads = 0;
  async function load() {
    const seq = ++loads; // only the newest answer is shown
    const q = query();
    if (cursors[page]) q.set('after', cursors[page]);
    q.set('limit', pageSize);
    const url = `${pathFor ? pathFor(q) : path}?${q}`;
    try {
      const data = await api.get(url);
      if (seq !== loads) return;
      const rows = data[key] ?? [];
      clear(body).append(...rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.cell(row))))));
      if (!rows.length) body.append(h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: t('common.none') })));
      const total = data.total ?? rows.length;
      const from = page * pageSize;
      info.textContent = t('common.page', { from: rows.length ? from + 1 : 0, to: from + rows.length, total });
      cursors[page + 1] = data.next ?? null;
      prev.disabled = page === 0;
      next.disabled = !data.next;
      status.set('', '');
    } catch (err) {
      status.set('error', errorText(err));
    }
  }
  const restart = () => { page = 0; cursors = [null]; load(); };
  let timer;
  for (const f of filters) {
    f.addEventListener(f.tagName === 'INPUT' && f.type !== 'checkbox' ? 'input' : 'change', () => {
      clearTimeout(timer);
      timer = setTimeout(restart, 250);
    });
  }
  const toolbar = h('div', { class: 'toolbar' },
    filters.map((f) => (f.type === 'hidden' ? null : f.type === 'checkbox'
      ? h('label', { class: 'check' }, f, ' ', f.dataset.label)
      : field(f.dataset.label, f))),
    h('span', { class: 'spacer' }),
    actions);
  const element = h('div', {}, toolbar, status,
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { text: c.label, class: c.class })))), body)),
    h('div', { class: 'pager' }, prev, info, next));
  load();
  return { element, reload: restart, query };
}

// searchBox and select are labelled filter controls for pagedTable.
export function searchBox(name, label, placeholder) {
  return h('input', { type: 'search', name, placeholder: placeholder ?? '', dataset: { label } });
}

export function select(name, label, options, { all = true, multiple = false } = {}) {
  return h('select', { name, multiple, dataset: { label } },
    all ? h('option', { value: '', text: t('common.all') }) : null,
    options.map(([value, text]) => h('option', { value, text })));
}

export function checkbox(name, label) {
  return h('input', { type: 'checkbox', name, dataset: { label } });
}

// badges shows category/flag codes as labelled badges.
export function badges(values, prefix, kind = '') {
  return (values ?? []).map((v) => h('span', { class: `badge ${kind}`, text: t(prefix + v) }));
}

// exportButtons download path?format=csv|xlsx (with the table's filters).
// whole names what is exported when the export does not follow the
// table's filters (the year's whole item list, the whole roster: what an
// import takes back), so nobody takes it for the filtered view.
export function exportButtons(api, path, name, query = () => new URLSearchParams(), whole = '') {
  const go = async (format) => {
    const q = query();
    q.set('format', format);
    download(await api.blob(`${path}?${q}`), `${name}.${format}`);
  };
  const label = (key) => (whole ? `${t(key)}（${whole}）` : t(key));
  return [
    h('button', { type: 'button', class: 'secondary', text: label('common.exportXLSX'), onclick: () => go('xlsx') }),
    h('button', { type: 'button', class: 'secondary', text: label('common.exportCSV'), onclick: () => go('csv') }),
  ];
}

// importButton opens the import dialog for path (…/import). The first
// upload stores nothing if any row is wrong: the dialog lists every
// rejected row with its line, column and reason, and offers to store only
// the good rows (partial=true) or to fix the file and upload again.
export function importButton(api, path, what, onDone) {
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
  const status = message();
  const rejected = h('div');
  const partial = h('button', { type: 'button', hidden: true });
  const dialog = h('dialog', { 'aria-label': t('import.title', { what }) });

  async function send(isPartial) {
    const f = file.files?.[0];
    if (!f) return;
    const form = new FormData();
    form.append('file', f, f.name);
    status.set('note', t('common.loading'));
    clear(rejected);
    partial.hidden = true;
    try {
      const res = await api.upload(`${path}${isPartial ? '?partial=true' : ''}`, form);
      const r = res.report;
      status.set('success', isPartial
        ? t('import.partialDone', { created: r.created, updated: r.updated, rejected: r.rejected })
        : t('import.done', { created: r.created, updated: r.updated, unchanged: r.unchanged }));
      if (isPartial) showRejected(r);
      onDone?.();
    } catch (err) {
      const r = err.body?.report;
      if (!r) {
        status.set('error', errorText(err));
        return;
      }
      status.set('error', t('import.rejected', { n: r.rejected }));
      showRejected(r);
      const good = r.total - r.rejected;
      if (good > 0) {
        partial.textContent = t('import.partial', { n: good });
        partial.hidden = false;
      }
    }
  }
  function showRejected(r) {
    if (!r.errors?.length) return;
    rejected.append(h('table', { class: 'rejected' },
      h('thead', {}, h('tr', {}, h('th', { text: t('import.line') }), h('th', { text: t('import.column') }), h('th', { text: t('import.reason') }))),
      h('tbody', {}, r.errors.map((e) => h('tr', {},
        h('td', { class: 'num', text: e.line || '' }), h('td', { text: e.header || e.field || '' }), h('td', { text: e.message }))))));
  }
  partial.addEventListener('click', () => send(true));
  dialog.append(
    h('h2', { text: t('import.title', { what }) }),
    field(t('import.file'), file),
    h('p', {}, h('button', { type: 'button', text: t('import.check'), onclick: () => send(false) }), ' ', partial),
    status, rejected,
    h('p', {}, h('button', { type: 'button', class: 'secondary', text: t('common.close'), onclick: () => dialog.close() })));
  const open = h('button', { type: 'button', class: 'secondary', text: t('common.import'), onclick: () => {
    document.body.append(dialog);
    file.value = '';
    status.set('', '');
    clear(rejected);
    partial.hidden = true;
    dialog.showModal();
  } });
  return open;
}

// versionsList shows a record's versions (…/versions) newest first.
export async function versionsList(api, path) {
  const data = await api.get(path);
  const list = [...(data.versions ?? [])].reverse();
  return h('ol', { class: 'versions', reversed: true }, list.map((v) => h('li', {},
    h('strong', { text: t('common.version', { version: v.version ?? v.number }) }), ' ',
    h('span', { class: 'note', text: `${chinaTime(v.at)} · ${v.actor_name || v.actor_id || ''} · ${v.action ?? ''}` }),
    (v.changes ?? []).length ? h('ul', {}, v.changes.map((c) => h('li', {},
      h('code', { text: c.field }), '：', fmt(c.before), ' → ', fmt(c.after)))) : null)));
}

function fmt(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (Array.isArray(v)) return v.join('、') || '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// enterprisePicker finds an active enterprise by name or USCC: a search
// box and the matches in a select, with nothing chosen for the clerk
// until they choose; initial (an enterprise) shows one chosen already.
// onChange runs when the matches or the choice change.
export function enterprisePicker(api, { initial = null, onChange = () => {} } = {}) {
  const query = h('input', { type: 'search', maxlength: 100 });
  const option = (e) => h('option', { value: e.id, text: `${e.name} · ${e.uscc} · ${e.town}`, dataset: { name: e.name } });
  const pick = h('select', {}, initial ? option(initial) : h('option', { value: '', text: t('picker.none') }));
  let seq = 0;
  let timer;
  query.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = query.value.trim();
      if (!q) return;
      const mine = ++seq;
      const found = await api.get(`/api/v1/enterprises?status=active&limit=20&q=${encodeURIComponent(q)}`).catch(() => ({ enterprises: [] }));
      if (mine !== seq) return;
      pick.replaceChildren(...(found.enterprises.length
        ? [h('option', { value: '', text: t('picker.found', { n: found.enterprises.length }) }), ...found.enterprises.map(option)]
        : [h('option', { value: '', text: t('picker.noMatch') })]));
      onChange();
    }, 250);
  });
  pick.addEventListener('change', onChange);
  return { query, pick, name: () => (pick.value ? pick.selectedOptions[0]?.dataset.name : '') };
}

// memberPicker picks inspectors for a group from a roster of any size:
// the drawable inspectors the server finds for the query (name, or the
// start of a badge number; the first ones while it is empty), each a
// checkbox labelled with name, badge and department, and those chosen
// kept at the top whatever is searched next. chosen() is their badge
// numbers, in the order chosen.
export function memberPicker(api, depName) {
  const query = h('input', { type: 'search', maxlength: 100 });
  const boxes = h('div', { class: 'checks', role: 'group', 'aria-label': t('targeted.group') });
  const status = h('p', { class: 'note', 'aria-live': 'polite' });
  const chosen = new Map(); // badge → label
  const box = (badge, label) => {
    const c = h('input', { type: 'checkbox', value: badge, checked: chosen.has(badge) });
    c.addEventListener('change', () => {
      if (c.checked) chosen.set(badge, label);
      else chosen.delete(badge);
    });
    return h('label', {}, c, label);
  };
  let seq = 0;
  let timer;
  async function search() {
    const mine = ++seq;
    const q = query.value.trim();
    const found = await api.get(`/api/v1/inspectors?drawable=true&limit=${PICKER_LIMIT}${q ? `&q=${encodeURIComponent(q)}` : ''}`)
      .catch(() => null);
    if (mine !== seq) return;
    const list = (found?.inspectors ?? []).filter((i) => !chosen.has(i.badge_no));
    boxes.replaceChildren(...[...chosen].map(([badge, label]) => box(badge, label)),
      ...list.map((i) => box(i.badge_no, `${i.name}（${i.badge_no}）· ${depName(i.department_id)}`)));
    status.textContent = !found ? t('members.failed')
      : found.total > found.inspectors.length ? t('members.more', { n: found.inspectors.length, total: found.total }) : '';
  }
  query.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  search();
  return { query, boxes, status, chosen: () => [...chosen.keys()] };
}

const PICKER_LIMIT = 50;

// dialogBox opens a modal with content and a close button.
export function dialogBox(title, ...content) {
  const d = h('dialog', { 'aria-label': title },
    h('h2', { text: title }), ...content,
    h('p', {}, h('button', { type: 'button', class: 'secondary', text: t('common.close'), onclick: () => d.close() })));
  d.addEventListener('close', () => d.remove());
  document.body.append(d);
  d.showModal();
  return d;
}

export const CATEGORIES = ['coal_mine', 'non_coal_mine', 'hazardous_chemicals', 'metallurgy_industry_trade',
  'dust_explosion', 'confined_space', 'ammonia_refrigeration', 'major_hazard_source'];
export const FLAGS = ['blacklist', 'seriously_dishonest', 'high_credit_risk', 'frequent_complaints',
  'abnormal_operation', 'serious_violation'];

// monthsAgo says whether an ISO time is more than n months back.
export function olderThanMonths(iso, n) {
  if (!iso) return true;
  const d = new Date(iso);
  const limit = new Date();
  limit.setMonth(limit.getMonth() - n);
  return d < limit;
}

// errorText says in the console's words what went wrong: the kind of
// refusal, the fields named by their labels, the server's detail after
// (shared/refusal.js); labels names fields this view means otherwise.
export function errorText(err, labels) {
  return describeRefusal(err, t, labels);
}
