// Benchmark: main-thread time to show the all-heads grid (30 layers × 9 heads of SmolLM2)
// for a 256-token prompt, in headless Chromium on WebGPU (SwiftShader here). Prints figures;
// asserts nothing about speed. Run: npm run bench (after trunk build --release and
// cargo build --bin lantern).
//
// Main-thread time is Chromium's own account (CDP Performance.getMetrics: TaskDuration,
// ScriptDuration) from the click on "All heads" until the grid is drawn: reading 30 layers
// back (heads × 256 × 256 floats each), shrinking them to thumbnails in wasm, drawing.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  ROOT, byId, launch, longestTask, mainThreadMetrics, open, screenshot, serve, waitIdle, waitReady,
} from '../lib.mjs';

const MODEL = join(ROOT, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const LANTERN = process.env.LANTERN_BIN ?? join(ROOT, 'target', 'debug', 'lantern');
const TOKENS = 256;

/** A prompt of exactly TOKENS tokens (the page's capture size), cut word by word. */
function prompt() {
  const words = 'The lantern hung by the door of the old house, and every night the keeper lit it so that travellers on the road could find their way through the dark valley to the village'.split(' ');
  let text = '';
  const count = (t) => JSON.parse(execFileSync(LANTERN, ['tokenize', '--model', MODEL, '--text', t])).ids.length;
  for (let i = 0; ; i++) {
    const next = `${text}${i ? ' ' : ''}${words[i % words.length]}`;
    if (count(next) > TOKENS) return { text, n: count(text) };
    text = next;
  }
}

const server = await serve();
const browser = await launch();
try {
  const { text, n } = prompt();
  const { page } = await open(browser, server.url);
  await waitReady(page);
  const metrics = await mainThreadMetrics(page);
  await byId(page, 'mode-generate').click();
  await byId(page, 'max-tokens-input').fill('1');
  await byId(page, 'temperature-input').fill('0');
  await byId(page, 'prompt-input').fill(text);
  let t0 = Date.now();
  await byId(page, 'generate-button').click();
  await waitIdle(page, 'output');
  console.log(`prompt of ${n} tokens read in ${((Date.now() - t0) / 1e3).toFixed(1)} s (SwiftShader)`);
  await byId(page, 'viz-open').click();
  await longestTask(page);
  for (const run of [1, 2, 3]) {
    // Switch away and back: each switch to "All heads" reads and draws the grid again.
    await byId(page, 'viz-tab-predictions').click();
    await page.waitForTimeout(500);
    const before = await metrics();
    t0 = Date.now();
    await byId(page, 'viz-tab-grid').click();
    await page.waitForFunction((t) => document.querySelector('[data-testid="viz-grid"]')?.dataset.n === t,
      String(TOKENS), { timeout: 120_000 });
    await page.waitForTimeout(100); // the draw effect runs after the data arrives
    const wall = Date.now() - t0;
    const after = await metrics();
    const timing = await byId(page, 'viz-grid-timing').evaluate((el) => ({ ...el.dataset }));
    const task = (after.TaskDuration - before.TaskDuration) * 1e3;
    const script = (after.ScriptDuration - before.ScriptDuration) * 1e3;
    console.log(`run ${run}: grid of 30×9 heads over ${TOKENS} tokens: main thread ${task.toFixed(0)} ms ` +
      `(script ${script.toFixed(0)} ms; in wasm: shrink ${timing.buildMs} ms, draw ${timing.drawMs} ms); ` +
      `longest task ${await longestTask(page)} ms; wall ${wall} ms (includes waiting for the GPU copies)`);
    if (run === 1) await screenshot(page, 'grid-256');
  }
} finally {
  await browser.close();
  server.close();
}
