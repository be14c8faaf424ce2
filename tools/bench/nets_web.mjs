// The browser half of the whole-network benchmark: our wasm SIMD build (NetBench, the network on
// this build's CPU kernels) against onnxruntime-web's wasm backend (SIMD, one thread) on the files
// nets.py wrote. Prints the table of BENCHMARKS.md.
//   node tools/bench/nets_web.mjs [--out target/bench-nets] [--iters 5]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { serve } from '../serve.mjs';

const { values: args } = parseArgs({ options: { out: { type: 'string', default: 'target/bench-nets' }, iters: { type: 'string', default: '5' } } });
const here = (path) => new URL(path, import.meta.url).pathname;
const rows = JSON.parse(readFileSync(`${args.out}/nets.json`, 'utf8'));
const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
const server = await serve({ '/': here('../../dist/'), '/page/': here('./page/'), '/nets/': args.out, '/ort/': here('./node_modules/onnxruntime-web/dist/') }, 0, '127.0.0.1', isolation);
const executablePath = execFileSync('sh', ['-c', 'command -v chromium']).toString().trim();
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-background-networking'] });
const out = [];
try {
  for (const { arch, checkpoint_mib: size } of rows) {
    // A page per network: each starts with fresh WebAssembly memories.
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/page/`);
    await page.waitForFunction(() => window.benchReady || null, null, { timeout: 60_000 });
    const r = await page.evaluate(([arch, n]) => window.benchNet({ arch }, n), [arch, Number(args.iters)]);
    out.push({ arch, size, ...r });
    console.error(`  ${arch}: ours ${r.ours.median_ms.toFixed(1)} ms, onnxruntime-web ${r.ort.median_ms.toFixed(1)} ms`);
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
}
const version = JSON.parse(readFileSync(here('./node_modules/onnxruntime-web/package.json'), 'utf8')).version;
const chromiumVersion = execFileSync(executablePath, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
console.log(`\nWhole networks in headless ${chromiumVersion}, one thread each; onnxruntime-web ${version} (wasm, SIMD); our kernels: ${out[0]?.kernels}`);
console.log('\n| network | checkpoint (float32) | ours, wasm SIMD: median (min) | onnxruntime-web: median (min) | ours / theirs speed | our wasm memory |');
console.log('|---|---:|---:|---:|---:|---:|');
const ms = (t) => `${t.median_ms.toFixed(1)} ms (${t.min_ms.toFixed(1)})`;
for (const r of out) {
  console.log(`| ${r.arch} | ${r.size.toFixed(0)} MiB | ${ms(r.ours)} | ${ms(r.ort)} | ${(r.ort.median_ms / r.ours.median_ms).toFixed(2)}x | ${r.wasm_memory_mib.toFixed(0)} MiB |`);
}
