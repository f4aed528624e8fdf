// Offline: after one visit the page and the default model come back with no network, from
// the service worker's cache and the browser's storage (OPFS), in a browser profile kept
// on disk between launches (as a user's browser keeps its storage).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DIST, SLOW, byId, chatOnScreen, chatTurn, launchProfile, savedChats, screenshot, serve, storedModels,
  usage, waitReady, waitStored,
} from '../lib.mjs';

const DEFAULT = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const DEFAULT_BYTES = 98_362_432;

describe('Lantern offline, after the first visit', { timeout: 4 * SLOW }, () => {
  let server, dir, context, page;
  const start = async () => {
    context = await launchProfile(dir);
    page = context.pages()[0] ?? await context.newPage();
  };
  before(async () => {
    server = await serve();
    dir = mkdtempSync(join(tmpdir(), 'lantern-profile-'));
    await start();
  });
  after(async () => {
    await context?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the first visit loads the default model and keeps it in the browser', async () => {
    await page.goto(server.url);
    await waitReady(page);
    await waitStored(page, DEFAULT);
    const [m] = await storedModels(page);
    assert.equal(m.bytes, DEFAULT_BYTES);
    assert.match(await byId(page, 'storage-note').textContent(), /stored in this browser \(98\.4 MB\)/);
    assert.ok(await usage(page) >= DEFAULT_BYTES, 'the estimate counts the stored file');
    // The service worker has installed this build and controls the page.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    await screenshot(page, 'stored');
  });

  test('a new build replaces the app\'s cache whole, and the page offers to reload', async () => {
    const files = JSON.parse(/const FILES = (\[.*\]);/.exec(readFileSync(join(DIST, 'sw.js'), 'utf8'))[1]);
    // Names first, entries only of a cache that stays: caches.open() makes a cache it does
    // not find, so counting the old build's entries as the new worker deletes it would
    // bring it back (empty), as one CI run saw.
    const names = () => page.evaluate(() => caches.keys());
    const caches = async () => {
      const out = {};
      for (const name of await names()) {
        out[name] = await page.evaluate(async (n) => (await (await caches.open(n)).keys()).length, name);
      }
      return out;
    };
    const before = await caches();
    assert.equal(Object.keys(before).length, 1, 'one build cached');
    assert.deepEqual(Object.values(before), [files.length], `all ${files.length} files of the build`);
    // The server now has a new build (another version in sw.js).
    server.rewrite('/sw.js', (t) => t.replace(/const VERSION = '([0-9a-f]+)'/, "const VERSION = '$1next'"));
    await page.reload();
    await byId(page, 'update-ready').waitFor({ timeout: 60_000 });
    // The new worker deletes the old cache as it activates (after it took over the page).
    for (let i = 0; i < 100 && (await names()).length > 1; i++) {
      await page.waitForTimeout(300);
    }
    const after = await caches();
    console.log(`caches before the update: ${JSON.stringify(before)}; after: ${JSON.stringify(after)}`);
    assert.equal(Object.keys(after).length, 1, 'the old build\'s cache is gone');
    assert.match(Object.keys(after)[0], /next$/);
    assert.deepEqual(Object.values(after), [files.length]);
    await waitReady(page);
  });

  test('offline, a reload brings back the app and the model, and a chat turn works', async () => {
    await context.setOffline(true);
    await page.reload();
    await waitReady(page);
    assert.match(await byId(page, 'storage-note').textContent(), /loaded from this browser's storage/);
    assert.match(await byId(page, 'offline-status').textContent(), new RegExp(`Offline: available here: ${DEFAULT}`));
    const answer = await chatTurn(page, 'Hello!');
    console.log(`offline chat answer: ${JSON.stringify(answer)}`);
    assert.ok(answer.trim().length > 0);
    await screenshot(page, 'offline-chat');
    // The conversation was saved as it happened: a reload (still offline) shows it again.
    const shown = await chatOnScreen(page);
    await page.waitForFunction(() => document.querySelector('[data-testid="chat-list"] li')?.dataset.count === '2');
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="chat-log"] [data-role]').length === 2);
    assert.deepEqual(await chatOnScreen(page), shown);
    const [saved] = await savedChats(page);
    assert.equal(saved.title, 'Hello!');
    await waitReady(page);
  });

  test('a reload in the middle of an answer keeps it up to the last saved piece', async () => {
    await byId(page, 'chat-new').click();
    await byId(page, 'mode-chat').click();
    await byId(page, 'max-tokens-input').fill('40');
    await byId(page, 'chat-input').fill('Tell me a short story about a lantern.');
    await byId(page, 'chat-send').click();
    const answer = page.locator('[data-testid="chat-log"] [data-role="assistant"]').last();
    // At least two saves' worth of pieces (a save every 4).
    await page.waitForFunction(() => {
      const t = [...document.querySelectorAll('[data-testid="chat-log"] [data-role="assistant"] .text')].at(-1);
      return t && t.textContent.split(' ').length >= 9;
    }, null, { timeout: SLOW, polling: 100 });
    const before = await answer.getAttribute('data-text');
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="chat-log"] [data-role]').length === 2);
    const [[, question], [, restored]] = await chatOnScreen(page);
    console.log(`answer on screen before the reload: ${JSON.stringify(before)}; restored: ${JSON.stringify(restored)}`);
    assert.equal(question, 'Tell me a short story about a lantern.');
    assert.ok(restored.length > 0, 'some of the answer was saved');
    assert.ok(before.startsWith(restored) || restored.startsWith(before), 'the restored text is the answer as it streamed');
    assert.equal((await savedChats(page)).length, 2);
    await waitReady(page);
  });

  test('conversations can be renamed, exported as JSON and Markdown, and deleted', async () => {
    const [newest, older] = await savedChats(page);
    await byId(page, `chat-rename-${newest.id}`).click();
    await byId(page, 'chat-title-input').fill('A lantern story');
    await byId(page, 'chat-title-input').press('Enter');
    await page.waitForFunction((id) => document.querySelector(`[data-testid="chat-item-${id}"]`)?.dataset.title === 'A lantern story', newest.id);
    const [json] = await Promise.all([page.waitForEvent('download'), byId(page, `chat-export-json-${newest.id}`).click()]);
    const record = JSON.parse(readFileSync(await json.path(), 'utf8'));
    assert.equal(record.title, 'A lantern story');
    assert.deepEqual(record.messages.map((m) => [m.role, m.text]), await chatOnScreen(page));
    const [md] = await Promise.all([page.waitForEvent('download'), byId(page, `chat-export-md-${newest.id}`).click()]);
    const text = readFileSync(await md.path(), 'utf8');
    assert.match(text, /^# A lantern story\n/);
    assert.match(text, /\*\*You:\*\* Tell me a short story about a lantern\./);
    await screenshot(page, 'conversations');
    await byId(page, `chat-delete-${older.id}`).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="chat-list"] li').length === 1);
    assert.equal((await savedChats(page))[0].id, newest.id);
  });

  test('offline, a model that is not stored gives a clear message and the loaded one stays', async () => {
    await byId(page, 'model-url-input').fill(`${server.url}fixtures/gpt2-tiny-f32`);
    await byId(page, 'model-url-load').click();
    await byId(page, 'error').waitFor();
    const error = await byId(page, 'error').textContent();
    console.log(`error shown: ${error}`);
    assert.match(error, /^You are offline, and http:.*\/fixtures\/gpt2-tiny-f32 is not stored in this browser\. Connect/);
    assert.match(await byId(page, 'model-status').textContent(), new RegExp(`${DEFAULT} · ready$`));
  });

  test('a damaged stored model is noticed, removed and downloaded again', async () => {
    await context.setOffline(false);
    const [m] = await storedModels(page);
    // Four bytes in the middle of the stored file change (its size stays).
    await page.evaluate(async ([key, name]) => {
      const root = await navigator.storage.getDirectory();
      const dir = await (await root.getDirectoryHandle('models')).getDirectoryHandle(key);
      const w = await (await dir.getFileHandle(name)).createWritable({ keepExistingData: true });
      await w.write({ type: 'write', position: 1_000_000, data: new Uint8Array([1, 2, 3, 4]) });
      await w.close();
    }, [m.key, DEFAULT]);
    await page.locator('button', { hasText: 'Load the default model' }).click();
    await page.waitForFunction(() => /could not be used/.test(document.querySelector('[data-testid="storage-note"]')?.textContent),
      null, { timeout: 60_000 });
    const note = await byId(page, 'storage-note').textContent();
    console.log(`note: ${note}`);
    assert.match(note, /^The stored copy of SmolLM2-135M-Instruct\.Q4_1\.gguf could not be used \(its SmolLM2-135M-Instruct\.Q4_1\.gguf does not match its SHA-256: damaged\); it was removed and is downloaded again\.$/);
    await waitReady(page);
    await page.waitForFunction(() => /stored in this browser/.test(document.querySelector('[data-testid="storage-note"]')?.textContent),
      null, { timeout: SLOW });
    await context.setOffline(true);
  });

  test('deleting a stored model frees its space', async () => {
    const before = await usage(page);
    const [m] = await storedModels(page);
    await byId(page, `stored-delete-${m.key}`).click();
    await page.waitForFunction(() => !document.querySelector('[data-testid="stored-models"] li'), null, { timeout: 30_000 });
    await page.waitForFunction((b) => Number(document.querySelector('[data-testid="storage-estimate"]')?.dataset.usage) < b,
      before, { timeout: 30_000 });
    const after = await usage(page);
    console.log(`storage use: ${(before / 1e6).toFixed(1)} MB before deleting, ${(after / 1e6).toFixed(1)} MB after`);
    assert.ok(before - after >= DEFAULT_BYTES * 0.9, 'the model\'s bytes are freed');
  });

  test('a model too large for the storage quota is refused with a message, and the chat stays', async () => {
    await context.setOffline(false);
    const cdp = await context.newCDPSession(page);
    const origin = new URL(server.url).origin;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 20_000_000 });
    // The quota is set back even when a check fails, so that the next test is not failed by it.
    try {
      const chat = await byId(page, 'chat-log').textContent();
      const saved = await savedChats(page);
      assert.ok(chat.length > 0 && saved.length > 0, 'a conversation is on screen and saved');
      await page.locator('button', { hasText: 'Load the default model' }).click();
      await byId(page, 'error').waitFor({ timeout: SLOW });
      const error = await byId(page, 'error').textContent();
      console.log(`error shown: ${error}`);
      assert.match(error, /not enough room to keep SmolLM2-135M-Instruct\.Q4_1\.gguf offline: it needs 98\.4 MB/);
      await waitReady(page);
      assert.equal(await byId(page, 'chat-log').textContent(), chat, 'the conversation on screen is unchanged');
      assert.deepEqual(await savedChats(page), saved, 'and the saved ones too');
      assert.equal((await storedModels(page)).length, 0, 'nothing half-stored');
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    }
    await screenshot(page, 'quota');
  });

  test('a browser closed and opened again with the same profile loads the model offline', async () => {
    // Stored again (the quota is back to normal), then the browser is closed.
    await page.locator('button', { hasText: 'Load the default model' }).click();
    await waitReady(page);
    await waitStored(page, DEFAULT);
    await context.close();
    await start();
    await context.setOffline(true);
    await page.goto(server.url);
    await waitReady(page);
    assert.match(await byId(page, 'storage-note').textContent(), /loaded from this browser's storage/);
    // The newest conversation is back on screen.
    const [[, question]] = await chatOnScreen(page);
    assert.equal(question, 'Tell me a short story about a lantern.');
    assert.equal((await savedChats(page))[0].title, 'A lantern story');
  });

});
