// The app's service worker: it keeps the app shell (pages, modules,
// styles, icons, the two vendored libraries) in a cache so the app opens
// with no network at all. API requests are not touched: the app keeps the
// inspector's tasks and outbox in IndexedDB itself.
//
// One worker keeps one release of the app, whole. The server writes the
// shell's version (a hash of its files) into VERSION below, so a release
// that changes any file is a new worker: the browser notices it when it
// checks this script (at each start, and when the app asks), installs it
// beside the running one — the new shell fetched into a cache of its own —
// and it waits. Files are served from the running worker's cache and
// never refreshed behind the page, so a page never mixes modules of two
// releases (a task page of the new one under a list of the old). The page
// lets the waiting worker take over when nothing is open — at start, or
// when the inspector taps 更新 — and reloads on it (main.js).
const VERSION = 'dev';
const CACHE = `suiji-app-shell-${VERSION}`;
const SHELL = [
  '/app/', '/app/main.js', '/app/task.js', '/app/store.js', '/app/outbox.js', '/app/evidence.js',
  '/app/sync.js', '/app/held.js', '/app/signature.js', '/app/strings.js', '/app/hash-worker.js', '/app/app.css',
  '/app/manifest.webmanifest', '/app/icon.svg', '/app/icon-192.png',
  '/shared/base.css', '/shared/api.js', '/shared/dom.js', '/shared/refusal.js', '/vendor/idb.js', '/vendor/sha256.umd.min.js',
];
const shell = new Set(SHELL);

async function precache() {
  const cache = await caches.open(CACHE);
  await cache.addAll(SHELL.map((u) => new Request(u, { cache: 'no-cache' })));
}

// Installed, a new release waits for the page to let it in ('activate');
// the first worker (nothing running yet) goes in at once.
self.addEventListener('install', (event) => {
  event.waitUntil(precache());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  // The page lets a waiting release take over.
  if (event.data === 'activate') self.skipWaiting();
  // After a sign-out (which empties every cache) the app asks for the
  // shell again.
  if (event.data === 'precache') event.waitUntil(precache().catch(() => {}));
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // Any page below /app/ is the app's one page.
  const key = req.mode === 'navigate' && url.pathname.startsWith('/app/') ? '/app/' : url.pathname;
  if (!shell.has(key)) return;
  event.respondWith(fromShell(key));
});

// fromShell answers from this release's cache; a file missing there (the
// cache emptied by a sign-out, not yet filled again) is fetched and kept.
async function fromShell(key) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key);
  if (cached) return cached;
  const resp = await fetch(key, { cache: 'no-cache' });
  if (resp.ok) await cache.put(key, resp.clone());
  return resp;
}
