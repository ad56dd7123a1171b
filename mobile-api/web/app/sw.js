// The app's service worker: it keeps the app shell (pages, modules,
// styles, icons, the two vendored libraries) in a cache so the app opens
// with no network at all. Files are served from the cache at once and
// refreshed behind it (each refresh is a revalidation: a 304 without a
// body when nothing changed), so the next start has the newest version.
// API requests are not touched: the app keeps the inspector's tasks and
// outbox in IndexedDB itself.
const CACHE = 'suiji-app-shell-v1';
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

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

// After a sign-out (which empties every cache) the app asks for the shell
// again.
self.addEventListener('message', (event) => {
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
  event.respondWith(cacheFirst(event, key));
});

async function cacheFirst(event, key) {
  const cache = await caches.open(CACHE);
  const refresh = fetch(key, { cache: 'no-cache' }).then(async (resp) => {
    if (resp.ok) await cache.put(key, resp.clone());
    return resp;
  });
  const cached = await cache.match(key);
  if (cached) {
    event.waitUntil(refresh.catch(() => {}));
    return cached;
  }
  return refresh;
}
