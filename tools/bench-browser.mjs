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

// Big photos: how long the worker takes to decode and scale them, and the longest task the page's
// main thread ran meanwhile (what a person feels as a freeze; long tasks are those over 50 ms).
{
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-background-networking'] });
  const page = await browser.newPage();
  await page.goto(url);
  const { readFile } = await import('node:fs/promises');
  const bomb = (await readFile(new URL('../tests/fixtures/cases/bomb_16000.png', import.meta.url))).toString('base64');
  const figures = await page.evaluate(async (bomb) => {
    const el = document.querySelector('attention-playground');
    await el.ready;
    const canvas = new OffscreenCanvas(4032, 3024);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#8ac';
    ctx.fillRect(0, 0, 4032, 3024);
    const photos = {
      'phone photo 4032 x 3024 JPEG': await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 }),
      'PNG of 16000 x 16000': new Blob([Uint8Array.from(atob(bomb), (c) => c.charCodeAt(0))], { type: 'image/png' }),
    };
    const out = [];
    for (const [name, blob] of Object.entries(photos)) {
      let longest = 0;
      const observer = new PerformanceObserver((list) => list.getEntries().forEach((e) => { longest = Math.max(longest, e.duration); }));
      observer.observe({ type: 'longtask' });
      const result = await el.run(new File([blob], name, { type: blob.type }));
      await new Promise((r) => setTimeout(r, 100));
      observer.disconnect();
      out.push({ name, decode: result.timings.decode_ms, longest });
    }
    return out;
  }, bomb);
  for (const f of figures) console.log(`decode ${f.name}: ${f.decode.toFixed(0)} ms in the worker; longest main-thread task ${f.longest ? `${f.longest.toFixed(0)} ms` : 'under 50 ms'}`);
  await browser.close();
}
server.close();
