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

// ofThisRelease says whether a response is a file of this worker's
// release: the server names its shell's version on every file. During a
// rolling deploy another server may answer with another release's file.
const ofThisRelease = (resp) => resp.ok && resp.headers.get('X-Suiji-Shell') === VERSION;

// precache fetches the whole shell (past the HTTP cache) and keeps it only
// if every file is of this release; otherwise the install fails, and the
// browser tries again at its next check.
async function precache() {
  const files = await Promise.all(SHELL.map(async (u) => {
    const resp = await fetch(u, { cache: 'reload' });
    if (!ofThisRelease(resp)) throw new Error(`${u} is not of release ${VERSION}`);
    return [u, resp];
  }));
  const cache = await caches.open(CACHE);
  await Promise.all(files.map(([u, resp]) => cache.put(u, resp)));
}

// Installed, a new release waits for the page to let it in ('activate');
// the first worker (nothing running yet) goes in at once.
self.addEventListener('install', (event) => {
  event.waitUntil(precache());
});

// Active, the release drops the caches of the others — once its own is
// whole (a page of an older release may have emptied it at a sign-out;
// refilled now if the network is there, else the older files stay to
// open the app offline).
self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const whole = async () => (await (await caches.open(CACHE)).keys()).length >= SHELL.length;
    if (!(await whole())) await precache().catch(() => {});
    if (await whole()) for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

// The page lets a waiting release take over.
self.addEventListener('message', (event) => {
  if (event.data === 'activate') self.skipWaiting();
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
// cache emptied by hand) is fetched, and kept if it is of this release.
async function fromShell(key) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key);
  if (cached) return cached;
  try {
    const resp = await fetch(key, { cache: 'no-cache' });
    if (ofThisRelease(resp)) await cache.put(key, resp.clone());
    return resp;
  } catch (err) {
    // Offline with this release's file missing: an older release's copy
    // opens the app rather than nothing.
    const older = await caches.match(key);
    if (older) return older;
    throw err;
  }
}
