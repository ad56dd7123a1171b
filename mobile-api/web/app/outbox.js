// The outbox: every change the inspector makes is stored on the phone
// first (IndexedDB) with a client-generated id and its own
// Idempotency-Key, shown as 待同步, and sent when a connection is there —
// in the order made, exactly once (a request repeated after a lost answer
// carries the same key and body, so the server answers it from its record
// instead of running it twice), surviving reloads and restarts.
//
// An entry the server refuses is never dropped: a stale version (409 with
// the current state) becomes a conflict, any other refusal a failure; both
// stay in the outbox, shown with what the server said, until the
// inspector sends them again or discards them. Later entries of the same
// task wait behind them, since they may build on them; other tasks' go
// on. Only work still in progress (a 409 with Retry-After: the same key's
// first request, or a lease held elsewhere), the network, 5xx, 429 and 401
// stop the whole outbox until later — a refusal taken for one of those
// held every change behind it (a task cancelled while the phone still had
// a photo of it to send). A change carried out whose reply the server did
// not keep (422, reply_not_kept) is done: the task is read again.
import { ApiError } from '../shared/api.js';
import * as store from './store.js';

// Entry states.
export const PENDING = 'pending';
export const CONFLICT = 'conflict';
export const FAILED = 'failed';

// Versions. A change that must not silently overwrite someone else's
// (an item's outcome, the submit) carries in its body the version of the
// task it was made on; every entry remembers that version as its base.
// The server refuses an item's outcome only when that item was set since
// (a partner's check-in or another item does not make it stale), the
// submit when anything changed.
// The inspector's own changes must not conflict with each other, so when
// one is taken, the waiting entries made on the same base move to the
// version the server now has — when it is their change alone that made it
// (see taken).
//
// The kinds of change the server stores as one new version of the task.
// Evidence leaves the version as it is: a task one version on after an
// upload was changed by someone else.
const ONE_VERSION = new Set(['checkin', 'item', 'finding', 'noncoop', 'submit']);

// createOutbox({api, upload, onApplied, onChange}): upload(entry, report)
// sends an evidence entry (evidence.js); onApplied(entry, answer) folds the
// server's answer into the stored task and returns the task as it now is
// (or null); onChange() runs when the outbox changed (to redraw 待同步).
export function createOutbox({ api, upload, onApplied = async () => {}, onChange = () => {} }) {
  let running = null;
  let again = false;
  let inFlight = null; // the seq being sent
  // moved[task] maps a base that rebase moved on to the version it moved
  // to. A change the page makes on a base just moved (its view of the task
  // is redrawn a moment after the server's answer is taken) is moved the
  // same way when it is added, as rebase would have moved it had it been
  // waiting already — else it would reach the server stale and show as a
  // conflict with the inspector's own change.
  const moved = new Map();

  function onBase(change) {
    let base = change.base;
    const chain = moved.get(change.task_id);
    for (let hops = 0; chain?.has(base) && hops < 1000; hops++) base = chain.get(base);
    if (base === change.base) return change;
    const body = change.body && 'version' in change.body && change.body.version === change.base ? { ...change.body, version: base } : change.body;
    return { ...change, base, body };
  }

  // add stores a change and tries to send it at once. A change with a
  // coalesce key (an item's outcome: the latest wins) replaces a waiting
  // change with the same key instead of queueing behind it, so the server
  // gets the item once; one already on its way is left alone.
  async function add(change) {
    if (change.coalesce) {
      const waiting = (await store.outbox()).find((e) => e.coalesce === change.coalesce && e.state === PENDING && e.seq !== inFlight);
      if (waiting) {
        change = onBase(change); // no await between this and the write below
        const entry = { ...waiting, body: change.body, base: change.base, key: crypto.randomUUID() };
        await store.updateOutbox(entry);
        onChange();
        flush();
        return entry;
      }
    }
    change = onBase(change); // no await between this and the write below
    const entry = await store.addToOutbox({
      id: change.id ?? crypto.randomUUID(),
      key: crypto.randomUUID(),
      state: PENDING,
      created_at: new Date().toISOString(),
      ...change,
    });
    onChange();
    flush();
    return entry;
  }

  // flush sends what is pending; one run at a time per app, and one tab at
  // a time (a Web Lock), so no entry is ever sent by two senders at once.
  function flush() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await navigator.locks.request('suiji-outbox', sendAll);
        } while (again);
      } finally {
        running = null;
        onChange();
      }
    })();
    return running;
  }

  async function sendAll() {
    if (!navigator.onLine) return;
    const waiting = new Set(); // tasks with an unresolved entry
    for (const entry of await store.outbox()) {
      if (entry.state !== PENDING) {
        waiting.add(entry.task_id);
        continue;
      }
      if (waiting.has(entry.task_id)) continue;
      const outcome = await sendOne(entry);
      if (outcome === 'stop') return; // offline or the server is busy: later, in order
      if (outcome === 'held') waiting.add(entry.task_id);
      onChange();
    }
  }

  // sendOne returns 'sent', 'held' (now a conflict or failure) or 'stop'.
  async function sendOne(entry) {
    inFlight = entry.seq;
    try {
      entry = (await store.getOutbox(entry.seq)) ?? entry; // as changed by a coalescing add
      const answer = entry.kind === 'evidence'
        ? await upload(entry, onChange)
        : await api.request(entry.method, entry.path, { body: entry.body, headers: { 'Idempotency-Key': entry.key } });
      return await taken(entry, answer);
    } catch (err) {
      if (!(err instanceof ApiError)) return 'stop'; // the network (fetch or XHR failed)
      if (err.status >= 500 || err.status === 429 || err.status === 401) return 'stop';
      if (err.status === 409 && inProgress(err)) return 'stop';
      if (err.status === 422 && err.fields.idempotency_key === 'reply_not_kept' && /^2/.test(err.fields.status ?? '') && entry.kind !== 'evidence') {
        return await taken(entry, null);
      }
      entry.state = (err.status === 409 && staleVersion(err)) || err.status === 404 ? CONFLICT : FAILED;
      entry.error = { status: err.status, code: err.code, message: err.message, fields: err.fields, current: err.body?.current ?? null };
      await store.updateOutbox(entry);
      return 'held';
    } finally {
      inFlight = null;
    }
  }

  // taken folds the server's answer (null: read the task again) into the
  // phone's data and takes the entry out of the outbox. The waiting
  // entries of the task move to the version it now has only when that is
  // one version on from the entry's base: this change alone. Further on,
  // someone else's change came between — a check-in, a finding and a
  // non-cooperation record land on whatever version is current, and the
  // task may be read again later — and the waiting entries must meet it
  // as conflicts: moved past it, an outcome of the same item would
  // overwrite the partner's without a word.
  async function taken(entry, answer) {
    const task = await onApplied(entry, answer);
    const moves = ONE_VERSION.has(entry.kind) && task?.version != null && entry.base != null && task.version === entry.base + 1;
    if (moves) await rebase(entry.task_id, entry.base, task.version, entry.seq);
    // A coalescing add may have replaced the body meanwhile: then the
    // entry stays, to be sent with its new body.
    if ((await store.getOutbox(entry.seq))?.key === entry.key) await store.removeFromOutbox(entry.seq);
    else again = true;
    return 'sent';
  }

  // inProgress tells work still running — the same key's first request,
  // or a lease held elsewhere: a later repeat may go through — from the
  // server's answer to the change.
  function inProgress(err) {
    return err.retryAfter != null || err.fields.idempotency_key === 'in_progress';
  }

  // staleVersion tells a conflict with the task's state (the change was
  // made on an older version) from any other refusal.
  function staleVersion(err) {
    return err.fields.version === 'stale' || err.body?.current != null;
  }

  // rebase moves the waiting entries of a task made on version from to
  // version to (their bodies change, so they get new keys; none of them
  // has been sent, since entries go in order).
  async function rebase(taskId, from, to, except) {
    if (from === to) return;
    // Recorded before the entries are read: an add that comes later moves
    // its change by this; one that came earlier is among the entries.
    if (!moved.has(taskId)) moved.set(taskId, new Map());
    moved.get(taskId).set(from, to);
    for (const e of await store.outboxOfTask(taskId)) {
      if (e.seq === except || e.base !== from || e.seq === inFlight) continue;
      e.base = to;
      if (e.body && 'version' in e.body) e.body = { ...e.body, version: to };
      e.key = crypto.randomUUID();
      await store.updateOutbox(e);
    }
  }

  // resend sends a held entry again, made on version (the task's current
  // one, which the inspector has now seen), with a new key and what patch
  // adds to its body (an amendment's reason); the entries waiting behind
  // it move to that version too. Evidence gets new keys for its
  // declaration and completion: both are safe to repeat by the evidence's
  // id, and the old keys may hold an answer that was not kept.
  async function resend(seq, version, patch = null) {
    const entry = await store.getOutbox(seq);
    if (!entry) return;
    if (version != null) {
      await rebase(entry.task_id, entry.base, version, seq);
      entry.base = version;
      if (entry.body && 'version' in entry.body) entry.body = { ...entry.body, version };
    }
    if (patch && entry.body) entry.body = { ...entry.body, ...patch };
    if (entry.kind === 'evidence') {
      const ev = await store.getEvidence(entry.evidence_id);
      if (ev) await store.putEvidence({ ...ev, key: crypto.randomUUID(), complete_key: crypto.randomUUID() });
    }
    entry.key = crypto.randomUUID();
    entry.state = PENDING;
    delete entry.error;
    await store.updateOutbox(entry);
    onChange();
    return flush();
  }

  // discard drops an entry the inspector chose to give up.
  async function discard(seq) {
    await store.removeFromOutbox(seq);
    onChange();
    return flush();
  }

  return { add, flush, resend, discard, entries: () => store.outbox() };
}
