// Every WGSL module the engine builds, compiled by Chromium's own shader compiler (Tint, on
// SwiftShader): Tint is stricter than naga in places (uniformity, aliasing), and it is what
// users' browsers run. The kernels that reduce are compiled with both kinds of reductions
// (reduce.wgsl, and reduce_subgroup.wgsl after `enable subgroups;` on a device with the
// `subgroups` feature, as the page asks for it).
// The modules mirror gpu::MODULES (src/gpu/mod.rs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, launch, serve } from '../lib.mjs';

const file = (name) => readFileSync(join(ROOT, 'shaders', name), 'utf8');
// [name, files in order, reduces]
const MODULES = [
  ['attention', ['attention.wgsl'], true],
  ['embedding', ['quant.wgsl', 'embedding.wgsl'], false],
  ['matmul', ['quant.wgsl', 'linear.wgsl', 'matmul.wgsl'], false],
  ['matvec', ['quant.wgsl', 'linear.wgsl', 'matvec.wgsl'], true],
  ['roofline_fma', ['roofline_fma.wgsl'], false],
  ['roofline_read', ['roofline_read.wgsl'], false],
  ['sample', ['sample.wgsl'], true],
  ['top_k', ['top_k.wgsl'], true],
];

let browser;
let server;
let page;
before(async () => {
  server = await serve();
  browser = await launch();
  page = await browser.newPage();
  await page.goto(server.url);
});
after(async () => {
  await browser?.close();
  server?.close();
});

/** Compiles each [label, code, constants?] on a device (with subgroups when asked): the errors found. */
async function compile(modules, subgroups) {
  return page.evaluate(async ({ modules, subgroups }) => {
    const adapter = await navigator.gpu.requestAdapter();
    if (subgroups && !adapter.features.has('subgroups')) return ['the adapter has no subgroups'];
    const device = await adapter.requestDevice({ requiredFeatures: subgroups ? ['subgroups'] : [] });
    const errors = [];
    for (const [label, code, constants] of modules) {
      const module = device.createShaderModule({ label, code });
      const info = await module.getCompilationInfo();
      for (const m of info.messages.filter((m) => m.type === 'error')) {
        errors.push(`${label}:${m.lineNum}:${m.linePos}: ${m.message}`);
      }
      device.pushErrorScope('validation');
      device.createComputePipeline({ label, layout: 'auto', compute: { module, entryPoint: 'main', constants } });
      const e = await device.popErrorScope();
      if (e) errors.push(`${label} (pipeline): ${e.message}`);
    }
    device.destroy();
    return errors;
  }, { modules, subgroups });
}

test('every shader file is in a module here', () => {
  const used = new Set(['reduce.wgsl', 'reduce_subgroup.wgsl', 'subgroup_probe.wgsl',
    ...MODULES.flatMap(([, files]) => files)]);
  for (const f of readdirSync(join(ROOT, 'shaders'))) assert.ok(used.has(f), `${f} is not compiled here`);
});

test('Chromium compiles every module with the workgroup-tree reductions', async () => {
  const modules = MODULES.map(([name, files, reduces]) =>
    [name, (reduces ? file('reduce.wgsl') : '') + files.map(file).join('')]);
  assert.deepEqual(await compile(modules, false), []);
});

test('Chromium compiles the kernels that reduce with subgroup reductions, and the probe', async () => {
  const enable = 'enable subgroups;\n';
  const modules = MODULES.filter(([, , reduces]) => reduces).map(([name, files]) =>
    [`${name} (subgroups)`, enable + file('reduce_subgroup.wgsl') + files.map(file).join('')]);
  modules.push(['subgroup_probe', enable + file('subgroup_probe.wgsl')]);
  assert.deepEqual(await compile(modules, true), []);
});

test('Chromium builds the weight readers for every format (FORMAT 0 to 12)', async () => {
  // Tint evaluates what the FORMAT override decides at pipeline creation (a constant shift
  // by 32, a division by zero in an unused branch would fail only there).
  const modules = [];
  for (const [name, files, reduces] of MODULES.filter(([, files]) => files.includes('quant.wgsl'))) {
    const code = (reduces ? file('reduce.wgsl') : '') + files.map(file).join('');
    for (let format = 0; format <= 12; format++) {
      modules.push([`${name} FORMAT=${format}`, code, { FORMAT: format }]);
    }
  }
  assert.deepEqual(await compile(modules, false), []);
});
