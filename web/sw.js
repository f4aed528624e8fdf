// Lantern's service worker: keeps the app (HTML, JS, wasm, CSS, icons) so that the page
// opens with no network. scripts/sw-precache.sh fills VERSION (a hash of those files) and
// FILES at build time, so each build is one cache, `lantern-<VERSION>`, installed whole
// before it serves anything; the old build's cache is deleted when the new one takes over,
// and a page is always served from one build's cache (never a mix). Models are not here:
// the page keeps them in OPFS (web/storage.js).
const VERSION = '__VERSION__';
const FILES = __FILES__;
const CACHE = `lantern-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(FILES.map((f) => new Request(f, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('lantern-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  // The page itself (any navigation) is this build's index.html; the app's files come from
  // this build's cache; anything else (models, fixtures) goes to the network as usual.
  const scope = new URL(self.registration.scope);
  const path = url.pathname.startsWith(scope.pathname) ? url.pathname.slice(scope.pathname.length) : null;
  const key = req.mode === 'navigate' ? 'index.html' : path;
  if (key === null || !FILES.includes(key)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    return (await cache.match(key)) ?? fetch(req);
  })());
});
