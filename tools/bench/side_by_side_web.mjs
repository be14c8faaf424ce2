// The browser half of ./build.sh bench: our wasm SIMD build against onnxruntime-web's wasm
// backend (SIMD, one thread), both in one headless Chromium page, on the cases that
// side_by_side.py wrote (weights, input, ONNX graph). Prints the second table of BENCHMARKS.md
// and writes every figure to OUT/browser.json.
//   node tools/bench/side_by_side_web.mjs [--out target/bench-cases] [--iters 30] [--only mhsa,nonlocal]
// Needs dist/ (./build.sh build) and tools/bench/node_modules (npm ci --prefix tools/bench).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { serve } from '../serve.mjs';

const { values: args } = parseArgs({ options: { out: { type: 'string', default: 'target/bench-cases' }, iters: { type: 'string', default: '30' }, only: { type: 'string' } } });
const iters = Number(args.iters);
const here = (path) => new URL(path, import.meta.url).pathname;
const only = args.only?.split(',');
const cases = JSON.parse(readFileSync(`${args.out}/cases.json`, 'utf8')).filter((c) => !only || only.some((word) => c.name.includes(word)));

// Cross-origin isolation gives performance.now() its finer resolution; every file is same-origin.
const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
const server = await serve({ '/': here('../../dist/'), '/page/': here('./page/'), '/cases/': args.out, '/ort/': here('./node_modules/onnxruntime-web/dist/') }, 0, '127.0.0.1', isolation);
const executablePath = execFileSync('sh', ['-c', 'command -v chromium']).toString().trim();
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-background-networking'] });
const rows = [];
let version = '?';
try {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`http://127.0.0.1:${server.address().port}/page/`);
  await page.waitForFunction(() => window.benchReady || null, null, { timeout: 60_000 }).catch(() => {
    throw new Error(`the benchmark page did not load: ${problems.join('; ') || 'no error reported'}`);
  });
  version = JSON.parse(readFileSync(here('./node_modules/onnxruntime-web/package.json'), 'utf8')).version;
  for (const c of cases) {
    const n = c.slow ? Math.max(5, Math.floor(iters / 5)) : iters;
    const r = await page.evaluate(([c, n]) => window.benchCase(c, n), [c, n]);
    rows.push({ block: c.block, size: c.size, iters: n, gflop: c.gflop, ...r, speedup: r.ort.median_ms / r.ours.median_ms });
    console.error(`  ${c.name}: ours ${r.ours.median_ms.toFixed(3)} ms, onnxruntime-web ${r.ort.median_ms.toFixed(3)} ms`);
  }
} finally {
  await browser.close();
  server.close();
}

const chromiumVersion = execFileSync(executablePath, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
// 128-bit vectors without FMA: 4 lanes, two multiplies and two adds a cycle (recent x86 cores), at the
// clock side_by_side.py read.
const ghz = JSON.parse(readFileSync(`${args.out}/native.json`, 'utf8')).machine?.ghz;
const peak = ghz ? (16 * ghz).toFixed(0) : '?';
const ms = (t) => `${t.median_ms.toFixed(3)} ms (${t.min_ms.toFixed(3)})`;
console.log(`\nwasm in headless ${chromiumVersion}, one thread each, on ${cpus()[0].model}; onnxruntime-web ${version} (wasm, SIMD); our kernels: ${rows[0].kernels}; cross-origin isolated: ${rows[0].isolated}`);
console.log(`\n| block | size | ours, wasm SIMD: median (min) | onnxruntime-web: median (min) | ours / theirs speed (medians) | our GFLOP/s (peak ~${peak}) |`);
console.log('|---|---|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.block} | ${r.size} | ${ms(r.ours)} | ${ms(r.ort)} | ${r.speedup.toFixed(2)}x | ${(r.gflop / (r.ours.median_ms / 1e3)).toFixed(1)} |`);
}
writeFileSync(`${args.out}/browser.json`, JSON.stringify({ chromium: chromiumVersion, onnxruntime_web: version, rows }, null, 1));
