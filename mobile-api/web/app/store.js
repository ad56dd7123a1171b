// Everything the app keeps on the phone, in one IndexedDB database (through
// the idb library): the inspector's tasks, the outbox of changes not yet on
// the server, the evidence files waiting to upload, and small facts (the
// signed-in user, the sync cursor, the last event seen). Signing out
// deletes the database whole.
import { openDB, deleteDB } from '/vendor/idb.js';

const NAME = 'suiji-app';
const VERSION = 1;

let dbPromise = null;

// SignedOut is the store's refusal after wipe() (a sign-out): work still
// in flight from the session that ended (a sync, the inbox, a redraw)
// stops there instead of creating the database again; the next sign-in
// reopens the store (reopen()).
export class SignedOut extends Error {
  constructor() {
    super('signed out');
    this.name = 'SignedOut';
  }
}
let closed = false;

// reopen lets the store open the database again (a sign-in).
export function reopen() { closed = false; }

function db() {
  if (closed) return Promise.reject(new SignedOut());
  dbPromise ??= openDB(NAME, VERSION, {
    upgrade(d) {
      d.createObjectStore('meta');
      d.createObjectStore('tasks', { keyPath: 'id' });
      // seq orders the outbox: changes go to the server in the order made.
      const out = d.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
      out.createIndex('task', 'task_id');
      // Evidence files with what is known of their upload so far.
      const ev = d.createObjectStore('evidence', { keyPath: 'id' });
      ev.createIndex('task', 'task_id');
    },
    blocking() {
      // Another tab wants a newer schema (or to delete the database).
      dbPromise?.then((x) => x.close());
      dbPromise = null;
    },
  });
  return dbPromise;
}

export async function getMeta(key) { return (await db()).get('meta', key); }
export async function setMeta(key, value) { return (await db()).put('meta', value, key); }

export async function allTasks() { return (await db()).getAll('tasks'); }
export async function getTask(id) { return (await db()).get('tasks', id); }
export async function putTask(task) { return (await db()).put('tasks', task); }
export async function deleteTask(id) { return (await db()).delete('tasks', id); }

// replaceTasks makes the stored tasks exactly list (a full sync).
export async function replaceTasks(list) {
  const tx = (await db()).transaction('tasks', 'readwrite');
  await tx.store.clear();
  await Promise.all(list.map((x) => tx.store.put(x)));
  await tx.done;
}

// addToOutbox stores a change and returns it with its seq.
export async function addToOutbox(entry) {
  const seq = await (await db()).add('outbox', entry);
  return { ...entry, seq };
}
export async function outbox() { return (await db()).getAll('outbox'); }
export async function getOutbox(seq) { return (await db()).get('outbox', seq); }
export async function outboxOfTask(taskId) { return (await db()).getAllFromIndex('outbox', 'task', taskId); }
export async function updateOutbox(entry) { return (await db()).put('outbox', entry); }
export async function removeFromOutbox(seq) { return (await db()).delete('outbox', seq); }

export async function putEvidence(ev) { return (await db()).put('evidence', ev); }
export async function getEvidence(id) { return (await db()).get('evidence', id); }
export async function evidenceOfTask(taskId) { return (await db()).getAllFromIndex('evidence', 'task', taskId); }

// wipe deletes everything the app stored (sign-out).
export async function wipe() {
  closed = true;
  const d = await dbPromise?.catch(() => null);
  d?.close();
  dbPromise = null;
  await deleteDB(NAME);
}
