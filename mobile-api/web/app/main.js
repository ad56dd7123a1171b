// The inspectors' phone app: sign-in, the task list, the inbox and the
// task page, offline first. What is on the phone (IndexedDB) is shown at
// once; the network only brings it up to date. The refresh token is kept
// across restarts (localStorage); signing out deletes everything stored.
import { h, clear, chinaTime } from '../shared/dom.js';
import { createClient, ApiError } from '../shared/api.js';
import { describeRefusal } from '../shared/refusal.js';
import { t } from './strings.js';
import * as store from './store.js';
import { createOutbox, PENDING } from './outbox.js';
import { createUploader } from './evidence.js';
import { syncTasks, refreshTask, refreshRecords, listen } from './sync.js';
import { heldRow } from './held.js';

const REFRESH_KEY = 'suiji.app.refresh';
const tokens = {
  get: () => localStorage.getItem(REFRESH_KEY),
  set: (v) => localStorage.setItem(REFRESH_KEY, v),
  remove: () => localStorage.removeItem(REFRESH_KEY),
};

const root = document.getElementById('root');
document.title = t('app.title');

const api = createClient({ store: tokens, onSignedOut: () => signedOut() });
const app = {
  api, t, h,
  user: null, // the signed-in user (from the server, or the phone's copy offline)
  online: false, // whether the API answered since the last failure
  unread: 0,
  go: (path) => { location.hash = path; },
  changed: () => changed(),
  outbox: null,
};
app.outbox = createOutbox({
  api,
  upload: createUploader(api),
  onApplied: applied,
  onChange: () => changed(),
});

// applied folds the server's answer to a sent change into the stored
// task and returns the task as it now is: the answer itself when it is
// the task, else the task fetched again (a finding's answer is the
// finding).
async function applied(entry, answer) {
  if (entry.kind === 'finding' || entry.kind === 'noncoop') {
    // The record goes into the phone's list before the entry leaves the
    // outbox, so the page never shows it neither waiting nor stored.
    await refreshRecords(api, entry.task_id).catch(() => {});
  }
  if (answer && answer.id === entry.task_id && answer.enterprise) {
    await store.putTask(answer);
    return answer;
  }
  return refreshTask(api, entry.task_id).catch(() => null);
}

// changed redraws what depends on the phone's data, at most about five
// times a second (an upload reports progress far more often).
let redraw = null;
function changed() {
  redraw ??= setTimeout(() => {
    redraw = null;
    updateStatus();
    currentView?.update?.();
  }, 200);
}

// ---- sign-in and session ------------------------------------------------

let stopListening = null;

async function start() {
  registerServiceWorker();
  if (!tokens.get()) return showLogin();
  app.user = await store.getMeta('user');
  if (!app.user) return showLogin();
  render(); // what the phone has, at once
  connect();
}

// connect brings the session back (refresh token), then syncs, listens and
// sends the outbox; offline it tries again when the network returns.
let connecting = null;
function connect() {
  connecting ??= (async () => {
    try {
      // A live session needs no refresh (the client refreshes on a 401).
      const user = api.user ?? await api.resume();
      if (!user) {
        if (!tokens.get()) return; // refused: signedOut() has run
        return offline();
      }
      app.user = user;
      await store.setMeta('user', user);
      app.online = true;
      updateStatus();
      await refreshAll();
      stopListening ??= listen(api, onEvent);
      app.outbox.flush();
    } catch {
      offline();
    } finally {
      connecting = null;
    }
  })();
  return connecting;
}

function offline() {
  app.online = false;
  updateStatus();
}

async function refreshAll() {
  await syncTasks(api);
  await loadInbox();
  changed();
  currentView?.update?.();
}

async function loadInbox() {
  const inbox = await api.get('/api/v1/me/notifications?limit=50');
  await store.setMeta('inbox', inbox.notifications);
  app.unread = inbox.unread;
  await store.setMeta('unread', inbox.unread);
}

// onEvent handles one entry of the live stream.
async function onEvent(n) {
  if (n.task_id) await refreshTask(api, n.task_id).catch(() => {});
  if (!n.silent) {
    await loadInbox().catch(() => {});
    toast(`${n.title}：${n.body}`);
  }
  changed();
  currentView?.update?.();
}

window.addEventListener('online', () => connect());
// After a sign-out the store refuses the old session's work still in
// flight (store.SignedOut): that is its end, not an error.
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason instanceof store.SignedOut) e.preventDefault();
});
window.addEventListener('offline', () => offline());
// A phone wakes the app from the background: catch up.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && app.user) connect();
});

function showLogin(message) {
  currentView = null;
  const username = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none' });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('p', { class: 'error', role: 'alert', hidden: !message, text: message ?? '' });
  const form = h('form', { class: 'login', onsubmit: async (e) => {
    e.preventDefault();
    status.hidden = true;
    try {
      const user = await api.login(username.value.trim(), password.value);
      store.reopen();
      app.user = user;
      await store.setMeta('user', user);
      app.online = true;
      location.hash = '';
      render();
      await refreshAll().catch(() => {});
      stopListening ??= listen(api, onEvent);
      app.outbox.flush();
    } catch (err) {
      if (!navigator.onLine) status.textContent = t('login.offline');
      else if (err instanceof ApiError && err.code === 'EUNAUTHORIZED') status.textContent = t('login.bad');
      else status.textContent = t('login.failed', { message: describeRefusal(err, t) });
      status.hidden = false;
    }
  } },
  h('img', { src: '/app/icon.svg', alt: '', class: 'logo', width: 72, height: 72 }),
  h('h1', { text: t('app.title') }),
  h('p', { class: 'meta', text: t('app.bureau') }),
  h('label', { for: 'login-username', text: t('login.username') }), username,
  h('label', { for: 'login-password', text: t('login.password') }), password,
  status,
  h('button', { type: 'submit', class: 'big', text: t('login.submit') }));
  clear(root).append(form);
}

async function signOut() {
  const pending = (await app.outbox.entries()).length;
  if (pending && !confirm(t('user.logoutPending', { n: pending }))) return;
  await api.logout();
}

// signedOut clears everything stored on the phone: the token, the
// database (tasks, outbox, files) and the service worker's caches.
async function signedOut() {
  stopListening?.();
  stopListening = null;
  app.user = null;
  tokens.remove();
  localStorage.clear();
  await store.wipe().catch(() => {});
  // Every cache but the app's own files (the shell of a release: no data
  // of anyone's), which the next sign-in starts from, offline too.
  if (window.caches) for (const k of await caches.keys()) if (!k.startsWith('suiji-app-shell-')) await caches.delete(k);
  showLogin();
}

// ---- the shell ----------------------------------------------------------

const statusLine = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });

async function updateStatus() {
  if (!app.user) return;
  const entries = await app.outbox.entries().catch(() => []);
  const pending = entries.filter((e) => e.state === PENDING).length;
  const held = entries.length - pending;
  const parts = [];
  if (!app.online) parts.push(t('net.offline'));
  if (entries.length) parts.push(t('net.pending', { n: entries.length }));
  else if (app.online) parts.push(t('net.synced'));
  statusLine.textContent = parts.join(' · ');
  statusLine.className = `status ${!app.online ? 'off' : held ? 'bad' : pending ? 'busy' : 'ok'}`;
  const bell = document.getElementById('unread');
  if (bell) {
    bell.textContent = app.unread ? String(app.unread) : '';
    bell.hidden = !app.unread;
  }
}

function shell(title, { back } = {}) {
  const main = h('main', { id: 'view' });
  clear(root).append(
    h('header', { class: 'bar' },
      back ? h('a', { class: 'back', href: back, 'aria-label': t('common.back'), text: '‹' }) : null,
      h('h1', { text: title })),
    statusLine,
    updateNotice,
    main,
    h('nav', { class: 'tabs' },
      h('a', { href: '#/', text: t('nav.tasks'), 'aria-current': location.hash.startsWith('#/tasks') || !location.hash.slice(2) ? 'page' : null }),
      h('a', { href: '#/inbox', 'aria-current': location.hash === '#/inbox' ? 'page' : null }, t('nav.inbox'),
        h('span', { id: 'unread', class: 'count', hidden: true, 'aria-label': t('inbox.unreadLabel') })),
      h('button', { type: 'button', class: 'link', text: t('user.logout'), onclick: signOut })));
  updateStatus();
  return main;
}

export function toast(text) {
  const el = h('div', { class: 'toast', role: 'alert', text });
  document.body.append(el);
  setTimeout(() => el.remove(), 5000);
}

// ---- views --------------------------------------------------------------

let currentView = null;

async function render() {
  // Behind a release another window let in: reload at the first view with
  // no form (the list after a sign-in, say), before it loads a module of
  // the new release under the old ones.
  if (behind && formless()) return reload();
  if (!app.user) return showLogin();
  const path = location.hash.replace(/^#/, '') || '/';
  const m = /^\/tasks\/([^/]+)$/.exec(path);
  app.unread = (await store.getMeta('unread')) ?? app.unread;
  if (m) {
    const main = shell(t('task.title'), { back: '#/' });
    const { taskView } = await import('./task.js');
    currentView = await taskView(app, main, decodeURIComponent(m[1]));
    markTaskRead(decodeURIComponent(m[1]));
  } else if (path === '/inbox') {
    currentView = inboxView(shell(t('inbox.title'), { back: '#/' }));
  } else {
    currentView = listView(shell(t('tasks.title')));
  }
  await currentView.update();
}

// byUrgency orders tasks for the list: overdue first, then by the
// inspection deadline, closed ones last.
const closed = new Set(['submitted', 'completed', 'reviewed', 'published', 'cancelled']);
function byUrgency(a, b) {
  return (closed.has(a.state) - closed.has(b.state)) ||
    ((b.overdue?.length > 0) - (a.overdue?.length > 0)) ||
    String(a.deadlines?.window ?? '').localeCompare(String(b.deadlines?.window ?? '')) ||
    a.enterprise.name.localeCompare(b.enterprise.name, 'zh-CN');
}

function listView(main) {
  const held = h('ul', { class: 'held' });
  const list = h('ul', { class: 'tasks', 'aria-label': t('tasks.title') });
  const meta = h('p', { class: 'meta' });
  main.append(held, list, meta);
  // The list is keyed: an entry is rebuilt only when what it shows
  // changed, and the entries are moved only when their order did. A sync
  // redraws the list often, and a tap on an entry replaced between the
  // finger's down and up would be lost.
  let rows = new Map(); // task id → { sig, li }
  return {
    async update() {
      const [tasks, entries, inbox, syncedAt] = await Promise.all([store.allTasks(), app.outbox.entries(), store.getMeta('inbox'), store.getMeta('synced_at')]);
      const waiting = new Set(entries.map((e) => e.task_id));
      const fresh = new Set((inbox ?? []).filter((n) => !n.read_at && n.kind === 'task.assigned').map((n) => n.task_id));
      tasks.sort(byUrgency);
      // Refused changes first: they need the inspector.
      const byID = new Map(tasks.map((x) => [x.id, x]));
      clear(held).append(...entries.filter((e) => e.state !== PENDING).map((e) => heldRow(app, e, byID.get(e.task_id), byID.get(e.task_id)?.enterprise.name ?? t('tasks.removed'))));
      const today = chinaTime(new Date().toISOString(), false);
      const entry = (x, due) => h('li', {},
        h('a', { class: `task${x.overdue?.length ? ' overdue' : ''}`, href: `#/tasks/${encodeURIComponent(x.id)}` },
          h('strong', { class: 'name', text: x.enterprise.name }),
          h('span', { class: 'meta', text: `${x.enterprise.town} · ${t(`tasks.kind.${x.kind}`)}` }),
          h('span', { class: 'due', text: t('tasks.deadline', { date: x.deadlines?.window ?? '' }) }),
          h('span', { class: 'badges' },
            h('span', { class: 'badge', text: t(`tasks.state.${x.state}`) }),
            (x.overdue ?? []).map((d) => h('span', { class: 'badge bad', text: t(`tasks.overdue.${d}`) })),
            due ? h('span', { class: 'badge warn', text: t('tasks.dueSoon') }) : null,
            fresh.has(x.id) ? h('span', { class: 'badge ok', text: t('tasks.new') }) : null,
            waiting.has(x.id) ? h('span', { class: 'badge warn pending', text: t('outbox.pending') }) : null)));
      const next = new Map(tasks.map((x) => {
        const due = !x.overdue?.length && x.deadlines?.window && x.deadlines.window <= today && !closed.has(x.state);
        const sig = JSON.stringify([x.enterprise.name, x.enterprise.town, x.kind, x.deadlines?.window, x.overdue, x.state, due, fresh.has(x.id), waiting.has(x.id)]);
        const old = rows.get(x.id);
        return [x.id, old?.sig === sig ? old : { sig, li: entry(x, due) }];
      }));
      const lis = [...next.values()].map((r) => r.li);
      if (!lis.length) {
        clear(list).append(h('li', { class: 'empty', text: t('tasks.none') }));
      } else if (list.children.length === lis.length && [...next.keys()].every((id, i) => rows.get(id) && list.children[i] === rows.get(id).li)) {
        // Same entries in the same order: only the changed ones are swapped.
        lis.forEach((li, i) => { if (list.children[i] !== li) list.children[i].replaceWith(li); });
      } else {
        list.replaceChildren(...lis);
      }
      rows = next;
      meta.textContent = syncedAt ? t('net.updated', { time: chinaTime(syncedAt) }) : '';
    },
  };
}

// markTaskRead marks the unread notifications about a task read once the
// inspector has opened it.
async function markTaskRead(taskId) {
  const unread = ((await store.getMeta('inbox')) ?? []).filter((n) => n.task_id === taskId && !n.read_at);
  if (!unread.length || !app.online) return;
  try {
    for (const n of unread) await api.post(`/api/v1/me/notifications/${encodeURIComponent(n.id)}/read`);
    await loadInbox();
    changed();
  } catch { /* offline again: stays unread */ }
}

function inboxView(main) {
  const list = h('ul', { class: 'inbox' });
  const readAll = h('button', { type: 'button', class: 'secondary', text: t('inbox.readAll'), onclick: async () => {
    await api.post('/api/v1/me/notifications/read-all');
    await loadInbox();
    changed();
  } });
  main.append(h('p', { class: 'row' }, h('span', { id: 'inbox-unread' }), readAll), list);
  return {
    async update() {
      const inbox = (await store.getMeta('inbox')) ?? [];
      main.querySelector('#inbox-unread').textContent = t('inbox.unread', { n: app.unread });
      readAll.disabled = !app.unread || !app.online;
      clear(list).append(...inbox.map((n) => h('li', { class: n.read_at ? 'read' : 'unread' },
        h('strong', { text: n.title }),
        h('span', { class: 'meta', text: chinaTime(n.created_at) }),
        h('p', { text: n.body }),
        n.task_id ? h('a', { href: `#/tasks/${encodeURIComponent(n.task_id)}`, class: 'button secondary', text: t('inbox.open') }) : null)));
      if (!inbox.length) list.append(h('li', { class: 'empty', text: t('inbox.none') }));
    },
  };
}

// ---- releases ----------------------------------------------------------
// A new release of the app installs itself in a worker of its own, which
// waits (sw.js). The page lets it in when nothing can be lost: at start,
// when the app comes back to the screen on a page with no form (the task
// list, the inbox), or when the inspector taps 更新 on the notice shown
// meanwhile — a task page may hold what they are typing. Then it reloads,
// on the new release alone.

const updateNotice = h('p', { class: 'update', role: 'status', hidden: true },
  h('span', { text: t('update.ready') }),
  h('button', { type: 'button', class: 'secondary', text: t('update.now'), onclick: () => update() }));
let registration = null;
let asked = false; // this page let the new release in
let reloading = false;
let behind = false; // another window let it in: this page waits for a moment with no form

function letIn() {
  asked = true;
  registration?.waiting?.postMessage('activate');
}

function reload() {
  if (reloading) return;
  reloading = true;
  location.reload();
}

function update() {
  if (behind) reload();
  else letIn();
}

// formless: the page shows nothing the inspector may be typing (not a
// task's page, not the sign-in form).
const formless = () => !!app.user && !location.hash.startsWith('#/tasks/');

function registerServiceWorker() {
  const sw = navigator.serviceWorker;
  if (!sw) return;
  let controller = sw.controller;
  sw.addEventListener('controllerchange', () => {
    // The first worker taking over the first visit is no new release.
    const had = controller;
    controller = sw.controller;
    if (!had) return;
    if (asked || formless()) return reload();
    // Let in from another window of the app, while this one shows a
    // form: it keeps the form, says so, and reloads once it shows none.
    behind = true;
    updateNotice.hidden = false;
  });
  sw.register('/app/sw.js', { scope: '/app/' }).then((reg) => {
    registration = reg;
    const offer = () => {
      if (!reg.waiting || !sw.controller) return;
      updateNotice.hidden = false;
    };
    const watch = (next) => next?.addEventListener('statechange', () => { if (next.state === 'installed') offer(); });
    if (reg.waiting && sw.controller) letIn(); // at start: nothing is open yet
    watch(reg.installing); // an install begun before this page looked
    reg.addEventListener('updatefound', () => watch(reg.installing));
    // A phone keeps the app open for days: look for a release whenever it
    // comes back to the screen.
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible') return;
      if (behind && formless()) reload();
      else if (reg.waiting && sw.controller && formless()) letIn();
      else reg.update().catch(() => {});
    });
  }).catch(() => {});
}

window.addEventListener('hashchange', () => render());
start();
