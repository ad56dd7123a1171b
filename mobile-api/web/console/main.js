// The bureau's console: sign-in, the shell (sidebar, user, sign-out) and a
// hash router (#/enterprises, #/plans/ID …), so the server serves one page
// and a reload keeps the place. What each role sees follows the API: a
// view the role may not open says so instead of failing.
import { h, clear } from '../shared/dom.js';
import { createClient, ApiError } from '../shared/api.js';
import { t } from './strings.js';
import { errorText } from './widgets.js';

const REFRESH_KEY = 'suiji.console.refresh';
const store = {
  get: () => sessionStorage.getItem(REFRESH_KEY),
  set: (v) => sessionStorage.setItem(REFRESH_KEY, v),
  remove: () => sessionStorage.removeItem(REFRESH_KEY),
};

const api = createClient({ store, onSignedOut: () => showLogin() });
const root = document.getElementById('root');
document.body.classList.add('console');
document.title = t('app.title');

// Routes: pattern → loader of the view module. Views export
// render(ctx, ...params) returning an element (or a promise of one).
const routes = [
  ['/enterprises', () => import('./views/enterprises.js'), 'nav.enterprises'],
  ['/inspectors', () => import('./views/inspectors.js'), 'nav.inspectors'],
  ['/items', () => import('./views/items.js'), 'nav.items'],
  ['/departments', () => import('./views/departments.js'), 'nav.departments'],
  ['/towns', () => import('./views/towns.js'), 'nav.towns'],
  ['/plans', () => import('./views/plans.js'), 'nav.plans'],
  ['/plans/new', () => import('./views/planform.js'), 'nav.plans'],
  ['/plans/:id/edit', () => import('./views/planform.js'), 'nav.plans'],
  ['/plans/:id', () => import('./views/plan.js'), 'nav.plans'],
  ['/ceremony/:id', () => import('./views/ceremony.js'), 'nav.plans'],
  ['/tasks', () => import('./views/tasks.js'), 'nav.tasks'],
  ['/tasks/:id', () => import('./views/task.js'), 'nav.tasks'],
  ['/stats', () => import('./views/stats.js'), 'nav.stats'],
  ['/audit', () => import('./views/audit.js'), 'nav.audit'],
  ['/users', () => import('./views/users.js'), 'nav.users'],
  ['/calendar', () => import('./views/calendar.js'), 'nav.calendar'],
  ['/inbox', () => import('./views/inbox.js'), 'nav.inbox'],
];

// nav lists the sidebar by group, with the roles that may open each entry
// (the API's route table decides; this only hides what would be refused).
const office = ['coordinator', 'staff'];
const nav = [
  ['nav.group.directory', [
    ['/enterprises', 'nav.enterprises', null],
    ['/inspectors', 'nav.inspectors', [...office, 'leader']],
    ['/items', 'nav.items', null],
    ['/departments', 'nav.departments', null],
    ['/towns', 'nav.towns', null],
  ]],
  ['nav.group.work', [
    ['/inbox', 'nav.inbox', null],
    ['/plans', 'nav.plans', [...office, 'leader']],
    ['/tasks', 'nav.tasks', [...office, 'leader']],
    ['/calendar', 'nav.calendar', [...office, 'leader']],
  ]],
  ['nav.group.oversight', [
    ['/stats', 'nav.stats', ['coordinator', 'leader']],
    ['/audit', 'nav.audit', ['coordinator']],
    ['/users', 'nav.users', ['admin']],
  ]],
];

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const [pattern, load, navKey] of routes) {
    const want = pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = [];
    if (want.every((w, i) => (w.startsWith(':') ? params.push(decodeURIComponent(parts[i])) : w === parts[i]))) {
      return { load, params, navKey, pattern };
    }
  }
  return null;
}

export function navigate(path) {
  if (location.hash === `#${path}`) render();
  else location.hash = path;
}

function showLogin(message) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('p', { class: 'error', role: 'alert', hidden: !message, text: message ?? '' });
  const form = h('form', { class: 'card login', onsubmit: async (e) => {
    e.preventDefault();
    status.hidden = true;
    try {
      await api.login(username.value.trim(), password.value);
      render();
    } catch (err) {
      status.textContent = err instanceof ApiError && err.code === 'EUNAUTHORIZED' ? t('login.bad') : t('login.failed', { message: errorText(err) });
      status.hidden = false;
    }
  } },
  h('h1', { text: t('app.title') }),
  h('div', { class: 'field' }, h('label', { for: 'login-username', text: t('login.username') }), Object.assign(username, { id: 'login-username' })),
  h('div', { class: 'field' }, h('label', { for: 'login-password', text: t('login.password') }), Object.assign(password, { id: 'login-password' })),
  status,
  h('button', { type: 'submit', text: t('login.submit') }));
  clear(root).append(form);
  username.focus();
}

function shell(active) {
  const user = api.user;
  const side = h('nav', { class: 'sidebar', 'aria-label': t('app.title') },
    h('div', { class: 'brand' }, t('app.title'), h('small', { text: t('app.bureau') })),
    nav.map(([group, entries]) => {
      const links = entries.filter(([, , roles]) => !roles || api.hasRole(...roles))
        .map(([path, key]) => h('a', { href: `#${path}`, text: t(key), 'aria-current': key === active ? 'page' : null }));
      return links.length ? [h('h2', { text: t(group) }), links] : null;
    }),
    h('h2', { text: '—' }),
    h('a', { href: '/', target: '_blank', rel: 'noopener', text: t('nav.portal') }));
  const work = h('main', { class: 'work', id: 'work' });
  const top = h('div', { class: 'topbar' },
    h('span', { text: `${user.display_name || user.username}（${user.roles.map((r) => t(`role.${r}`)).join('、')}）` }),
    h('button', { class: 'secondary', type: 'button', text: t('user.logout'), onclick: () => api.logout() }));
  clear(root).append(h('div', { class: 'shell' }, side, h('div', { class: 'work' }, top, work)));
  work.classList.remove('work');
  return work;
}

let renderSeq = 0;
async function render() {
  if (!api.user) {
    if (!(await api.resume())) return showLogin();
  }
  const path = location.hash.replace(/^#/, '').split('?')[0] || '/enterprises';
  const route = match(path) ?? match('/enterprises');
  const seq = ++renderSeq;
  const work = shell(route.navKey);
  work.append(h('p', { class: 'note', text: t('common.loading') }));
  try {
    const mod = await route.load();
    const view = await mod.render({ api, t, navigate, h }, ...route.params);
    if (seq === renderSeq) clear(work).append(view);
  } catch (err) {
    if (seq !== renderSeq) return;
    const forbidden = err instanceof ApiError && err.code === 'EFORBIDDEN';
    clear(work).append(h('p', { class: 'error', role: 'alert', text: forbidden ? t('common.forbidden') : errorText(err) }));
    if (!(err instanceof ApiError)) console.error(err);
  }
}

window.addEventListener('hashchange', render);
render();
