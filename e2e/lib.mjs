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

function chromiumArgs(webgpu) {
  const args = [
    '--headless=new', '--no-sandbox', '--disable-gpu-sandbox', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ];
  args.push(webgpu ? '--enable-unsafe-webgpu' : '--disable-features=WebGPU');
  return { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args, headless: true };
}

/** Headless Chromium (a fresh profile each time); with `webgpu: false`, one without WebGPU. */
export async function launch({ webgpu = true } = {}) {
  return chromium.launch(chromiumArgs(webgpu));
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

export async function usage(page) {
  return Number(await byId(page, 'storage-estimate').getAttribute('data-usage'));
}

/** The conversation on screen: [[role, text], …]. */
export async function chatOnScreen(page) {
  return page.locator('[data-testid="chat-log"] [data-role]').evaluateAll((els) =>
    els.map((el) => [el.dataset.role, el.querySelector('.text').textContent]));
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
  return page.locator('[data-testid="chat-log"] [data-role="assistant"] .text').last().textContent();
}
