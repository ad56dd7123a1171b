// A task's evidence for the office (art. 20, 22): what the group and the
// office attached, each with its state (a file counts once the server has
// checked its size, SHA-256 and content type), and a look at it — a photo
// or signature shown in the page, anything else through its short-lived
// link. The coordinator and the lead department's staff attach a report
// of another agency or an expert, or a document, marked with its source:
// the browser hashes the file, the bytes go straight to the object store
// with the presigned instructions, and the server checks them.
import { h, field, chinaTime } from '../../shared/dom.js';
import { t } from '../strings.js';
import { message, select, errorText } from '../widgets.js';

// MaxOfficeFile bounds a file attached from the console: it is hashed in
// memory (WebCrypto has no streaming digest). The API takes up to 100 MiB
// for documents.
const MaxOfficeFile = 100 << 20;

export function evidenceSection(api, task, list, { manages, onChange }) {
  const items = list.map((e) => h('li', { 'data-evidence': e.id },
    h('strong', { text: t(`evidence.kind.${e.kind}`) }), ' ',
    h('span', { class: `badge ${e.state === 'verified' ? 'ok' : e.state === 'rejected' ? 'bad' : 'warn'}`, text: t(`evidence.state.${e.state}`) }), ' ',
    h('small', { class: 'note', text: [e.taken_at ? chinaTime(e.taken_at) : chinaTime(e.created_at), size(e.size), `SHA-256 ${e.sha256.slice(0, 12)}…`].join(' · ') }),
    e.source ? h('span', { text: ` · ${t('evidence.source')}：${e.source}` }) : null,
    e.description ? h('span', { text: ` · ${e.description}` }) : null,
    e.state === 'rejected' && e.reject_reason ? h('span', { class: 'note', text: ` · ${e.reject_reason}` }) : null,
    e.state === 'verified' ? viewer(api, e) : null));
  return h('section', { 'aria-label': t('evidence.title') },
    h('h2', { text: t('evidence.title') }),
    list.length ? h('ul', { id: 'task-evidence', class: 'evidence' }, items) : h('p', { class: 'note', text: t('common.none') }),
    manages && !['cancelled', 'published'].includes(task.state) ? attachForm(api, task, onChange) : null);
}

// viewer fetches a link when asked (links live minutes); a picture is
// fetched and shown in the page, anything else opened by its link.
function viewer(api, e) {
  const box = h('span', { class: 'viewer' });
  const status = message();
  const button = h('button', { type: 'button', class: 'secondary small', text: t('evidence.view'), onclick: async () => {
    button.disabled = true;
    try {
      const { url } = await api.get(`/api/v1/evidence/${encodeURIComponent(e.id)}/download`);
      const link = h('a', { href: url, target: '_blank', rel: 'noopener', text: t('evidence.open') });
      box.replaceChildren(link);
      if (/^image\/(jpeg|png|webp|gif)$/.test(e.content_type)) {
        const resp = await fetch(url);
        if (!resp.ok) throw new Error(`${resp.status}`);
        const img = h('img', { src: URL.createObjectURL(await resp.blob()), alt: t(`evidence.kind.${e.kind}`), class: 'evidence-image' });
        box.append(h('br'), img);
      }
    } catch (err) {
      status.set('error', errorText(err));
      button.disabled = false;
    }
  } });
  box.append(button, status);
  return [' ', box];
}

// attachForm attaches a report or document from the office.
function attachForm(api, task, onChange) {
  const kind = select('kind', t('evidence.kindField'), [['external_report', t('evidence.kind.external_report')], ['document', t('evidence.kind.document')]], { all: false });
  kind.id = 'attach-kind';
  const source = h('input', { id: 'attach-source', maxlength: 200 });
  const description = h('input', { id: 'attach-description', maxlength: 1000 });
  // One id per chosen file: a retry after a failure declares the same
  // evidence again (the server answers with fresh instructions) instead
  // of leaving a pending one behind for each attempt.
  let evidenceId = crypto.randomUUID();
  const file = h('input', { id: 'attach-file', type: 'file', accept: 'application/pdf,image/jpeg,image/png', onchange: () => { evidenceId = crypto.randomUUID(); } });
  const msg = message();
  const go = h('button', { type: 'submit', text: t('evidence.attach') });
  const form = h('form', { class: 'panel', 'aria-label': t('evidence.attachTitle'), onsubmit: async (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) return msg.set('error', t('evidence.pickFile'));
    if (f.size > MaxOfficeFile) return msg.set('error', t('evidence.tooBig', { mb: MaxOfficeFile >> 20 }));
    go.disabled = true;
    try {
      msg.set('', t('evidence.hashing'));
      const bytes = await f.arrayBuffer();
      const sha256 = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
      const declared = await api.post(`/api/v1/tasks/${task.id}/evidence`, {
        id: evidenceId, kind: kind.value, content_type: f.type || 'application/octet-stream', size: f.size, sha256,
        source: source.value.trim(), description: description.value.trim(),
      });
      msg.set('', t('evidence.uploading'));
      await send(api, declared, f);
      const done = await api.post(`/api/v1/evidence/${encodeURIComponent(declared.id)}/complete`);
      if (done.state !== 'verified') throw new Error(done.reject_reason || done.state);
      onChange();
    } catch (err) {
      msg.set('error', errorText(err));
      go.disabled = false;
    }
  } },
  h('h3', { text: t('evidence.attachTitle') }),
  h('p', { class: 'note', text: t('evidence.attachNote') }),
  h('div', { class: 'grid2' },
    field(t('evidence.kindField'), kind),
    field(t('evidence.source'), source),
    field(t('evidence.description'), description),
    field(t('evidence.file'), file)),
  h('p', {}, go), msg);
  return form;
}

// send puts the file's bytes where the declaration's instructions say:
// one presigned POST, or each part PUT to its URL (each signs its exact
// length).
async function send(api, declared, f) {
  if (declared.upload) {
    const form = new FormData();
    for (const [k, v] of Object.entries(declared.upload.fields ?? {})) form.append(k, v);
    form.append('file', f, f.name);
    const resp = await fetch(declared.upload.url, { method: 'POST', body: form });
    if (!resp.ok) throw new Error(t('evidence.storageRefused', { status: resp.status }));
    return;
  }
  const { part_size: partSize, parts } = declared.multipart;
  for (const { number, url } of [...parts].sort((a, b) => a.number - b.number)) {
    const start = (number - 1) * partSize;
    const resp = await fetch(url, { method: 'PUT', body: f.slice(start, start + partSize) });
    if (!resp.ok) throw new Error(t('evidence.storageRefused', { status: resp.status }));
  }
}

function size(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
}
