// Evidence from the phone to MinIO. A captured file is stored on the phone
// first (IndexedDB) with a client-generated id; its outbox entry then runs
// these steps, each remembered, so that a reload or a dropped connection
// resumes where it stopped:
//
//  1. the SHA-256, streamed in a worker (hash-worker.js, hash-wasm);
//  2. POST /api/v1/tasks/{id}/evidence with the declared size and hash,
//     which answers with upload instructions: a presigned POST policy for
//     small files, presigned multipart for large ones;
//  3. the bytes straight to MinIO (never through suiji), with progress;
//     a multipart upload first asks which parts MinIO already has
//     (GET /api/v1/evidence/{id}/parts) and sends only the rest;
//  4. POST /api/v1/evidence/{id}/complete: the server checks the stored
//     object's size and hash and answers verified or rejected.
import { ApiError } from '../shared/api.js';
import * as store from './store.js';

// Evidence states, as shown beside each file.
export const HASHING = 'hashing';
export const WAITING = 'waiting';
export const UPLOADING = 'uploading';
export const VERIFYING = 'verifying';
export const VERIFIED = 'verified';
export const REJECTED = 'rejected';

// live is each file's progress while it is hashed or sent (0…1), shown
// between the steps that are stored.
export const live = new Map();

let worker = null;
const hashing = new Map(); // id → {resolve, reject, progress}

// sha256 streams blob through the hash worker; progress(done, size).
export function sha256(blob, progress = () => {}) {
  worker ??= Object.assign(new Worker('/app/hash-worker.js'), {
    onmessage: ({ data }) => {
      const job = hashing.get(data.id);
      if (!job) return;
      if (data.sha256 || data.error) hashing.delete(data.id);
      if (data.sha256) job.resolve(data.sha256);
      else if (data.error) job.reject(new Error(data.error));
      else job.progress(data.done, data.size);
    },
  });
  const id = crypto.randomUUID();
  return new Promise((resolve, reject) => {
    hashing.set(id, { resolve, reject, progress });
    worker.postMessage({ id, blob });
  });
}

// hashes are the hashes being computed, by evidence id, so that the
// capture's own run and the uploader share one.
const hashes = new Map();

// hashOf computes and stores ev's SHA-256 once, reporting progress.
function hashOf(ev, changed = () => {}) {
  if (!hashes.has(ev.id)) {
    hashes.set(ev.id, (async () => {
      try {
        const sum = await sha256(ev.blob, (done, size) => {
          live.set(ev.id, done / size);
          changed(ev);
        });
        const stored = await store.getEvidence(ev.id);
        if (stored && !stored.sha256) await store.putEvidence({ ...stored, sha256: sum, state: WAITING, progress: 0 });
        changed(ev);
        return sum;
      } finally {
        hashes.delete(ev.id);
      }
    })());
  }
  return hashes.get(ev.id);
}

// capture stores a file picked or shot on the phone as evidence of a task,
// with where and when it was taken, starts its hash (no network needed)
// and returns the stored record.
export async function capture(taskId, kind, file, where, changed = () => {}) {
  const ev = {
    id: crypto.randomUUID(),
    task_id: taskId,
    kind,
    name: file.name || `${kind}.png`,
    content_type: file.type || 'application/octet-stream',
    size: file.size,
    blob: file,
    taken_at: new Date(file.lastModified || Date.now()).toISOString(),
    lat: where?.lat ?? null,
    lng: where?.lng ?? null,
    key: crypto.randomUUID(), // Idempotency-Key of the create
    complete_key: crypto.randomUUID(),
    state: HASHING,
    progress: 0,
  };
  await store.putEvidence(ev);
  hashOf(ev, changed).catch(() => {}); // the uploader waits for it or starts again
  return ev;
}

// createUploader returns the outbox's sender of evidence entries.
export function createUploader(api) {
  return async function upload(entry, changed) {
    let ev = await store.getEvidence(entry.evidence_id);
    const save = async (patch) => {
      ev = { ...ev, ...patch };
      if ('progress' in patch) live.set(ev.id, patch.progress);
      await store.putEvidence(ev);
      changed();
    };
    if (!ev.sha256) {
      await hashOf(ev, changed);
      ev = await store.getEvidence(ev.id);
    }
    if (!ev.instructions) {
      const answer = await api.request('POST', `/api/v1/tasks/${ev.task_id}/evidence`, {
        headers: { 'Idempotency-Key': ev.key },
        body: {
          id: ev.id, kind: ev.kind, content_type: ev.content_type, size: ev.size, sha256: ev.sha256,
          taken_at: ev.taken_at, lat: ev.lat, lng: ev.lng,
        },
      });
      await save({ instructions: answer });
    }
    // Nothing is sent again once the bytes are stored: the upload ended
    // before (VERIFYING: /complete's answer was lost), or the server has
    // the evidence settled (a declaration repeated then answers with the
    // record and no instructions). /complete says how it ended.
    const settled = ev.instructions.state && ev.instructions.state !== 'pending';
    if (ev.state !== VERIFYING && !settled) {
      await save({ state: UPLOADING });
      try {
        if (ev.instructions.multipart) await sendParts(api, ev, save, changed);
        else await sendForm(ev, save, changed);
      } catch (err) {
        // Instructions expire: a refusal by MinIO (403) asks suiji for fresh
        // ones with the same client id on the next run.
        if (err instanceof StorageError && err.status === 403) await save({ instructions: null, key: crypto.randomUUID() });
        throw err;
      }
    }
    await save({ state: VERIFYING });
    const done = await api.request('POST', `/api/v1/evidence/${ev.id}/complete`, { headers: { 'Idempotency-Key': ev.complete_key } });
    const verified = done?.state === VERIFIED;
    // A verified file is on the server for good; the phone's copy can go.
    await save({ state: verified ? VERIFIED : REJECTED, reason: done?.reject_reason ?? done?.reason ?? '', blob: verified ? null : ev.blob, progress: 1 });
    return done;
  };
}

// StorageError is a refusal by MinIO (not by suiji); a network failure
// stays a TypeError, so the outbox waits for a connection.
export class StorageError extends ApiError {
  constructor(status, text) {
    super(status, { error: { code: 'ESTORAGE', message: `object storage answered ${status}: ${(/<Message>([^<]*)/.exec(text ?? '') ?? [])[1] ?? ''}` } });
  }
}

// put sends body with an XHR (fetch cannot report upload progress).
function put(method, url, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve(xhr) : reject(new StorageError(xhr.status, xhr.responseText)));
    xhr.onerror = () => reject(new TypeError('network error while uploading'));
    xhr.onabort = xhr.onerror;
    xhr.send(body);
  });
}

// sendForm posts a small file with its presigned POST policy: the fields,
// then the file last, as S3 requires.
async function sendForm(ev, save, changed) {
  const { url, fields } = ev.instructions.upload;
  const form = new FormData();
  for (const [k, v] of Object.entries(fields ?? {})) form.append(k, v);
  form.append('file', ev.blob, ev.name);
  await put('POST', url, form, (loaded) => { live.set(ev.id, Math.min(loaded / ev.size, 1)); changed(ev); });
  await save({ progress: 1 });
}

// sendParts sends the parts MinIO does not have yet, one at a time. It
// first asks suiji where the upload stands (GET /api/v1/evidence/{id}/parts:
// the parts stored, and fresh URLs for the rest), so a run after a cut or
// a restart sends only what is missing.
async function sendParts(api, ev, save, changed) {
  let answer;
  try {
    answer = await api.request('GET', `/api/v1/evidence/${encodeURIComponent(ev.id)}/parts`);
  } catch (err) {
    // Settled already (its /complete ran, the answer was lost): nothing
    // is left to send, and /complete says how it ended.
    if (err instanceof ApiError && err.status === 409 && err.retryAfter == null) return;
    throw err;
  }
  const plan = answer?.multipart ?? answer ?? {};
  const partSize = plan.part_size ?? ev.instructions.multipart.part_size;
  const stored = plan.stored ?? [];
  const missing = [...(plan.parts ?? [])].sort((a, b) => a.number - b.number);
  let have = stored.reduce((sum, p) => sum + (p.size ?? Math.min(partSize, ev.size - (p.number - 1) * partSize)), 0);
  await save({ progress: have / ev.size, resumed: Boolean(ev.resumed || stored.length > 0) });
  for (const { number, url } of missing) {
    const start = (number - 1) * partSize;
    const part = ev.blob.slice(start, start + partSize);
    await put('PUT', url, part, (loaded) => {
      live.set(ev.id, (have + loaded) / ev.size);
      changed(ev);
    });
    have += part.size;
    await save({ progress: have / ev.size });
  }
}
