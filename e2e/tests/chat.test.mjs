// Chat as users know it, in real Chromium on WebGPU, on a small real model (the qwen2-tiny
// fixture, ChatML template, 128 tokens of context): answers rendered from Markdown with the
// model's own tokens (respelled as Markdown, HTML and a script, streaming into a code fence
// that never closes), copy buttons, regenerate with the same or a new seed, a question
// edited and sent again (the answer equals a fresh run of the edited conversation), the
// system prompt kept with the conversation, and the token count against the context.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT, SLOW, byId, chatOnScreen, chatTurn, launch, open, readGguf, respelled, screenshot, serve,
  waitIdle, waitReady, writeGguf,
} from '../lib.mjs';

const FIXTURE = 'tests/fixtures/qwen2-tiny/model.gguf';
const READY = /model\.gguf · ready$/;
const QUESTION = 'Show me some code';
const SYSTEM = 'You are a helpful assistant. Answer briefly and accurately.';

// The answer's first token becomes this; every other token a line of code, so the fence
// opened here never closes (as while an answer streams).
const HEAD = 'Here is **bold**, *em* and `x = 1`:\n\n- one\n- two\n\n'
  + '| a | b |\n|---|---|\n| 1 | 2 |\n\n'
  + '<img src=x onerror="window.__pwned = true"> <script>window.__pwned = true</script>\n\n'
  + '[docs](https://example.com/docs) [bad](javascript:window.__pwned=true)\n\n'
  + '```js\n';

describe('chat controls and Markdown answers', { timeout: 4 * SLOW }, () => {
  let server, browser, page, errors;
  before(async () => {
    server = await serve();
    browser = await launch();
    ({ page, errors } = await open(browser, server.url));
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await waitReady(page, /SmolLM2.* · ready$/);
    await byId(page, 'model-url-input').fill(`${server.url}fixtures/qwen2-tiny/model.gguf`);
    await byId(page, 'model-url-load').click();
    await waitReady(page, READY);
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });

  /** Sets a sampling input as a user does. */
  const set = (id, value) => byId(page, id).fill(String(value));
  const lastAnswer = () => page.locator('[data-testid="chat-log"] [data-role="assistant"]').last();
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
  const noPanics = () => assert.deepEqual(errors.filter((e) => /panicked|RuntimeError|unreachable/.test(e)), []);

  /** A new chat with `question`, greedy, `n` tokens; the answer's source text. */
  async function freshGreedy(question, n) {
    await byId(page, 'mode-chat').click();
    await byId(page, 'chat-new').click();
    await set('temperature-input', 0);
    await set('repeat-penalty-input', 1);
    return chatTurn(page, question, n);
  }

  test('an answer streams in as Markdown; its HTML stays text; code blocks and answers copy', async () => {
    // The ids the model answers QUESTION with (greedy), read from the predictions view (which
    // stays open for the answer below: capturing, attention runs unsplit, so the same path).
    await byId(page, 'viz-open').click();
    await byId(page, 'viz-tab-predictions').click();
    await freshGreedy(QUESTION, 10);
    const ids = await page.locator('.token.generated').evaluateAll((els) => els.map((e) => Number(e.dataset.id)));
    const promptTokens = (await byId(page, 'tokens-per-second').textContent()).match(/prompt \((\d+) tokens\)/)[1];
    assert.ok(ids.length >= 3, `the fixture answers with some tokens: ${ids}`);
    // Respelled: the answer's tokens whose spelling the prompt does not use (else the prompt
    // would read differently, and so would the answer).
    const vocab = readGguf(readFileSync(join(ROOT, FIXTURE))).meta
      .find((m) => m.key === 'tokenizer.ggml.tokens').value.items;
    const spoken = (t) => t.replace(/Ġ/g, ' ').replace(/Ċ/g, '\n');
    const prompt = `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n${QUESTION}<|im_end|>\n<|im_start|>assistant\n`;
    const spellings = new Map();
    for (const id of ids) {
      if (spellings.has(id) || prompt.includes(spoken(vocab[id]))) continue;
      spellings.set(id, spellings.size === 0 ? HEAD : `line${spellings.size};\n`);
    }
    assert.ok(spellings.size >= 3, `enough tokens to respell: ${ids}`);
    const g = respelled(readFileSync(join(ROOT, FIXTURE)), spellings);
    await byId(page, 'model-file-input').setInputFiles({
      name: 'markdown.gguf', mimeType: 'application/octet-stream', buffer: writeGguf(g),
    });
    await waitReady(page, /markdown\.gguf · ready$/);

    // While it streams: a code block as soon as the fence has opened.
    await byId(page, 'mode-chat').click();
    await byId(page, 'chat-new').click();
    // The new model brought its family's defaults (Qwen's repetition penalty 1.05): greedy
    // and no penalty, as the ids were read.
    await set('temperature-input', 0);
    await set('repeat-penalty-input', 1);
    await set('max-tokens-input', 10);
    await byId(page, 'chat-input').fill(QUESTION);
    await byId(page, 'chat-send').click();
    const seen = [];
    await page.waitForFunction((s) => {
      const el = [...document.querySelectorAll('[data-testid="chat-log"] [data-role="assistant"]')].at(-1);
      const code = el?.querySelector('.markdown pre code');
      if (code) s.push(code.textContent);
      window.__seen = (window.__seen ?? []).concat(code ? [code.textContent] : []);
      return document.querySelector('[data-testid="chat-log"]')?.dataset.busy === 'false' && el?.dataset.text;
    }, seen, { timeout: SLOW, polling: 20 });
    const seenCode = await page.evaluate(() => window.__seen);
    const answer = lastAnswer();
    const text = await answer.getAttribute('data-text');
    console.log(`answer ${JSON.stringify(text)}; code seen while streaming: ${JSON.stringify(seenCode)}`);
    assert.equal((await byId(page, 'tokens-per-second').textContent()).match(/prompt \((\d+) tokens\)/)[1], promptTokens,
      'the prompt reads as before');
    // The same ids, now spelled as Markdown (the others as they were).
    const pieces = ids.map((id) => spellings.get(id)).filter(Boolean);
    let at = 0;
    for (const p of pieces) {
      const found = text.indexOf(p, at);
      assert.ok(found >= at, `${JSON.stringify(p)} in ${JSON.stringify(text)} after ${at}`);
      at = found + p.length;
    }
    const code = text.slice(text.indexOf('```js\n') + 6);
    assert.ok(seenCode.length > 0 && seenCode.every((c) => code.startsWith(c.trimEnd())), 'a growing code block');

    // The structure.
    const md = answer.locator('.markdown');
    assert.equal(await md.locator('strong').textContent(), 'bold');
    assert.equal(await md.locator('em').textContent(), 'em');
    assert.equal(await md.locator('p code').first().textContent(), 'x = 1');
    assert.deepEqual(await md.locator('ul li').allTextContents(), ['one', 'two']);
    assert.deepEqual(await md.locator('table th').allTextContents(), ['a', 'b']);
    assert.deepEqual(await md.locator('table td').allTextContents(), ['1', '2']);
    assert.equal((await md.locator('pre code').textContent()).trimEnd(), code.trimEnd());
    assert.equal(await md.locator('pre code').getAttribute('data-lang'), 'js');
    // Links: the https one opens apart; the javascript: one is no link.
    const links = md.locator('a');
    assert.equal(await links.count(), 1);
    assert.equal(await links.getAttribute('href'), 'https://example.com/docs');
    assert.equal(await links.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await links.getAttribute('target'), '_blank');
    // The HTML is text: no element made, no script ran.
    assert.match(await md.textContent(), /<img src=x onerror="window.__pwned = true"> <script>window.__pwned = true<\/script>/);
    assert.equal(await page.locator('.markdown img, .markdown script').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no script ran');

    // Copy: the code block's code, and the answer's Markdown.
    await md.locator('[data-testid="copy-code"]').click();
    await page.waitForFunction(() => document.querySelector('.markdown [data-testid="copy-code"]')?.textContent === 'Copied');
    assert.equal(await clipboard(), await md.locator('pre code').textContent());
    await answer.locator('[data-testid="copy-answer"]').click();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="copy-answer"]')].at(-1).textContent === 'Copied');
    assert.equal(await clipboard(), text);
    await screenshot(page, 'chat-markdown');
    await byId(page, 'viz-open').click(); // closed
    noPanics();
  });

  test('regenerate draws again: the same seed gives the same answer, a new seed another', async () => {
    await byId(page, 'mode-chat').click();
    await byId(page, 'chat-new').click();
    await set('temperature-input', 1.5);
    await set('top-k-input', 0);
    await set('top-p-input', 1);
    await set('seed-input', 7);
    const first = await chatTurn(page, 'Tell me something', 8);
    await byId(page, 'regenerate-same').click();
    await waitIdle(page, 'chat-log');
    const again = await lastAnswer().getAttribute('data-text');
    assert.equal(again, first, 'the same seed, the same answer');
    const others = new Set();
    for (let i = 0; i < 3; i++) {
      await byId(page, 'regenerate').click();
      await waitIdle(page, 'chat-log');
      others.add(await lastAnswer().getAttribute('data-text'));
    }
    console.log(`first ${JSON.stringify(first)}; regenerated ${JSON.stringify([...others])}`);
    assert.ok([...others].some((t) => t !== first), 'a new seed gives another answer');
    // Still one question and one answer on screen (and saved so).
    assert.deepEqual((await chatOnScreen(page)).map(([r]) => r), ['user', 'assistant']);
    noPanics();
  });

  test('a question edited and sent again is answered as a fresh run of the edited conversation', async () => {
    const a1 = await freshGreedy('First question', 4);
    await chatTurn(page, 'Second question', 4);
    // Edit the second: the first turn's tokens stay in the KV cache.
    const speedOf = () => byId(page, 'tokens-per-second').textContent();
    await page.locator('[data-testid="edit-message"]').nth(1).click();
    await byId(page, 'edit-input').fill('Another question');
    await byId(page, 'edit-send').click();
    await waitIdle(page, 'chat-log');
    const edited = await chatOnScreen(page);
    assert.deepEqual(edited.map(([r]) => r), ['user', 'assistant', 'user', 'assistant']);
    assert.deepEqual(edited[0], ['user', 'First question']);
    assert.deepEqual(edited[1], ['assistant', a1]);
    assert.equal(edited[2][1], 'Another question');
    const reused = Number((await speedOf()).match(/prompt \((\d+) tokens\)/)[1]);
    // The same conversation from nothing.
    await byId(page, 'chat-new').click();
    await chatTurn(page, 'First question', 4);
    await chatTurn(page, 'Another question', 4);
    const fresh = await chatOnScreen(page);
    assert.deepEqual(edited, fresh, 'the edited conversation equals a fresh run of it');
    // A fresh second turn reads as many new tokens as the edit did: both reuse the first turn.
    const freshRead = Number((await speedOf()).match(/prompt \((\d+) tokens\)/)[1]);
    console.log(`prompt tokens read: after the edit ${reused}, fresh second turn ${freshRead}`);
    assert.ok(reused <= freshRead + 2, `the edit reused the cache (${reused} vs ${freshRead})`);
    const total = Number(await byId(page, 'token-count').getAttribute('data-tokens'));
    assert.ok(reused < total, `only the edited part ran (${reused} of ${total})`);

    // Editing the first question drops everything after it.
    await page.locator('[data-testid="edit-message"]').first().click();
    await byId(page, 'edit-input').fill('First question');
    await byId(page, 'edit-send').click();
    await waitIdle(page, 'chat-log');
    assert.deepEqual(await chatOnScreen(page), fresh.slice(0, 2));
    noPanics();
  });

  test('the system prompt is the conversation\'s own, saved with it; the token count warns before the context fills', async () => {
    await byId(page, 'mode-chat').click();
    await byId(page, 'chat-new').click();
    await set('temperature-input', 0);
    await page.locator('.system-prompt summary').click();
    const system = byId(page, 'system-input');
    assert.match(await system.inputValue(), /helpful assistant/);
    await system.fill('Answer in one word.');
    await system.dispatchEvent('change');
    // A long question: the conversation takes more than half the 128-token context.
    const a = await chatTurn(page, `Hi ${'there '.repeat(40)}`, 3);
    const count = Number(await byId(page, 'token-count').getAttribute('data-tokens'));
    assert.ok(count > 68 && count + 4 <= 128, `${count} tokens`);
    assert.match(await byId(page, 'token-count').textContent(), new RegExp(`^${count} of 128 tokens of context$`));
    // Another conversation starts from the default; the first keeps its own.
    await byId(page, 'chat-new').click();
    assert.match(await system.inputValue(), /helpful assistant/);
    await page.locator('[data-testid="chat-list"] li [data-testid="chat-open"]').first().click();
    await page.waitForFunction(() => document.querySelector('[data-testid="system-input"]')?.value === 'Answer in one word.',
      null, { timeout: SLOW });
    assert.deepEqual((await chatOnScreen(page)).at(-1), ['assistant', a]);
    // Near the end of the context: a warning before the answer would overflow it.
    assert.equal(await byId(page, 'context-warning').count(), 0);
    await set('max-tokens-input', 60);
    await byId(page, 'context-warning').waitFor({ timeout: SLOW });
    assert.match(await byId(page, 'context-warning').textContent(),
      new RegExp(`takes ${count} of the 128 tokens of context, and an answer may take 60 more: the next answer will drop the oldest turns`));
    await screenshot(page, 'chat-context-warning');
    await set('max-tokens-input', 4);
    noPanics();
  });
});
