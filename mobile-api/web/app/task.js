// The task page: the enterprise and how to get there, the deadlines, the
// group and its progress, the items with their legal basis and method,
// and the on-site work — 签到, the checklist, findings, non-cooperation,
// evidence and 提交 with a signature. Every change goes to the outbox
// first (outbox.js) and shows 待同步 until the server has it; the page
// shows the phone's latest state, the server's answer overlaid by what is
// still waiting.
import { h, clear, field, chinaTime } from '../shared/dom.js';
import { refusalHead } from '../shared/refusal.js';
import * as store from './store.js';
import { capture, live, HASHING, WAITING, UPLOADING, VERIFYING, VERIFIED, REJECTED } from './evidence.js';
import { signaturePad } from './signature.js';
import { PENDING, CONFLICT } from './outbox.js';
import { refreshTask, refreshRecords } from './sync.js';
import { heldRow } from './held.js';

// FAR_METRES is how far from the enterprise's registered location a
// check-in is flagged on the phone (the server flags by its own radius).
const FAR_METRES = 500;

const OUTCOMES = [['pass', 'item.pass'], ['fail', 'item.fail'], ['not_applicable', 'item.na']];
const NONCOOP = ['refused_entry', 'refused_materials', 'false_information', 'obstruction']; // backend.NonCooperationTypes
const RESULTS = ['no_problem', 'problems_found_rectification_ordered', 'case_opened', 'transferred_to_agency',
  'transferred_to_judiciary', 'not_cooperating', 'enterprise_not_found'];

export async function taskView(app, main, id) {
  const { t, api, outbox } = app;
  let task = await store.getTask(id);
  if (!task && app.online) task = await refreshTask(api, id).catch(() => null);
  if (!task) {
    main.append(h('p', { class: 'error', text: t('tasks.removed') }));
    return { update() {} };
  }
  const base = `/api/v1/tasks/${encodeURIComponent(id)}`;
  const me = app.user?.id;
  let position = null; // the last fix (check-in), given to evidence taken after it

  // ---- the enterprise, deadlines and group (static) ----
  const e = task.enterprise;
  const loc = e.location;
  main.append(
    h('section', { class: 'card' },
      h('h2', { class: 'enterprise', text: e.name }),
      h('dl', { class: 'facts' },
        h('dt', { text: t('task.uscc') }), h('dd', {}, h('code', { text: e.uscc })),
        h('dt', { text: t('task.town') }), h('dd', { text: e.town }),
        h('dt', { text: t('task.address') }), h('dd', { text: e.address }),
        task.reason ? [h('dt', { text: t('task.reason') }), h('dd', { text: `${task.source ? t(`task.source.${task.source}`) + '：' : ''}${task.reason}` })] : null),
      loc ? h('a', { class: 'button big map', href: `geo:${loc.lat},${loc.lng}?q=${loc.lat},${loc.lng}(${encodeURIComponent(e.name)})`, text: t('task.map') })
        : h('p', { class: 'meta', text: t('task.noLocation') })),
    h('p', { class: 'error', hidden: !task.cancellation, text: t('task.cancelled', { reason: task.cancellation?.reason ?? '' }) }),
    h('section', { class: 'card' },
      h('h2', { text: t('task.deadlines') }),
      h('dl', { class: 'facts' },
        h('dt', { text: t('task.window') }), h('dd', { text: `${task.window?.start ?? ''} – ${task.window?.end ?? ''}` }),
        ['window', 'feedback', 'publication'].filter((k) => task.deadlines?.[k]).map((k) => [
          h('dt', { text: t(`task.deadline.${k}`) }),
          h('dd', {}, task.deadlines[k], (task.overdue ?? []).includes(k) ? h('span', { class: 'badge bad', text: t('tasks.overdue') }) : null)])),
      h('h2', { text: t('task.group') }),
      h('ul', { class: 'group', id: 'group' })),
  );

  // ---- 签到 ----
  const checkinInfo = h('p', { class: 'meta', id: 'checkin-info' });
  const checkinState = h('p', { id: 'checkin-state' });
  const checkinButton = h('button', { type: 'button', class: 'big', text: t('checkin.button'), onclick: checkIn });
  main.append(h('section', { class: 'card', 'aria-labelledby': 'h-checkin' },
    h('h2', { id: 'h-checkin', text: t('checkin.title') }), checkinButton, checkinInfo, checkinState));

  async function checkIn() {
    checkinButton.disabled = true;
    checkinInfo.textContent = t('checkin.locating');
    try {
      const pos = await locate();
      position = pos;
      const lines = [t('checkin.accuracy', { m: Math.round(pos.accuracy) })];
      let far = false;
      if (loc) {
        const d = metres(pos, loc);
        lines.push(t('checkin.distance', { m: Math.round(d) }));
        far = d > FAR_METRES;
      }
      checkinInfo.textContent = lines.join('，');
      checkinInfo.className = far ? 'warning' : 'meta';
      if (far) checkinInfo.textContent += `。${t('checkin.far')}`;
      await outbox.add({ kind: 'checkin', task_id: id, base: task.version, method: 'POST', path: `${base}/check-in`,
        body: { lat: pos.lat, lng: pos.lng, accuracy_m: pos.accuracy, at: new Date().toISOString() } });
    } catch (err) {
      const key = `checkin.gps${err.gpsCode}`; // the position's own failure, in the app's words
      checkinInfo.textContent = t('checkin.noGps', { message: t(key) !== key ? t(key) : err.message });
      checkinInfo.className = 'error';
    } finally {
      checkinButton.disabled = false;
    }
  }

  // ---- once completed: a change is an amendment with its reason ----
  // The record is frozen when every member has submitted: the server takes
  // an outcome, a finding or a non-cooperation record then only with a
  // reason, kept beside the change. The checklist and both forms wait for
  // one; a check-in no longer changes. Reviewed, published or cancelled,
  // nothing changes on site.
  const amendReason = h('textarea', { id: 'amendment-reason', rows: 2, maxlength: 1000, oninput: () => lockOnSite() });
  const amendCard = h('section', { class: 'card', id: 'amendment', hidden: true },
    h('h2', { text: t('amend.title') }), h('p', { class: 'meta', text: t('amend.note') }), field(t('amend.reason'), amendReason));
  main.append(amendCard);
  const amendment = () => (task.state === 'completed' ? { amendment_reason: amendReason.value.trim() } : {});

  // ---- the checklist ----
  const items = h('ol', { class: 'items' });
  main.append(h('section', { class: 'card' }, h('h2', { text: t('task.items') }), items));
  const itemRows = new Map();
  items.addEventListener('focusout', () => setTimeout(lockOnSite)); // a row kept open while typed in (lockOnSite)
  for (const it of task.items) {
    const name = `outcome-${it.id}`;
    const note = h('textarea', { rows: 2, name: `note-${it.id}`, onchange: () => saveItem(it.id) });
    const radios = OUTCOMES.map(([value, key]) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name, value, onchange: () => saveItem(it.id) }), t(key)));
    const mark = h('span', { class: 'badge warn pending', hidden: true, text: t('outbox.pending') });
    const row = h('li', { class: 'item', dataset: { item: it.id } },
      h('h3', {}, h('code', { text: it.code }), ' ', it.name, ' ', mark),
      h('dl', { class: 'facts small' },
        h('dt', { text: t('task.legalBasis') }), h('dd', { text: `${it.legal_basis?.law ?? ''} ${it.legal_basis?.article ?? ''}` }),
        h('dt', { text: t('task.method') }), h('dd', { text: t(`method.${it.method}`) }),
        it.content ? [h('dt', { text: t('task.content') }), h('dd', { text: it.content })] : null),
      it.applicable === false ? h('p', { class: 'meta', text: t('task.notApplicable') })
        : h('fieldset', { class: 'outcome' }, h('legend', { text: `${t('item.outcome')}：${it.name}` }), h('div', { class: 'choices' }, radios),
          field(t('item.note'), note)));
    itemRows.set(it.id, { row, radios, note, mark });
    items.append(row);
  }

  async function saveItem(itemId) {
    const { row, note } = itemRows.get(itemId);
    const outcome = row.querySelector('input[type=radio]:checked')?.value;
    if (!outcome) return;
    await outbox.add({ kind: 'item', task_id: id, base: task.version, item_id: itemId, coalesce: `item:${id}:${itemId}`, method: 'PUT',
      path: `${base}/items/${encodeURIComponent(itemId)}`, body: { outcome, note: note.value.trim(), version: task.version, ...amendment() } });
  }

  // ---- findings and non-cooperation ----
  const findings = h('ul', { class: 'records', id: 'findings' });
  const fItem = h('select', { name: 'item_id' }, task.items.map((it) => h('option', { value: it.id, text: `${it.code} ${it.name}` })));
  const fDesc = h('textarea', { name: 'description', rows: 3, required: true });
  const fSeverity = h('select', { name: 'severity' }, h('option', { value: 'general', text: t('finding.general') }), h('option', { value: 'major', text: t('finding.major') }));
  const fRect = h('textarea', { name: 'rectification', rows: 2, required: true });
  const fBy = h('input', { type: 'date', name: 'rectify_by', required: true });
  const findingForm = h('form', { class: 'stack', onsubmit: async (ev) => {
    ev.preventDefault();
    await outbox.add({ kind: 'finding', task_id: id, base: task.version, method: 'POST', path: `${base}/findings`, body: {
      id: crypto.randomUUID(), item_id: fItem.value, description: fDesc.value.trim(), severity: fSeverity.value,
      rectification: fRect.value.trim(), rectify_by: fBy.value, evidence_ids: await evidenceIds(), ...amendment() } });
    findingForm.reset();
    findingForm.closest('details').open = false;
  } },
  field(t('finding.item'), fItem), field(t('finding.description'), fDesc), field(t('finding.severity'), fSeverity),
  field(t('finding.rectification'), fRect), field(t('finding.rectifyBy'), fBy),
  h('button', { type: 'submit', class: 'big', text: t('finding.save') }));

  const nType = h('select', { name: 'type' }, NONCOOP.map((k) => h('option', { value: k, text: t(`noncoop.${k}`) })));
  const nDesc = h('textarea', { name: 'description', rows: 3, required: true });
  const noncoopForm = h('form', { class: 'stack', onsubmit: async (ev) => {
    ev.preventDefault();
    await outbox.add({ kind: 'noncoop', task_id: id, base: task.version, method: 'POST', path: `${base}/non-cooperation`, body: {
      id: crypto.randomUUID(), type: nType.value, description: nDesc.value.trim(), evidence_ids: await evidenceIds(), ...amendment() } });
    noncoopForm.reset();
    noncoopForm.closest('details').open = false;
  } }, field(t('noncoop.type'), nType), field(t('noncoop.description'), nDesc), h('button', { type: 'submit', class: 'big', text: t('noncoop.save') }));

  const findingAdd = h('details', {}, h('summary', { class: 'button secondary big', text: t('finding.add') }), findingForm);
  const noncoopAdd = h('details', {}, h('summary', { class: 'button secondary big', text: t('noncoop.add') }), noncoopForm);
  main.append(h('section', { class: 'card' }, h('h2', { text: t('finding.title') }), findings, findingAdd, noncoopAdd));

  // lockOnSite shows what may change in the task's state (see above).
  function lockOnSite() {
    const closed = closedState(task);
    // Evidence is taken until publication (a reviewed task's record may
    // still get what an offline phone kept), as the server does.
    for (const p of main.querySelectorAll('.pickers')) p.hidden = ['published', 'cancelled'].includes(task.state);
    const completed = task.state === 'completed';
    amendCard.hidden = !completed;
    const locked = closed || (completed && !amendReason.value.trim());
    // Not under the inspector's finger: a note being typed when the lock
    // comes stays editable until it is left, and goes to the outbox then
    // (held for a reason if one is needed) instead of being lost.
    const typing = document.activeElement?.closest?.('li.item');
    for (const { row } of itemRows.values()) row.querySelector('fieldset')?.toggleAttribute('disabled', locked && row !== typing);
    for (const add of [findingAdd, noncoopAdd]) {
      add.hidden = locked;
      if (locked) add.open = false;
    }
    checkinButton.hidden = closed || completed;
  }

  // ---- evidence ----
  const evList = h('ul', { class: 'evidence', id: 'evidence-list' });
  const evError = h('p', { class: 'error', role: 'alert', hidden: true });
  // A file of a type the server does not take is refused here, at once:
  // declared, it would be refused later and hold back what follows it.
  const picker = (key, accept, capture_) => {
    const input = h('input', { type: 'file', accept, capture: capture_, class: 'visually-hidden', id: `pick-${key}`,
      onchange: async () => {
        evError.hidden = true;
        for (const file of input.files) {
          const kind = kindOf(file);
          if (kind) await addEvidence(kind, file);
          else {
            evError.textContent = t('evidence.unsupported', { name: file.name, type: file.type || '?' });
            evError.hidden = false;
          }
        }
        input.value = '';
      } });
    return h('label', { class: 'button big pick', for: input.id }, t(`evidence.${key}`), input);
  };
  main.append(h('section', { class: 'card' }, h('h2', { text: t('evidence.title') }),
    h('div', { class: 'pickers' }, picker('photo', EVIDENCE_TYPES.photo.join(','), 'environment'),
      picker('video', EVIDENCE_TYPES.video.join(','), 'environment'), picker('file', Object.values(EVIDENCE_TYPES).flat().join(','), null)),
    evError, evList));

  async function addEvidence(kind, file) {
    const ev = await capture(id, kind, file, position, () => app.changed());
    await outbox.add({ kind: 'evidence', task_id: id, base: task.version, evidence_id: ev.id });
    return ev;
  }
  // evidenceIds links a finding to the evidence taken for this task so far
  // that the server has or will have: verified, or still on its way. A
  // file refused, or whose entry was held or discarded, is left out — the
  // server would refuse the finding for naming it.
  async function evidenceIds() {
    const sending = new Set((await store.outboxOfTask(id)).filter((x) => x.kind === 'evidence' && x.state === PENDING).map((x) => x.evidence_id));
    return (await store.evidenceOfTask(id)).filter((x) => x.kind !== 'signature' && (x.state === VERIFIED || sending.has(x.id))).map((x) => x.id);
  }

  // ---- the group's progress and 提交 ----
  const result = h('select', { name: 'result' }, RESULTS.map((k) => h('option', { value: k, text: t(`submit.result.${k}`) })));
  const summary = h('textarea', { name: 'summary', rows: 3, maxlength: 4000 });
  const pad = signaturePad(t('submit.sign'));
  // Signing answers 请先签名: the message goes with the first stroke.
  pad.element.addEventListener('pointerdown', () => { submitError.hidden = true; });
  const submitError = h('p', { class: 'error', role: 'alert', hidden: true });
  const submitState = h('p', { id: 'submit-state' });
  const submitForm = h('form', { class: 'stack', onsubmit: async (ev) => {
    ev.preventDefault();
    // The server requires a summary: checked before the signature is
    // stored, which could not be taken back.
    const missing = !summary.value.trim() ? 'submit.needSummary' : pad.isEmpty() ? 'submit.needSignature' : '';
    if (missing) {
      submitError.textContent = t(missing);
      submitError.hidden = false;
      return;
    }
    submitError.hidden = true;
    const sig = await addEvidence('signature', await pad.toBlob());
    await outbox.add({ kind: 'submit', task_id: id, base: task.version, method: 'POST', path: `${base}/submit`,
      body: { result: result.value, summary: summary.value.trim(), signature_evidence_id: sig.id, version: task.version } });
  } },
  field(t('submit.result'), result), field(t('submit.summary'), summary),
  h('p', { class: 'label', text: t('submit.sign') }), pad.element,
  h('button', { type: 'button', class: 'secondary', text: t('submit.clear'), onclick: () => pad.clear() }),
  submitError,
  h('button', { type: 'submit', class: 'big', text: t('submit.button') }));
  main.append(h('section', { class: 'card' }, h('h2', { text: t('submit.title') }), submitState, submitForm));

  // ---- what waits for the server, and conflicts ----
  const held = h('ul', { class: 'held', id: 'held' });
  main.prepend(held);

  // ---- update: the dynamic parts, from the phone's latest data ----
  async function update() {
    task = (await store.getTask(id)) ?? task;
    const records = (await store.getMeta(`records:${id}`)) ?? [];
    const entries = await store.outboxOfTask(id);
    const evidence = await store.evidenceOfTask(id);
    const mine = progressOf(task);

    clear(main.querySelector('#group')).append(...task.members.map((m) => {
      const p = memberProgress(task, m);
      return h('li', { dataset: { badge: m.badge_no } },
        m.name, m.lead ? h('span', { class: 'badge', text: t('task.lead') }) : null,
        m.user_id && m.user_id === me ? h('span', { class: 'badge ok', text: t('task.me') }) : null,
        p.checked_in ? h('span', { class: `badge ${p.check_in_flagged ? 'warn' : 'ok'}`, text: p.check_in_flagged ? t('task.checkedInFar') : t('task.checkedIn') }) : null,
        p.submitted ? h('span', { class: 'badge ok', text: t('task.submittedBy') }) : h('span', { class: 'badge', text: t('task.notSubmitted') }));
    }));

    const pendingCheckin = entries.findLast((x) => x.kind === 'checkin');
    const stored = mine.checkIn;
    const checkedAt = pendingCheckin?.body.at ?? stored?.at;
    checkinState.textContent = checkedAt ? t('checkin.done', { time: chinaTime(checkedAt) }) : '';
    if (pendingCheckin) checkinState.append(' ', pendingBadge(pendingCheckin));
    else if (stored?.distance_m != null) {
      checkinState.append('，', t('checkin.distance', { m: Math.round(stored.distance_m) }));
      if (stored.flagged) checkinState.append(' ', h('span', { class: 'badge warn', text: t('checkin.flagged') }));
    }

    for (const [itemId, { radios, note, mark }] of itemRows) {
      const waiting = entries.findLast((x) => x.kind === 'item' && x.item_id === itemId);
      const value = waiting?.body ?? mine.items?.[itemId];
      mark.hidden = !waiting;
      if (waiting) {
        const b = pendingBadge(waiting);
        mark.textContent = b.textContent;
        mark.className = b.className;
      }
      if (value && !radios.some((r) => r.contains(document.activeElement))) {
        for (const r of radios) r.querySelector('input').checked = r.querySelector('input').value === value.outcome;
        if (document.activeElement !== note) note.value = value.note ?? '';
      }
    }

    // What the server has, then what waits (a record taken by the server
    // but whose entry is still leaving the outbox is shown once).
    const waiting = entries.filter((x) => (x.kind === 'finding' || x.kind === 'noncoop') && !records.some((r) => r.id === x.body?.id));
    const shownFindings = [...records, ...waiting.map((x) => ({ ...x.body, waiting: x }))];
    clear(findings).append(...shownFindings.map((f) => h('li', {},
      f.severity ? h('span', { class: `badge ${f.severity === 'major' ? 'bad' : 'warn'}`, text: t(`finding.${f.severity}`) }) : h('span', { class: 'badge bad', text: t(`noncoop.${f.type}`) }),
      ' ', f.description, f.rectify_by ? h('span', { class: 'meta', text: ` · ${t('finding.rectifyBy')} ${f.rectify_by}` }) : null,
      f.waiting ? [' ', pendingBadge(f.waiting)] : null)));
    if (!shownFindings.length) findings.append(h('li', { class: 'meta', text: t('finding.none') }));

    clear(evList).append(...evidence.filter((x) => x.kind !== 'signature').map((x) => evidenceRow(x)));
    if (!evList.children.length) evList.append(h('li', { class: 'meta', text: t('evidence.none') }));

    const submitted = entries.find((x) => x.kind === 'submit');
    submitState.textContent = submitted || mine.submission ? t('submit.done') : '';
    if (mine.submission && !submitted) submitState.append(`：${t(`submit.result.${mine.submission.result}`)} · ${chinaTime(mine.submission.at)}`);
    if (submitted) submitState.append(' ', pendingBadge(submitted));
    // A submission of an earlier round (the office returned the task: it
    // is in progress again) asks for a new one.
    submitForm.hidden = Boolean(submitted || (mine.submission && task.state !== 'in_progress') || closedState(task));

    clear(held).append(...entries.filter((x) => x.state !== PENDING).map((x) => heldRow(app, x, task)));
    lockOnSite();
  }

  function pendingBadge(entry) {
    if (entry.state === PENDING) return h('span', { class: 'badge warn pending', text: t('outbox.pending') });
    return h('span', { class: 'badge bad', text: entry.state === CONFLICT ? t('outbox.conflict') : t('outbox.failed', { message: entry.error ? refusalHead(entry.error, t) : '' }) });
  }

  function evidenceRow(x) {
    const pct = Math.round((live.get(x.id) ?? x.progress ?? 0) * 100);
    const label = {
      [HASHING]: t('evidence.hashing', { pct }), [WAITING]: t('evidence.waiting'), [UPLOADING]: t('evidence.uploading', { pct }),
      [VERIFYING]: t('evidence.verifying'), [VERIFIED]: t('evidence.verified'), [REJECTED]: t('evidence.rejected', { reason: x.reason ?? '' }),
    }[x.state] ?? x.state;
    return h('li', { dataset: { evidence: x.id, state: x.state } },
      h('span', { class: 'name', text: `${t(`evidence.kind.${x.kind}`)} · ${x.name}` }),
      h('progress', { max: 100, value: x.state === VERIFIED ? 100 : pct, 'aria-label': x.name }),
      h('span', { class: `state ${x.state === VERIFIED ? 'ok' : x.state === REJECTED ? 'bad' : ''}`, text: label }),
      x.resumed ? h('span', { class: 'badge', text: t('evidence.resumed') }) : null,
      x.state !== VERIFIED && x.state !== REJECTED ? h('span', { class: 'badge warn pending', text: t('outbox.pending') }) : null);
  }

  // The group's findings and non-cooperation records, fresh when online
  // (the phone keeps the last ones read for offline).
  if (app.online) refreshRecords(api, id).then(update).catch(() => {});
  return { update };
}

// progressOf reads from the server's task what this page shows: the
// group's checklist (one outcome per item, whoever set it) and the
// caller's own check-in and submission.
function progressOf(task) {
  const items = {};
  for (const o of task.checklist ?? []) items[o.item_id] = o;
  const mine = task.my_progress ?? {};
  return { items, checkIn: mine.check_in ?? null, submission: mine.submission ?? null };
}

// memberProgress is one member's line of the group's progress.
function memberProgress(task, m) {
  return (task.progress ?? []).find((p) => p.badge_no === m.badge_no) ?? {};
}


// EVIDENCE_TYPES are the content types the server takes for each kind
// the phone attaches (allowedTypes in backend/tasks/evidence.go).
const EVIDENCE_TYPES = {
  photo: ['image/jpeg', 'image/png', 'image/heic', 'image/heif', 'image/webp'],
  video: ['video/mp4', 'video/quicktime', 'video/webm', 'video/3gpp'],
  audio: ['audio/mpeg', 'audio/mp4', 'audio/aac', 'audio/wav', 'audio/ogg', 'audio/webm', 'audio/amr'],
  document: ['application/pdf'],
};

// kindOf is the kind a file is attached as, or null for a type the
// server does not take.
function kindOf(file) {
  return Object.keys(EVIDENCE_TYPES).find((k) => EVIDENCE_TYPES[k].includes(file.type)) ?? null;
}

// locate asks the phone for a fresh position.
function locate() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) return reject(Object.assign(new Error('no geolocation'), { gpsCode: 0 }));
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lng: p.coords.longitude, accuracy: p.coords.accuracy }),
      // gpsCode: denied, unavailable or too slow (GeolocationPositionError's 1–3), said in the app's words.
      (err) => reject(Object.assign(new Error(err.message || String(err.code)), { gpsCode: err.code })),
      { enableHighAccuracy: true, timeout: 20_000, maximumAge: 30_000 });
  });
}

// metres is the great-circle distance between two points (haversine).
function metres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(s));
}

// closedState: nothing changes on site any more (art. 22's record stands).
function closedState(task) {
  return ['reviewed', 'published', 'cancelled'].includes(task.state);
}
