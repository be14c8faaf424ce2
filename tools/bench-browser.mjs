// The playground's per-stage times in headless Chromium, on the wasm CPU path and on WebGPU
// (SwiftShader here, so the WebGPU figures say nothing about a real GPU). Runs the bundled cat
// photo 7 times per configuration after one warm-up and prints the median of each stage.
//   node tools/bench-browser.mjs      (after ./build.sh; ./build.sh bench runs it)
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const RUNS = 7;
const CONFIGS = ['se eca gc', 'se eca gc cbam nonlocal mhsa']; // the early blocks; every block (the page's default)
const executablePath = execFileSync('sh', ['-c', 'command -v chromium']).toString().trim();
const server = await serve(new URL('../dist/', import.meta.url).pathname, 0);
const url = `http://127.0.0.1:${server.address().port}/embed.html`;
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];

for (const [backend, flags] of [['cpu', []], ['webgpu', ['--enable-unsafe-webgpu']]]) {
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-background-networking', ...flags] });
  const page = await browser.newPage();
  await page.goto(url);
  for (const blocks of CONFIGS) {
    const timings = await page.evaluate(async ({ blocks, runs }) => {
      const el = document.querySelector('attention-playground');
      await el.ready;
      el.setAttribute('blocks', blocks);
      const img = new URL('./samples/cat.jpg', location.href).href;
      const all = [];
      for (let i = 0; i <= runs; i++) {
        const result = await el.run(img);
        if (i > 0) all.push({ backend: result.backend, ...result.timings });
      }
      return all;
    }, { blocks, runs: RUNS });
    const stages = Object.keys(timings[0]).filter((k) => k.endsWith('_ms'));
    const line = stages.map((s) => `${s.replace(/_ms$/, '')} ${median(timings.map((t) => t[s])).toFixed(1)}`).join(' | ');
    console.log(`${timings[0].backend.padEnd(6)} [${blocks}] median ms: ${line}`);
  }
  await browser.close();
}
server.close();
