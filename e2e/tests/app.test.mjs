// The page in headless Chromium on WebGPU (SwiftShader), with the real default model:
// it loads, generates the same greedy tokens as the native engine, streams a chat answer,
// stops when asked, refuses a corrupt file without losing the model, and explains a
// browser without WebGPU. Each test saves a screenshot under e2e/screenshots/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ROOT, SLOW, byId, launch, longestTask, open, screenshot, serve, waitIdle, waitReady,
} from '../lib.mjs';

const MODEL = join(ROOT, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const LANTERN = process.env.LANTERN_BIN ?? join(ROOT, 'target', 'debug', 'lantern');
const PROMPT = 'The capital of France is';
const N_TOKENS = 6;

/** The native engine's greedy ids for PROMPT (started at once: it runs beside the browser). */
function nativeIds() {
  assert.ok(existsSync(LANTERN), `${LANTERN} is missing: run cargo build first`);
  return promisify(execFile)(LANTERN, [
    'generate', '--model', MODEL, '--prompt', PROMPT, '--temperature', '0',
    '--max-tokens', String(N_TOKENS), '--json',
  ], { timeout: SLOW }).then(({ stdout }) => JSON.parse(stdout));
}

/** `lantern <command> --model MODEL --prompt PROMPT ...args` natively, as JSON. */
function nativeJson(command, ...args) {
  return promisify(execFile)(LANTERN, [command, '--model', MODEL, '--prompt', PROMPT, ...args],
    { timeout: SLOW }).then(({ stdout }) => JSON.parse(stdout));
}

/** Page coordinates of the centre of heatmap cell (query i, key j). */
async function cellCentre(heat, i, j) {
  const d = await heat.evaluate((el) => ({ ...el.dataset, width: el.width }));
  const box = await heat.boundingBox();
  const scale = box.width / d.width;
  const at = (k) => (Number(d.labels) + (k + 0.5) * Number(d.cell)) * scale;
  return [box.x + at(j), box.y + at(i)];
}

/** The numpy golden file of the GPT-2 fixture the page loads from a URL. */
const gpt2Golden = () =>
  JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/gpt2-tiny-f32/golden.json')));

/** Sets a sampling input the way a user does. */
async function setInput(page, id, value) {
  await byId(page, id).fill(String(value));
}

describe('Lantern page with the default model', { timeout: 4 * SLOW }, () => {
  let server, browser, page, errors;
  before(async () => {
    server = await serve();
    browser = await launch();
    ({ page, errors } = await open(browser, server.url));
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });

  /** Greedy generation in Generate mode: `n` tokens after `prompt`; the generated ids. */
  async function generateGreedy(prompt, n) {
    await byId(page, 'mode-generate').click();
    await setInput(page, 'temperature-input', 0);
    await setInput(page, 'max-tokens-input', n);
    await byId(page, 'prompt-input').fill(prompt);
    await byId(page, 'generate-button').click();
    await waitIdle(page, 'output');
    return (await byId(page, 'output').getAttribute('data-token-ids')).split(',').map(Number);
  }

  test('loads SmolLM2 with a progress bar and shows the device', async () => {
    await byId(page, 'load-progress').waitFor({ timeout: 60_000 });
    const status = await waitReady(page);
    assert.match(status, /SmolLM2-135M-Instruct\.Q4_1\.gguf · ready$/);
    assert.equal(await byId(page, 'load-progress').count(), 0, 'progress bar gone');
    assert.match(await byId(page, 'device-model-memory').textContent(), /MB/);
    // Chromium offers subgroups on SwiftShader (4 lanes, in order), and the page asks for
    // them (vendor/wgpu adds the feature wgpu 30's WebGPU backend lacks): its kernels reduce
    // and share loads in subgroups, as the native engine does.
    const subgroups = await byId(page, 'device-subgroups').textContent();
    console.log(`subgroups: ${subgroups}`);
    assert.match(subgroups, /^used: reductions in subgroups of \d+$/);
    console.log(`longest main-thread task while loading: ${await longestTask(page)} ms`);
    await screenshot(page, 'loaded');
  });

  test('greedy generation streams the ids the native engine makes', async () => {
    const native = nativeIds();
    const ids = await generateGreedy(PROMPT, N_TOKENS);
    const expected = await native;
    console.log(`page ids ${ids}; native ${expected.generated_ids} (${JSON.stringify(expected.text)})`);
    assert.deepEqual(ids, expected.generated_ids);
    assert.ok((await byId(page, 'output').textContent()).endsWith(expected.text));
    assert.match(await byId(page, 'tokens-per-second').textContent(), /tokens/);
    await screenshot(page, 'generate');
  });

  test('the attention view shows the GPU kernel\'s probabilities, as the native engine computes them', async () => {
    const LAYER = 3;
    const native = nativeJson('attention', '--layer', String(LAYER));
    await byId(page, 'viz-open').click();
    await byId(page, 'viz-heatmap').waitFor({ timeout: 60_000 });
    await byId(page, 'viz-layer-select').selectOption(String(LAYER));
    await page.waitForFunction((l) => document.querySelector('[data-testid="viz-heatmap"]')?.dataset.layer === l,
      String(LAYER), { timeout: 60_000 });
    const heat = byId(page, 'viz-heatmap');
    const n = Number(await heat.getAttribute('data-n'));
    const values = (await heat.getAttribute('data-values')).split(',').map(Number);
    const want = (await native).layers[0].heads[0];
    const p = want.length;
    console.log(`attention: page ${n} tokens, native ${p} prompt tokens (${(await native).tokens.join('|')})`);
    assert.equal(n, p + N_TOKENS - 1, 'prompt and generated tokens in the cache');
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const row = values.slice(i * n, (i + 1) * n);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-3, `row ${i} sums to 1`);
      assert.ok(row.slice(i + 1).every((v) => v === 0), `row ${i}: later tokens are masked`);
      if (i < p) for (let j = 0; j < p; j++) worst = Math.max(worst, Math.abs(row[j] - want[i][j]));
    }
    console.log(`attention layer ${LAYER} head 0: worst |page - native| = ${worst}`);
    assert.ok(worst < 2e-3);
    await byId(page, `viz-token-${p - 1}`).hover();
    assert.match(await byId(page, 'viz-token-0').getAttribute('style'), /background/);
    // Values on hover: the cell (query p-1, key 0).
    await page.mouse.move(...(await cellCentre(heat, p - 1, 0)));
    const shown = await byId(page, 'viz-heatmap-value').textContent();
    assert.match(shown, new RegExp(`: ${want[p - 1][0].toFixed(4)}$`), shown);
    await screenshot(page, 'attention');
    // Export: the same numbers as a JSON file.
    const [download] = await Promise.all([page.waitForEvent('download'), byId(page, 'viz-export').click()]);
    const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.equal(exported.layer, LAYER);
    assert.equal(exported.tokens.length, n);
    assert.ok(Math.abs(exported.heads[0][p - 1][0] - want[p - 1][0]) < 2e-3);
  });

  test('the all-heads grid shows every layer × head; a click opens one large', async () => {
    const [LAYER, HEAD] = [5, 2];
    const native = nativeJson('attention', '--layer', String(LAYER));
    await byId(page, 'viz-tab-grid').click();
    const grid = byId(page, 'viz-grid');
    await page.waitForFunction(() => document.querySelector('[data-testid="viz-grid"]')?.dataset.layers,
      null, { timeout: 60_000 });
    const d = await grid.evaluate((el) => ({ ...el.dataset, width: el.width }));
    assert.equal(Number(d.layers), 30);
    assert.equal(Number(d.heads), 9);
    const timing = await byId(page, 'viz-grid-timing').evaluate((el) => ({ ...el.dataset }));
    console.log(`grid of ${d.layers}×${d.heads} over ${d.n} tokens: shrink ${timing.buildMs} ms, draw ${timing.drawMs} ms (main thread)`);
    await screenshot(page, 'grid');
    // Click the centre of thumbnail (LAYER, HEAD).
    const box = await grid.boundingBox();
    const scale = box.width / d.width;
    const [size, gap, margin] = [Number(d.size), Number(d.gap), Number(d.margin)];
    const at = (k) => (margin + k * (size + gap) + size / 2) * scale;
    await grid.click({ position: { x: at(HEAD), y: at(LAYER) } }); // scrolls it into view
    const heat = byId(page, 'viz-heatmap');
    await page.waitForFunction(([l, h]) => {
      const el = document.querySelector('[data-testid="viz-heatmap"]');
      return el?.dataset.layer === l && el?.dataset.head === h;
    }, [String(LAYER), String(HEAD)], { timeout: 60_000 });
    const n = Number(await heat.getAttribute('data-n'));
    const values = (await heat.getAttribute('data-values')).split(',').map(Number);
    const want = (await native).layers[0].heads[HEAD];
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(values[i * n + j] - want[i][j]));
    }
    console.log(`layer ${LAYER} head ${HEAD} opened from the grid: worst |page - native| = ${worst}`);
    assert.ok(worst < 2e-3);
  });

  test('the prediction view shows the candidates of each generated token, as the native engine computes them', async () => {
    // The candidates of the first generated token are the last layer of the logit lens at
    // the prompt's last position: `lantern lens` computes that natively.
    const native = nativeJson('lens');
    await byId(page, 'viz-tab-predictions').click();
    const ids = (await byId(page, 'output').getAttribute('data-token-ids')).split(',').map(Number);
    const p = (await native).ids.length;
    await byId(page, `viz-pred-token-${p}`).click();
    const table = byId(page, 'viz-topk');
    await page.waitForFunction((pos) => document.querySelector('[data-testid="viz-topk"]')?.dataset.pos === pos,
      String(p), { timeout: 10_000 });
    const shown = await table.evaluate((el) => ({ ...el.dataset }));
    const top = shown.ids.split(',').map(Number);
    const probs = shown.probs.split(',').map(Number);
    assert.equal(Number(shown.chosen), ids[0], 'the token clicked is the first generated');
    assert.equal(top[0], ids[0], 'greedy took the most likely candidate');
    assert.ok(probs.every((v, i) => i === 0 || v <= probs[i - 1]), 'most likely first');
    const last = (await native).layers.at(-1);
    assert.deepEqual(top.slice(0, 3), last.ids.slice(0, 3));
    const worst = Math.max(...probs.map((v, i) => Math.abs(v - last.probs[i])));
    console.log(`predictions at position ${p}: ${last.tokens.slice(0, 3).join('|')} p=${probs.slice(0, 3).map((v) => v.toFixed(4))}; worst |page - native| = ${worst}`);
    assert.ok(worst < 2e-3);
    // Generated tokens are shaded by their probability; prompt tokens are not.
    assert.match(await byId(page, `viz-pred-token-${p}`).getAttribute('style'), /background/);
    assert.equal(await byId(page, 'viz-pred-token-0').getAttribute('data-prob'), null);
    await screenshot(page, 'predictions');
  });

  test('the logit lens shows what each layer predicts, as the native engine computes it', async () => {
    const native = nativeJson('lens');
    await byId(page, 'viz-tab-lens').click();
    const p = (await native).ids.length;
    await byId(page, `viz-lens-token-${p - 1}`).click();
    await page.waitForFunction((pos) => document.querySelector('[data-testid="viz-logit-lens"]')?.dataset.pos === pos,
      String(p - 1), { timeout: 60_000 });
    const rows = await page.locator('[data-testid^="viz-lens-row-"]').evaluateAll((els) => els.map((el) => ({ ...el.dataset })));
    const want = (await native).layers;
    assert.equal(rows.length, want.length, 'a row per layer');
    let worst = 0;
    rows.forEach((r, l) => {
      const probs = r.probs.split(',').map(Number);
      probs.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - want[l].probs[i])); });
      assert.equal(Number(r.ids.split(',')[0]), want[l].ids[0], `layer ${l}: top token`);
    });
    console.log(`logit lens at position ${p - 1}: ${want.map((l) => l.tokens[0]).join('|')}; worst |page - native| = ${worst}`);
    assert.ok(worst < 2e-3);
    // Under the hood: the kernel's source is in the page.
    await byId(page, 'viz-source-top_k.wgsl').locator('summary').click();
    assert.match(await byId(page, 'viz-source-top_k.wgsl').textContent(), /@compute/);
    await screenshot(page, 'lens');
    await byId(page, 'viz-tab-attention').click();
    await byId(page, 'viz-open').click(); // closed again: nothing more is read back
  });

  test('a chat answer streams in (the text grows over time)', async () => {
    await byId(page, 'mode-chat').click();
    await setInput(page, 'max-tokens-input', 12);
    await byId(page, 'chat-input').fill('What is the capital of France?');
    await byId(page, 'chat-send').click();
    const answer = page.locator('[data-testid="chat-log"] [data-role="assistant"] .text').last();
    const lengths = new Set();
    while ((await byId(page, 'chat-log').getAttribute('data-busy')) !== 'false' || lengths.size === 0) {
      lengths.add((await answer.textContent()).length);
      await page.waitForTimeout(200);
    }
    const text = await answer.textContent();
    lengths.add(text.length);
    console.log(`chat answer ${JSON.stringify(text)}; lengths seen ${[...lengths]}`);
    assert.ok(text.trim().length > 0, 'non-empty answer');
    assert.ok([...lengths].filter((n) => n > 0).length >= 2, 'the answer grew in several steps');
    assert.equal(await page.locator('[data-testid="chat-log"] [data-role="user"]').count(), 1);
    await screenshot(page, 'chat');
  });

  test('Stop ends a generation and the page answers input meanwhile', async () => {
    await longestTask(page); // from here on
    await byId(page, 'mode-generate').click();
    await setInput(page, 'temperature-input', 0.8);
    await setInput(page, 'max-tokens-input', 200);
    await byId(page, 'prompt-input').fill('Once upon a time');
    await byId(page, 'generate-button').click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="output"]').dataset.tokenIds.split(',').length >= 2,
      null, { timeout: SLOW, polling: 100 });
    // Typing works while it generates.
    await byId(page, 'mode-chat').click();
    await byId(page, 'chat-input').fill('typed while generating');
    assert.equal(await byId(page, 'chat-input').inputValue(), 'typed while generating');
    await byId(page, 'mode-generate').click();
    const t0 = Date.now();
    await byId(page, 'stop-button').click();
    await waitIdle(page, 'output');
    const stopMs = Date.now() - t0;
    const n = (await byId(page, 'output').getAttribute('data-token-ids')).split(',').length;
    const longest = await longestTask(page);
    console.log(`stopped after ${n} tokens, ${stopMs} ms after the click; longest main-thread task ${longest} ms`);
    assert.ok(n < 200, 'stopped before the token limit');
    assert.equal(await byId(page, 'stop-button').isDisabled(), true);
    await screenshot(page, 'stopped');
  });

  // A figure, not a pass/fail: the page's decode speed beside the native engine's on the
  // same SwiftShader (Chromium's own Vulkan ICD), run one after the other.
  test('prints the page\'s decode speed beside the native engine on the same SwiftShader', async () => {
    const n = 16;
    await generateGreedy(PROMPT, n);
    const shown = await byId(page, 'tokens-per-second').textContent();
    const pageSpeed = Number(/([\d.]+) tokens\/s/.exec(shown)[1]);
    const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
    const { stdout } = await promisify(execFile)(LANTERN, [
      'bench', '--model', MODEL, '--prompt-tokens', '5', '--gen-tokens', String(n),
      '--temperature', '0', '--json',
    ], { timeout: SLOW, env: { ...process.env, VK_ICD_FILENAMES: icd, WGPU_BACKEND: 'vulkan' } });
    const native = JSON.parse(stdout);
    console.log(`decode on SwiftShader: page ${pageSpeed.toFixed(2)} tokens/s (${shown}); ` +
      `native ${native.decode_tokens_per_s.toFixed(2)} tokens/s on ${native.adapter}; ` +
      `page / native = ${(pageSpeed / native.decode_tokens_per_s).toFixed(2)}`);
    assert.ok(pageSpeed > 0 && native.decode_tokens_per_s > 0);
    assert.match(native.adapter, /SwiftShader/);
  });

  test('a load can be cancelled, and the loaded model stays', async () => {
    // Forget the copy kept in the browser, so that the model comes from the network again.
    await page.locator('[data-testid^="stored-delete-"]').first().click();
    await page.waitForFunction(() => !document.querySelector('[data-testid="stored-models"] li'));
    // A slow network (real throttling of the browser, 4 MB/s) so there is time to cancel.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: 4e6, uploadThroughput: 4e6,
    });
    await page.getByRole('button', { name: /Load the default model/ }).click();
    await page.waitForFunction(
      () => /Downloading .*%\)$/.test(document.querySelector('[data-testid="load-progress-text"]')?.textContent ?? ''),
      null, { timeout: 60_000, polling: 100 });
    const shown = await byId(page, 'load-progress-text').textContent();
    console.log(`progress before cancelling: ${shown}`);
    await screenshot(page, 'loading');
    await byId(page, 'load-cancel').click();
    await byId(page, 'load-progress').waitFor({ state: 'detached', timeout: 30_000 });
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
    });
    assert.match(await byId(page, 'model-status').textContent(), /SmolLM2.* · ready$/);
    assert.equal(await byId(page, 'error').count(), 0);
  });

  test('a dropped file that is no model is refused by name', async () => {
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['just some notes'], 'notes.txt', { type: 'text/plain' }));
      const zone = document.querySelector('.drop');
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await byId(page, 'error').waitFor({ timeout: 60_000 });
    assert.match(await byId(page, 'error').textContent(), /notes\.txt: not a model/);
    assert.match(await byId(page, 'model-status').textContent(), /SmolLM2.* · ready$/);
    await byId(page, 'error').locator('xpath=..').getByRole('button').click(); // dismiss
  });

  test('a corrupt model file gives a clear error and keeps the loaded model', async () => {
    const junk = Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), Buffer.alloc(40, 0xff)]);
    await byId(page, 'model-file-input').setInputFiles({
      name: 'broken.gguf', mimeType: 'application/octet-stream', buffer: junk,
    });
    await byId(page, 'error').waitFor({ timeout: 60_000 });
    const message = await byId(page, 'error').textContent();
    console.log(`error shown: ${message}`);
    assert.match(message, /broken\.gguf/);
    assert.match(await byId(page, 'model-status').textContent(), /SmolLM2.* · ready$/);
    await screenshot(page, 'corrupt-file');
    assert.deepEqual(errors.filter((e) => /panicked|RuntimeError|unreachable/.test(e)), []);
  });

  test('a GPT-2 checkpoint folder loads from a URL and matches its golden tokens', async () => {
    // tests/fixtures/gpt2-tiny-f32: Hugging Face layout; golden ids from numpy (scripts/).
    const golden = gpt2Golden();
    const { prompt, greedy_ids: expected } = golden.cases[0];
    await byId(page, 'error').locator('xpath=..').getByRole('button').click(); // dismiss
    await byId(page, 'model-url-input').fill(`${server.url}fixtures/gpt2-tiny-f32`);
    await byId(page, 'model-url-load').click();
    await waitReady(page, /gpt2-tiny-f32 · ready$/);
    const ids = await generateGreedy(prompt, expected.length);
    assert.deepEqual(ids, expected);
    assert.equal(await byId(page, 'error').count(), 0);
    // Its attention in the view equals the native engine's (last layer, head 1).
    const fixtureDir = join(ROOT, 'tests/fixtures/gpt2-tiny-f32');
    const native = await promisify(execFile)(LANTERN, ['attention', '--model', fixtureDir, '--prompt', prompt],
      { timeout: SLOW }).then(({ stdout }) => JSON.parse(stdout));
    const layer = native.layers.length - 1;
    await byId(page, 'viz-open').click();
    await byId(page, 'viz-layer-select').selectOption(String(layer));
    await byId(page, 'viz-head-toggle-0').click(); // off: head 1 is the first shown
    await page.waitForFunction((l) => {
      const el = document.querySelector('[data-testid="viz-heatmap"]');
      return el?.dataset.layer === l && el?.dataset.head === '1';
    }, String(layer), { timeout: 60_000 });
    const heat = byId(page, 'viz-heatmap');
    const n = Number(await heat.getAttribute('data-n'));
    const values = (await heat.getAttribute('data-values')).split(',').map(Number);
    const want = native.layers[layer].heads[1];
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(values[i * n + j] - want[i][j]));
    }
    console.log(`GPT-2 fixture layer ${layer} head 1: worst |page - native| = ${worst}`);
    assert.ok(worst < 2e-3);
    await screenshot(page, 'gpt2-attention');
    await byId(page, 'viz-open').click();
  });

  test('GGUF files of other architectures load by URL: Gemma 3 shows its sliding window, a GPT-2 GGUF is a base model', async () => {
    // tests/fixtures/gemma3-tiny: a random Gemma 3 (window 5 on two of three layers), golden
    // ids from llama.cpp (scripts/make_gguf_fixtures.py).
    const fixture = (name) => JSON.parse(readFileSync(join(ROOT, `tests/fixtures/${name}/golden.json`)));
    const { prompt, greedy_ids: expected } = fixture('gemma3-tiny').cases[0];
    await byId(page, 'model-url-input').fill(`${server.url}fixtures/gemma3-tiny/model.gguf`);
    await byId(page, 'model-url-load').click();
    await waitReady(page, /model\.gguf · ready$/);
    assert.equal(await byId(page, 'model-architecture').textContent(), 'Gemma 3');
    assert.match(await byId(page, 'model-tokenizer').textContent(), /byte-level BPE, GPT-2 pre-tokenizer/);
    assert.equal(await byId(page, 'model-chat').textContent(), 'its own chat template');
    assert.equal(await byId(page, 'base-model-note').count(), 0);
    const ids = await generateGreedy(prompt, expected.length);
    assert.deepEqual(ids, expected);
    // Layer 0 is local: each query sees only its last 5 keys, in the page as natively.
    const dir = join(ROOT, 'tests/fixtures/gemma3-tiny');
    const native = await promisify(execFile)(LANTERN, ['attention', '--model', dir, '--prompt', prompt],
      { timeout: SLOW }).then(({ stdout }) => JSON.parse(stdout));
    await byId(page, 'viz-open').click();
    await byId(page, 'viz-layer-select').selectOption('0');
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="viz-heatmap"]');
      return el?.dataset.layer === '0' && el?.dataset.head === '0';
    }, null, { timeout: 60_000 });
    const heat = byId(page, 'viz-heatmap');
    const n = Number(await heat.getAttribute('data-n'));
    const values = (await heat.getAttribute('data-values')).split(',').map(Number);
    const want = native.layers[0].heads[0];
    let worst = 0;
    let outside = 0;
    for (let i = 0; i < want.length; i++) {
      for (let j = 0; j <= i; j++) {
        worst = Math.max(worst, Math.abs(values[i * n + j] - want[i][j]));
        if (i - j >= 5) outside = Math.max(outside, values[i * n + j]);
      }
    }
    console.log(`Gemma 3 fixture layer 0 head 0: worst |page - native| = ${worst}, largest outside the window ${outside}`);
    assert.ok(worst < 2e-3);
    assert.equal(outside, 0);
    assert.ok(values[(want.length - 1) * n + want.length - 1] > 0);
    await screenshot(page, 'gemma3-sliding-window');
    await byId(page, 'viz-open').click();
    // A GPT-2 in GGUF without a chat template: the page says it is a base model.
    await byId(page, 'model-url-input').fill(`${server.url}fixtures/gpt2-gguf/model.gguf`);
    await byId(page, 'model-url-load').click();
    await waitReady(page, /model\.gguf · ready$/);
    assert.equal(await byId(page, 'model-architecture').textContent(), 'GPT-2');
    assert.equal(await byId(page, 'model-info').getAttribute('data-base'), 'true');
    await byId(page, 'mode-chat').click();
    assert.match(await byId(page, 'base-model-note').textContent(), /base model/);
    await byId(page, 'mode-generate').click();
    assert.equal(await byId(page, 'error').count(), 0);
    // Back to the GPT-2 fixture and its prompt, where the next test expects them.
    const gpt2 = gpt2Golden().cases[0];
    await byId(page, 'model-url-input').fill(`${server.url}fixtures/gpt2-tiny-f32`);
    await byId(page, 'model-url-load').click();
    await waitReady(page, /gpt2-tiny-f32 · ready$/);
    // A new model brought its family's sampling defaults: greedy, for the golden ids below.
    await setInput(page, 'temperature-input', 0);
    await setInput(page, 'max-tokens-input', gpt2.greedy_ids.length);
    await byId(page, 'prompt-input').fill(gpt2.prompt);
  });

  test('the loader suggests real models with their size and whether they fit', async () => {
    const items = byId(page, 'suggested-models').locator('li');
    assert.equal(await items.count(), 5);
    const text = await byId(page, 'suggested-models').textContent();
    for (const name of ['SmolLM2 360M Instruct', 'Qwen2.5 0.5B Instruct', 'Gemma 3 270M', 'Gemma 3 1B', 'Llama 3.2 1B Instruct']) {
      assert.ok(text.includes(name), name);
    }
    const first = byId(page, 'suggested-0');
    assert.match(await first.getAttribute('data-url'), /^https:\/\/huggingface\.co\/.*Q4_K_M\.gguf$/);
    assert.match(await byId(page, 'suggested-0-fit').textContent(), /^(fits|may not fit)/);
    console.log(`suggestions (budget ${await byId(page, 'suggested-models').getAttribute('data-budget')} bytes): ${text}`);
  });

  test('a lost GPU device is reported; the model reloads and the chat on screen stays', async () => {
    const chatBefore = await byId(page, 'chat-log').textContent();
    assert.match(chatBefore, /Paris/);
    // A real loss: Chromium's GPU process dies (as when a driver crashes).
    const cdp = await browser.newBrowserCDPSession();
    await cdp.send('Browser.crashGpuProcess');
    await byId(page, 'device-lost').waitFor({ timeout: 60_000 });
    console.log(`lost: ${await byId(page, 'device-lost').textContent()}`);
    await screenshot(page, 'device-lost');
    assert.equal(await byId(page, 'generate-button').isDisabled(), true);
    await byId(page, 'reload-model').click();
    await waitReady(page, /gpt2-tiny-f32 · ready$/);
    assert.equal(await byId(page, 'device-lost').count(), 0);
    assert.equal(await byId(page, 'chat-log').textContent(), chatBefore);
    const golden = gpt2Golden();
    await byId(page, 'generate-button').click();
    await waitIdle(page, 'output');
    const ids = (await byId(page, 'output').getAttribute('data-token-ids')).split(',').map(Number);
    assert.deepEqual(ids, golden.cases[0].greedy_ids);
  });

  test('the real Gemma 3 270M Q4_K_M file runs in the page: its greedy tokens are the golden ones', async () => {
    // models/gemma-3-270m-q4_k_m.gguf (scripts/fetch-gemma.sh), served from the same origin;
    // golden tokens from tests/data/gemma3_golden.json (numpy and llama.cpp).
    const golden = JSON.parse(readFileSync(join(ROOT, 'tests/data/gemma3_golden.json')));
    const { text, greedy_ids: expected } = golden.cases[0];
    await byId(page, 'model-url-input').fill(`${server.url}models/gemma-3-270m-q4_k_m.gguf`);
    await byId(page, 'model-url-load').click();
    await waitReady(page, /gemma-3-270m-q4_k_m\.gguf · ready$/);
    assert.equal(await byId(page, 'model-architecture').textContent(), 'Gemma 3');
    assert.match(await byId(page, 'model-tokenizer').textContent(), /SentencePiece/);
    assert.equal(await byId(page, 'model-info').getAttribute('data-base'), 'true');
    console.log(`Gemma 3 on the GPU: ${await byId(page, 'device-model-memory').textContent()}`);
    const ids = await generateGreedy(text, expected.length);
    console.log(`Gemma 3 in the page: ${JSON.stringify(await byId(page, 'output').textContent())} (${await byId(page, 'tokens-per-second').textContent()})`);
    assert.deepEqual(ids, expected);
    assert.equal(await byId(page, 'error').count(), 0);
  });
});

describe('a browser without WebGPU', () => {
  test('shows what to do instead of a blank page', async () => {
    const server = await serve();
    const browser = await launch({ webgpu: false });
    try {
      const { page, errors } = await open(browser, server.url);
      await byId(page, 'no-webgpu').waitFor({ timeout: 60_000 });
      const text = await byId(page, 'no-webgpu').textContent();
      assert.match(text, /needs WebGPU/);
      assert.match(text, /enable-unsafe-webgpu/);
      await screenshot(page, 'no-webgpu');
      assert.deepEqual(errors.filter((e) => /panicked|RuntimeError|unreachable/.test(e)), []);
    } finally {
      await browser.close();
      server.close();
    }
  });
});
