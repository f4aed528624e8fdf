// What Lantern keeps in the browser, for the page's Rust code (src/app/store.rs for
// models, src/app/history.rs for conversations). Models' files in the Origin Private File System (OPFS), one directory per model with a
// meta.json written last (a directory without one is an interrupted store, removed when
// listed). OPFS rather than the Cache API or IndexedDB: it is made for large binary files,
// writes them as streams without a second copy, and its space is counted and freed per file.

const MODELS = 'models';

async function modelsDir() {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(MODELS, { create: true });
}

async function sha256(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** {usage, quota} in bytes, and whether storage is persistent. */
export async function estimate() {
  const { usage = 0, quota = 0 } = await navigator.storage.estimate();
  const persisted = navigator.storage.persisted ? await navigator.storage.persisted() : false;
  return { usage, quota, persisted };
}

/** Asks the browser not to evict Lantern's storage; true when granted. */
export async function persist() {
  return navigator.storage.persist ? navigator.storage.persist() : false;
}

/** An error whose message says what happened, with the numbers: `free` is what the
 * estimate says is left, or null when the browser refused a write the estimate allowed. */
function quotaError(name, need, free) {
  const mb = (b) => (b / 1e6).toFixed(1);
  const room = free === null
    ? 'the browser refused to store more for this site (quota exceeded)'
    : `this browser allows ${mb(Math.max(free, 0))} MB more for this site`;
  const e = new Error(`not enough room to keep ${name} offline: it needs ${mb(need)} MB and ${room}. `
    + 'It stays loaded for this visit; delete stored models or free disk space to keep it.');
  return e;
}

/**
 * Stores a model's files (names[i] ↔ files[i], Uint8Arrays) under `key` with `meta`
 * ({name, source}); adds sizes and SHA-256 hashes to meta. Checks the quota first and
 * removes what it wrote if anything fails.
 */
export async function storeModel(key, meta, names, files) {
  const need = files.reduce((n, f) => n + f.byteLength, 0);
  const { usage, quota } = await estimate();
  if (quota - usage < need) throw quotaError(meta.name, need, quota - usage);
  const dir = await modelsDir();
  await dir.removeEntry(key, { recursive: true }).catch(() => {});
  const sub = await dir.getDirectoryHandle(key, { create: true });
  try {
    const entries = [];
    for (let i = 0; i < names.length; i++) {
      const handle = await sub.getFileHandle(names[i], { create: true });
      const w = await handle.createWritable();
      // The file's whole size is reserved first: past the quota, a truncate fails with a
      // QuotaExceededError, where a write streaming the bytes can instead fail with an
      // AbortError ("Failed to write data to data pipe") when Chromium's storage side
      // closes the stream first. The estimate above is only a first look (under a quota
      // set by DevTools, Chromium's estimate still reports its default one).
      await w.truncate(files[i].byteLength);
      await w.seek(0);
      await w.write(files[i]);
      await w.close();
      entries.push({ name: names[i], size: files[i].byteLength, sha256: await sha256(files[i]) });
    }
    const full = { ...meta, key, files: entries, bytes: need, stored: Date.now() };
    const w = await (await sub.getFileHandle('meta.json', { create: true })).createWritable();
    await w.write(JSON.stringify(full));
    await w.close();
    return full;
  } catch (e) {
    await dir.removeEntry(key, { recursive: true }).catch(() => {});
    if (e.name === 'QuotaExceededError') throw quotaError(meta.name, need, null);
    throw new Error(`could not keep ${meta.name} offline: the browser's storage failed (${e.name}: ${e.message}). `
      + 'It stays loaded for this visit; load it again to retry storing it.');
  }
}

/** The stored models' meta, newest first. */
export async function listModels() {
  const dir = await modelsDir();
  const out = [];
  for await (const [key, handle] of dir.entries()) {
    if (handle.kind !== 'directory') continue;
    try {
      const file = await (await handle.getFileHandle('meta.json')).getFile();
      out.push(JSON.parse(await file.text()));
    } catch {
      await dir.removeEntry(key, { recursive: true }).catch(() => {}); // interrupted store
    }
  }
  return out.sort((a, b) => b.stored - a.stored);
}

/** A stored model's files as {names, files}, each checked against its size and hash. */
export async function readModel(key) {
  const sub = await (await modelsDir()).getDirectoryHandle(key);
  const meta = JSON.parse(await (await (await sub.getFileHandle('meta.json')).getFile()).text());
  const names = [];
  const files = [];
  for (const f of meta.files) {
    const bytes = new Uint8Array(await (await (await sub.getFileHandle(f.name)).getFile()).arrayBuffer());
    if (bytes.byteLength !== f.size) {
      throw new Error(`its ${f.name} has ${bytes.byteLength} bytes, not ${f.size}: damaged`);
    }
    if (await sha256(bytes) !== f.sha256) {
      throw new Error(`its ${f.name} does not match its SHA-256: damaged`);
    }
    names.push(f.name);
    files.push(bytes);
  }
  return { names, files };
}

export async function deleteModel(key) {
  await (await modelsDir()).removeEntry(key, { recursive: true });
}

// Conversations: IndexedDB database "lantern", store "chats", one record per conversation
// ({id, title, created, updated, model, messages: [{role, text}]}), written whole on each
// save (small; IndexedDB runs the writes in the order they were made).

let dbPromise = null;

function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open('lantern', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('chats', { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => { dbPromise = null; reject(req.error); };
  });
  return dbPromise;
}

async function chats(mode, work) {
  const store = (await db()).transaction('chats', mode).objectStore('chats');
  return new Promise((resolve, reject) => {
    const req = work(store);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.transaction.onabort = () => reject(req.transaction.error ?? new Error('the save was aborted'));
  });
}

export async function saveChat(record) {
  await chats('readwrite', (s) => s.put(record));
}

/** Every conversation without its messages ({id, title, updated, count}), newest first. */
export async function listChats() {
  const all = await chats('readonly', (s) => s.getAll());
  return all
    .map(({ id, title, updated, messages }) => ({ id, title, updated, count: messages.length }))
    .sort((a, b) => b.updated - a.updated);
}

export async function loadChat(id) {
  const r = await chats('readonly', (s) => s.get(id));
  if (!r) throw new Error(`no conversation ${id}`);
  return r;
}

export async function deleteChat(id) {
  await chats('readwrite', (s) => s.delete(id));
}
