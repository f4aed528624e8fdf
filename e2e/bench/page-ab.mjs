// Benchmark: two builds of the page against each other, in one headless Chromium (WebGPU on
// SwiftShader), each in its own tab and origin, generating in alternating rounds (the order
// swapped every round, so a drift of the shared machine weighs on both alike). Prints each
// round's tokens/s and the ratio of the medians; asserts nothing about speed. Build the
// other one first, e.g. in a worktree of another commit: `trunk build --release --dist
// /tmp/base-dist`. Run: npm run bench-page-ab -- /tmp/base-dist ../dist (TOKENS, ROUNDS).
import { generateSpeed, launch, open, serve, setUpGreedy, waitReady } from '../lib.mjs';

const TOKENS = Number(process.env.TOKENS ?? 16);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const PROMPT = 'The capital of France is';
const dirs = process.argv.slice(2);
if (dirs.length !== 2) {
  console.error('usage: node bench/page-ab.mjs DIST_A DIST_B');
  process.exit(2);
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
};

const servers = await Promise.all(dirs.map((d) => serve(d)));
const browser = await launch();
try {
  const pages = [];
  for (const server of servers) {
    const { page } = await open(browser, server.url);
    await waitReady(page);
    await setUpGreedy(page, PROMPT, TOKENS);
    pages.push(page);
  }
  console.log(`${TOKENS} greedy tokens after "${PROMPT}"; A = ${dirs[0]}, B = ${dirs[1]}`);
  const speeds = [[], []];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const i of round % 2 ? [0, 1] : [1, 0]) {
      speeds[i].push(await generateSpeed(pages[i]));
    }
    console.log(`round ${round}: A ${speeds[0].at(-1).toFixed(2)}, B ${speeds[1].at(-1).toFixed(2)} tokens/s`);
  }
  const [a, b] = speeds.map(median);
  console.log(`medians: A ${a.toFixed(2)}, B ${b.toFixed(2)} tokens/s; B / A = ${(b / a).toFixed(2)}`);
} finally {
  await browser.close();
  servers.forEach((s) => s.close());
}
