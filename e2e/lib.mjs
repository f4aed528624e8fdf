// What every browser test needs: the built page served on loopback, a headless Chromium
// with WebGPU (SwiftShader), screenshots, and the page's automation hooks.
import { createServer } from 'node:http';
import { createReadStream, mkdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..');
export const DIST = join(ROOT, 'dist');
export const SHOTS = join(ROOT, 'e2e', 'screenshots');
// Loading SmolLM2 and running it on SwiftShader (a CPU) takes minutes, not seconds.
export const SLOW = 10 * 60 * 1000;

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png',
};

const FIXTURES = join(ROOT, 'tests', 'fixtures');

/** Serves `dir` (the Trunk build) on a free loopback port, and the small test checkpoints
 * of tests/fixtures under /fixtures/. `server.rewrite(path, f)` makes it serve the file at
 * `path` (e.g. '/sw.js') as f(its text) from then on: a new build, for the update test. */
export async function serve(dir = DIST) {
  const rewrites = new Map();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path.startsWith('/faults/')) { fault(path, res); return; }
    const [base, rest] = path.startsWith('/fixtures/') ? [FIXTURES, path.slice(9)] : [dir, path];
    let file = normalize(join(base, rest));
    if (!file.startsWith(base)) { res.writeHead(403).end(); return; }
    if (rewrites.has(path)) {
      const body = rewrites.get(path)(readFileSync(file, 'utf8'));
      res.writeHead(200, { 'content-type': TYPES[extname(file)], 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const size = statSync(file).size;
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': size,
      });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => server.close(),
    rewrite: (path, f) => rewrites.set(path, f),
  };
}

/** The network going wrong, for the fault tests:
 * - /faults/drop/<fixture path>: the file's full length announced, half of it sent, then the
 *   connection dropped;
 * - /faults/html/<name>: a server's error page, answered 200 as text/html. */
function fault(path, res) {
  const [, , kind, ...rest] = path.split('/');
  if (kind === 'drop') {
    const bytes = readFileSync(normalize(join(FIXTURES, rest.join('/'))));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
    res.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => res.socket.destroy(), 200));
    return;
  }
  const page = '<!DOCTYPE html><html><body><h1>Something went wrong</h1>'
    + '<img src=x onerror="window.__pwned = true"></body></html>';
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
}

function chromiumArgs(webgpu, extraArgs = []) {
  const args = [...extraArgs,
    '--headless=new', '--no-sandbox', '--disable-gpu-sandbox', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ];
  args.push(webgpu ? '--enable-unsafe-webgpu' : '--disable-features=WebGPU');
  return { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args, headless: true };
}

/** Headless Chromium (a fresh profile each time); with `webgpu: false`, one without WebGPU;
 * `extraArgs`: more command-line flags (for benchmarks). */
export async function launch({ webgpu = true, extraArgs = [] } = {}) {
  return chromium.launch(chromiumArgs(webgpu, extraArgs));
}

/** Headless Chromium with WebGPU on the profile in `dir` (kept between launches, as a
 * user's browser keeps its storage): a browser context. */
export async function launchProfile(dir) {
  return chromium.launchPersistentContext(dir, {
    ...chromiumArgs(true),
    viewport: { width: 1280, height: 900 },
  });
}

/**
 * Saves a screenshot under e2e/screenshots/ (an artifact, not a check). Capture can fail for
 * a moment while Chromium's GPU process restarts (after the device-loss test crashes it):
 * it is retried, and a capture that still fails is reported, not a test failure.
 */
export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    try {
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
      return;
    } catch (e) {
      if (attempt === 3) {
        console.log(`screenshot ${name} not saved: ${e.message.split('\n')[0]}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export const byId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** Waits until the page says a model is ready (the status matches `pattern`), and returns
 * the status text. */
export async function waitReady(page, pattern = /ready$/) {
  await page.waitForFunction(
    (re) => new RegExp(re).test(document.querySelector('[data-testid="model-status"]')?.textContent.trim() ?? ''),
    pattern.source, { timeout: SLOW, polling: 250 });
  return byId(page, 'model-status').textContent();
}

/** Waits until no generation runs. */
export async function waitIdle(page, testid) {
  await page.waitForFunction(
    (id) => document.querySelector(`[data-testid="${id}"]`)?.dataset.busy === 'false',
    testid, { timeout: SLOW, polling: 250 });
}

/** Opens the page, collecting console errors (the page must not panic) and long tasks. */
export async function open(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  // Main-thread tasks over 50 ms (the page's responsiveness), from the first moment.
  await page.addInitScript(() => {
    window.longTasks = [];
    new PerformanceObserver((l) => l.getEntries().forEach((e) => window.longTasks.push(e.duration)))
      .observe({ type: 'longtask', buffered: true });
  });
  await page.goto(url);
  return { page, errors };
}

/** The longest main-thread task since the last call, in ms (0: none over 50 ms). */
export async function longestTask(page) {
  return page.evaluate(() => Math.max(0, ...window.longTasks.splice(0)));
}

/** The stored models as the page lists them: [{key, name, bytes}]. */
export async function storedModels(page) {
  return page.locator('[data-testid="stored-models"] li').evaluateAll((els) => els.map((el) => ({
    key: el.dataset.testid.replace('stored-model-', ''), name: el.dataset.name, bytes: Number(el.dataset.bytes),
  })));
}

export async function waitStored(page, name) {
  await page.waitForFunction((n) => [...document.querySelectorAll('[data-testid="stored-models"] li')]
    .some((el) => el.dataset.name === n), name, { timeout: SLOW, polling: 250 });
}

/** Chromium's own account of the page's main thread (CDP Performance.getMetrics): a
 * function that returns the metrics now ({TaskDuration, ScriptDuration, …}, in seconds). */
export async function mainThreadMetrics(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  return async () => Object.fromEntries(
    (await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
}

/** Sets the page's Generate mode to `tokens` greedy tokens after `prompt` (the benches). */
export async function setUpGreedy(page, prompt, tokens) {
  await byId(page, 'mode-generate').click();
  await byId(page, 'temperature-input').fill('0');
  await byId(page, 'max-tokens-input').fill(String(tokens));
  await byId(page, 'prompt-input').fill(prompt);
}

/** Generates once with the page's settings: the decode speed it shows, in tokens/s. */
export async function generateSpeed(page) {
  await byId(page, 'generate-button').click();
  await waitIdle(page, 'output');
  const shown = await byId(page, 'tokens-per-second').textContent();
  return Number(/([\d.]+) tokens\/s/.exec(shown)[1]);
}

export async function usage(page) {
  return Number(await byId(page, 'storage-estimate').getAttribute('data-usage'));
}

/** The conversation on screen: [[role, text], …], each text as written (an answer's
 * Markdown source, not what it renders to). */
export async function chatOnScreen(page) {
  return page.locator('[data-testid="chat-log"] [data-role]').evaluateAll((els) =>
    els.map((el) => [el.dataset.role, el.dataset.text]));
}

/** The saved conversations as the sidebar lists them: [{id, title, count}]. */
export async function savedChats(page) {
  return page.locator('[data-testid="chat-list"] li').evaluateAll((els) => els.map((el) => ({
    id: el.dataset.testid.replace('chat-item-', ''), title: el.dataset.title, count: Number(el.dataset.count),
  })));
}

/** Sends a chat message and waits for the whole answer; returns it. */
export async function chatTurn(page, text, maxTokens = 4) {
  await byId(page, 'mode-chat').click();
  await byId(page, 'max-tokens-input').fill(String(maxTokens));
  await byId(page, 'chat-input').fill(text);
  await byId(page, 'chat-send').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="chat-log"]')?.dataset.busy === 'false'
    && document.querySelector('[data-testid="chat-log"] [data-role="assistant"]'), null, { timeout: SLOW, polling: 250 });
  return page.locator('[data-testid="chat-log"] [data-role="assistant"]').last().getAttribute('data-text');
}

// --- a GGUF's metadata, rewritten (the tensors' bytes stay as they are) --------------------

const SIZES = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** The metadata of GGUF `bytes` as [{key, type, value}] (strings decoded, arrays as
 * {elem, items}, other values as raw bytes), and where the tensor infos and data lie. */
export function readGguf(bytes) {
  let pos = 24;
  const u32 = () => { const v = bytes.readUInt32LE(pos); pos += 4; return v; };
  const u64 = () => { const v = Number(bytes.readBigUInt64LE(pos)); pos += 8; return v; };
  const str = () => { const n = u64(); const s = bytes.toString('utf8', pos, pos + n); pos += n; return s; };
  const value = (type) => {
    if (type === 8) return str();
    if (type === 9) {
      const elem = u32();
      const n = u64();
      return { elem, items: Array.from({ length: n }, () => value(elem)) };
    }
    const raw = bytes.subarray(pos, pos + SIZES[type]);
    pos += SIZES[type];
    return raw;
  };
  const nTensors = Number(bytes.readBigUInt64LE(8));
  const nKv = Number(bytes.readBigUInt64LE(16));
  const meta = [];
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = u32();
    meta.push({ key, type, value: value(type) });
  }
  const infosStart = pos;
  for (let i = 0; i < nTensors; i++) {
    str();
    const dims = u32();
    pos += 8 * dims + 12;
  }
  return { meta, nTensors, infos: bytes.subarray(infosStart, pos), data: bytes.subarray(pos + (-pos & 31)) };
}

export function writeGguf({ meta, nTensors, infos, data }) {
  const parts = [];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const str = (s) => { const b = Buffer.from(s, 'utf8'); u64(b.length); parts.push(b); };
  const value = (type, v) => {
    if (type === 8) str(v);
    else if (type === 9) { u32(v.elem); u64(v.items.length); v.items.forEach((x) => value(v.elem, x)); }
    else parts.push(v);
  };
  parts.push(Buffer.from('GGUF'));
  u32(3); u64(nTensors); u64(meta.length);
  for (const { key, type, value: v } of meta) { str(key); u32(type); value(type, v); }
  parts.push(infos);
  const head = Buffer.concat(parts);
  return Buffer.concat([head, Buffer.alloc(-head.length & 31), data]);
}

/** GGUF `bytes` (read) with tokens respelled: `spellings` maps ids to new texts. The merges
 * that made or used an old spelling are dropped; the weights are untouched, so the model picks
 * the same ids, which now read as the new texts. */
export function respelled(bytes, spellings) {
  const g = readGguf(bytes);
  const get = (key) => g.meta.find((m) => m.key === key);
  const tokens = get('tokenizer.ggml.tokens').value.items;
  const old = new Set();
  for (const [id, text] of spellings) {
    old.add(tokens[id]);
    tokens[id] = text;
  }
  const merges = get('tokenizer.ggml.merges').value;
  merges.items = merges.items.filter((m) => {
    const [a, b] = m.split(' ');
    return !old.has(a) && !old.has(b) && !old.has(a + b);
  });
  return g;
}

