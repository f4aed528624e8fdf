// Benchmark: the page's decode speed beside the native engine's on the same SwiftShader
// (Chromium's own Vulkan ICD), in alternating rounds, with where the page's time goes:
// Chromium's main-thread time per token (CDP Performance.getMetrics) and the speed with
// some of Dawn's safety work off (CHROMIUM_EXTRA_ARGS, e.g.
// "--enable-dawn-features=disable_robustness,disable_workgroup_init"). Prints figures;
// asserts nothing about speed. Run: npm run bench-decode (after trunk build --release and
// cargo build --release --bin lantern).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, generateSpeed, launch, mainThreadMetrics, open, serve, setUpGreedy, waitReady } from '../lib.mjs';

const MODEL = join(ROOT, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const LANTERN = process.env.LANTERN_BIN ?? join(ROOT, 'target', 'release', 'lantern');
const TOKENS = Number(process.env.TOKENS ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PROMPT = 'The capital of France is';
const extraArgs = (process.env.CHROMIUM_EXTRA_ARGS ?? '').split(' ').filter(Boolean);

function native() {
  const out = execFileSync(LANTERN, [
    'bench', '--model', MODEL, '--prompt-tokens', '5', '--gen-tokens', String(TOKENS), '--temperature', '0',
    '--json', '--capture',
  ], { env: { ...process.env, VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json', WGPU_BACKEND: 'vulkan' } });
  return JSON.parse(out).decode_tokens_per_s;
}

const server = await serve();
const browser = await launch({ extraArgs });
try {
  const { page } = await open(browser, server.url);
  await waitReady(page);
  const metrics = await mainThreadMetrics(page);
  await setUpGreedy(page, PROMPT, TOKENS);
  console.log(`${TOKENS} tokens after "${PROMPT}", greedy; Chromium ${extraArgs.join(' ') || '(default flags)'}`);
  for (let round = 1; round <= ROUNDS; round++) {
    const before = await metrics();
    const pageSpeed = await generateSpeed(page);
    const after = await metrics();
    const task = (after.TaskDuration - before.TaskDuration) * 1e3 / TOKENS;
    const script = (after.ScriptDuration - before.ScriptDuration) * 1e3 / TOKENS;
    const nativeSpeed = native();
    console.log(`round ${round}: page ${pageSpeed.toFixed(2)} tokens/s (main thread ${task.toFixed(1)} ms ` +
      `a token, script ${script.toFixed(1)} ms); native --capture ${nativeSpeed.toFixed(2)} tokens/s; ` +
      `page / native = ${(pageSpeed / nativeSpeed).toFixed(2)}`);
  }
} finally {
  await browser.close();
  server.close();
}
