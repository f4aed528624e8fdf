// The page when the world goes wrong, in real Chromium on WebGPU: a download that breaks
// off, a link to a web page instead of a file, a file cut short, storage that refuses a
// save, the GPU lost in the middle of an answer, and a model whose strings are HTML. Each
// fault gives its own message, keeps the model in use and the conversation on screen, and
// stores nothing half-way.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT, SLOW, byId, chatOnScreen, chatTurn, launch, open, respelled, savedChats, screenshot, serve,
  storedModels, waitIdle, waitReady, writeGguf,
} from '../lib.mjs';

const FIXTURE = 'tests/fixtures/qwen2-tiny/model.gguf';
const READY = /model\.gguf · ready$/;
const PAYLOAD = '<img src=x onerror="window.__pwned = true">';

/** The fixture with token `id` spelled `text`, and `text` in its name and chat template. */
function hostileModel(id, text) {
  const g = respelled(readFileSync(join(ROOT, FIXTURE)), new Map([[id, text]]));
  const get = (key) => g.meta.find((m) => m.key === key);
  get('general.name').value = text;
  get('tokenizer.chat_template').value = `${text}${get('tokenizer.chat_template').value}`;
  return writeGguf(g);
}

// --- the tests ----------------------------------------------------------------------------

describe('the page under faults', { timeout: 4 * SLOW }, () => {
  let server, browser, page, errors;
  before(async () => {
    server = await serve();
    browser = await launch();
    ({ page, errors } = await open(browser, server.url));
    // The page loads the default model first; then the small fixture takes its place.
    await waitReady(page, /SmolLM2.* · ready$/);
    await loadUrl(`${server.url}fixtures/qwen2-tiny/model.gguf`);
    await waitReady(page, READY);
    await chatTurn(page, 'Hello there', 3);
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });

  async function loadUrl(url) {
    await byId(page, 'model-url-input').fill(url);
    await byId(page, 'model-url-load').click();
  }

  /** What the page holds that a fault must leave alone. */
  async function snapshot() {
    await page.waitForFunction(() => document.querySelector('[data-testid="chat-list"] li'), null,
      { timeout: SLOW });
    return { chat: await chatOnScreen(page), saved: await savedChats(page), stored: await storedModels(page) };
  }

  /** Waits for the error `pattern`, checks the model is still loaded and nothing changed
   * (`changed` says what may), dismisses the error, returns its text. */
  async function expectFault(before, pattern, changed = {}) {
    await byId(page, 'error').waitFor({ timeout: SLOW });
    const message = await byId(page, 'error').textContent();
    console.log(`error shown: ${message}`);
    assert.match(message, pattern);
    await waitReady(page, READY);
    const now = await snapshot();
    assert.deepEqual(now.chat, changed.chat ?? before.chat, 'the conversation on screen');
    assert.deepEqual(now.saved, changed.saved ?? before.saved, 'the saved conversations');
    assert.deepEqual(now.stored, before.stored, 'the stored models: nothing half-stored');
    await byId(page, 'error').locator('xpath=..').getByRole('button').click(); // dismiss
    return message;
  }

  test('a download that breaks off half way says so, and keeps nothing', async () => {
    const before = await snapshot();
    await loadUrl(`${server.url}faults/drop/qwen3-tiny/model.gguf`);
    await expectFault(before, /model\.gguf stopped after \d+ of \d+ bytes.*nothing was kept/);
    await screenshot(page, 'fault-download-dropped');
  });

  test('a link to a web page instead of the file says so', async () => {
    const before = await snapshot();
    await loadUrl(`${server.url}faults/html/model.gguf`);
    await expectFault(before, /is a web page \(text\/html\), not the file itself.*resolve\/main/);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });

  test('a file cut short after its header names the file and the cut', async () => {
    const before = await snapshot();
    const bytes = readFileSync(join(ROOT, FIXTURE));
    await byId(page, 'model-file-input').setInputFiles({
      name: 'cut.gguf', mimeType: 'application/octet-stream', buffer: bytes.subarray(0, bytes.length >> 1),
    });
    await expectFault(before, /cut\.gguf: .*past the end of the \d+-byte file \(truncated\?\)/);
  });

  test('storage that refuses a save: the answer stays on screen, the saved copy stays whole', async () => {
    const before = await snapshot();
    // Chromium 156 applies CDP's quota override to OPFS (the model-storage test in
    // offline.test.mjs) but not to IndexedDB (measured: 2 MB records accepted under a 1-byte
    // quota), so the refusal a full disk gives is raised where IndexedDB raises it: the put.
    await page.evaluate(() => {
      window.realPut = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function refuse() {
        throw new DOMException('the disk is full', 'QuotaExceededError');
      };
    });
    try {
      await chatTurn(page, 'And a second question', 3);
      const chat = await chatOnScreen(page);
      assert.equal(chat.length, before.chat.length + 2, 'the new turn is on screen');
      // The saved copy is the one before the refused writes: whole, not half a turn.
      await expectFault(before, /could not save this conversation in the browser.*QuotaExceededError.*stays on screen/,
        { chat });
    } finally {
      await page.evaluate(() => { IDBObjectStore.prototype.put = window.realPut; });
    }
    await screenshot(page, 'fault-storage');
  });

  test('the GPU lost in the middle of an answer: the answer so far stays, the model reloads', async () => {
    // A new conversation: the fixture's context (128 tokens) holds one short turn and answer.
    await byId(page, 'mode-chat').click();
    await byId(page, 'chat-new').click();
    await byId(page, 'max-tokens-input').fill('60');
    await byId(page, 'chat-input').fill('Tell me everything');
    await byId(page, 'chat-send').click();
    const answer = page.locator('[data-testid="chat-log"] [data-role="assistant"]').last();
    await page.waitForFunction(() => {
      const log = document.querySelector('[data-testid="chat-log"]');
      const texts = log?.querySelectorAll('[data-role="assistant"] .text');
      return log?.dataset.busy === 'true' && texts?.length && texts[texts.length - 1].textContent.length > 0;
    }, null, { timeout: SLOW, polling: 50 });
    const cdp = await browser.newBrowserCDPSession();
    await cdp.send('Browser.crashGpuProcess');
    await byId(page, 'device-lost').waitFor({ timeout: SLOW });
    await waitIdle(page, 'chat-log');
    const lost = await byId(page, 'device-lost').textContent();
    console.log(`lost: ${lost}; answer so far ${JSON.stringify(await answer.getAttribute('data-text'))}`);
    // Its own message: the failed read that followed the loss adds no second banner.
    assert.equal(await byId(page, 'error').count(), 0);
    const chat = await chatOnScreen(page);
    assert.deepEqual(chat.at(-2), ['user', 'Tell me everything']);
    assert.ok(chat.at(-1)[1].length > 0, 'the answer so far stays');
    await byId(page, 'reload-model').click();
    await waitReady(page, READY);
    assert.equal(await byId(page, 'device-lost').count(), 0);
    assert.deepEqual(await chatOnScreen(page), chat, 'the conversation is unchanged after the reload');
    await screenshot(page, 'fault-device-lost');
  });

  test('HTML in a model\'s tokens, name, template and file name, and in the chat, is shown as text', async () => {
    // The token the model gives first after this prompt, respelled as HTML.
    await byId(page, 'mode-generate').click();
    await byId(page, 'temperature-input').fill('0');
    await byId(page, 'repeat-penalty-input').fill('1');
    await byId(page, 'max-tokens-input').fill('3');
    await byId(page, 'prompt-input').fill('The lantern');
    await byId(page, 'generate-button').click();
    await waitIdle(page, 'output');
    const [first] = (await byId(page, 'output').getAttribute('data-token-ids')).split(',').map(Number);
    const name = `${PAYLOAD}.gguf`;
    await byId(page, 'model-file-input').setInputFiles({
      name, mimeType: 'application/octet-stream', buffer: hostileModel(first, PAYLOAD),
    });
    await waitReady(page, /onerror.*· ready$/);
    assert.match(await byId(page, 'model-status').textContent(), /<img src=x onerror="window.__pwned = true">\.gguf/);
    // A new model brings its family's sampling defaults: greedy again, as the id was read.
    await byId(page, 'temperature-input').fill('0');
    await byId(page, 'repeat-penalty-input').fill('1');
    await byId(page, 'generate-button').click();
    await waitIdle(page, 'output');
    assert.match(await byId(page, 'output').textContent(), /<img src=x onerror="window\.__pwned = true">/);
    // A new conversation, titled by its first message.
    await byId(page, 'mode-chat').click();
    await byId(page, 'chat-new').click();
    await chatTurn(page, PAYLOAD, 2);
    assert.equal((await chatOnScreen(page)).at(-2)[1], PAYLOAD);
    await page.waitForFunction((p) => [...document.querySelectorAll('[data-testid="chat-list"] li')]
      .some((li) => li.textContent.includes(p)), PAYLOAD, { timeout: SLOW });
    await screenshot(page, 'fault-html');
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no script ran');
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'no element was made from the text');
    assert.deepEqual(errors.filter((e) => /panicked|RuntimeError|unreachable/.test(e)), []);
  });
});
