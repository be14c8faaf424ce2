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

// A toggle, as a reader feels it: from a chip switched (the `blocks` attribute) to the frame that
// shows the new figure, against the engine's own time for the run; the difference is the page's
// (drawing the view, the controls, the prediction line). The wasm CPU path, each view in turn,
// SE switched off and on again 7 times after a warm-up; medians.
//   node tools/bench-browser.mjs --toggle    (this part alone)
{
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-background-networking'] });
  for (const view of (process.env.VIEWS ?? 'spatial channel nonlocal features explain formula').split(' ')) {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
    page.on('crash', () => console.error(`the page crashed in the ${view} view`));
    await page.goto(`${url.replace('/embed.html', '/')}#backend=cpu&view=${view}`);
    const f = await page.evaluate(async ({ view, runs }) => {
      const el = document.querySelector('attention-playground');
      await el.ready;
      if (!el.result) await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
      el.setAttribute('view', view);
      const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      // When the engine's answer (the run's result) reaches the page.
      let arrived = 0;
      const call = el._engine.call.bind(el._engine);
      el._engine.call = async (op, ...args) => {
        const answer = await call(op, ...args);
        if (op === 'run') arrived = performance.now();
        return answer;
      };
      const all = [];
      for (let i = 0; i <= 2 * runs; i++) {
        const next = new Promise((r) => el.addEventListener('attention-result', (e) => r(e.detail), { once: true }));
        const t0 = performance.now();
        el.setAttribute('blocks', i % 2 ? 'se eca gc cbam nonlocal mhsa' : 'eca gc cbam nonlocal mhsa');
        const result = await next;
        await frame();
        const t1 = performance.now();
        if (i > 1) all.push({ redraw: t1 - t0, engine: result.timings.total_ms ?? 0, answer: arrived - t0, page: t1 - arrived });
      }
      // The view's drawing alone (the element's _render: the view drawn on a scratch canvas and
      // copied to the one shown), 7 times.
      for (let i = 0; i < all.length; i++) {
        const t0 = performance.now();
        el._render();
        all[i].draw = performance.now() - t0;
      }
      return all;
    }, { view, runs: RUNS });
    const redraw = median(f.map((x) => x.redraw));
    const engine = median(f.map((x) => x.engine));
    const answer = median(f.map((x) => x.answer));
    const own = median(f.map((x) => x.page));
    const draw = median(f.map((x) => x.draw));
    console.log(`toggle SE, ${view.padEnd(8)} view: chip to redrawn frame ${redraw.toFixed(0)} ms; the engine's answer in the page after ${answer.toFixed(0)} ms (its run ${engine.toFixed(0)} ms); `
      + `the page from the answer to the frame ${own.toFixed(0)} ms, of which drawing the view ${draw.toFixed(1)} ms (medians)`);
    await page.close();
  }
  await browser.close();
  if (process.argv.includes('--toggle')) {
    server.close();
    process.exit(0);
  }
}

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

// Opened networks (real-sized, random float16 weights written by examples/random_checkpoint.rs
// into target/bench-random/): opening one (read, parse, build, first run on the cat), the first
// run's own time, switching a stage off (re-run from that stage: two stages in turn, so each toggle
// computes), and the engine's WebAssembly memory afterwards, which only grows, so it is the peak.
{
  const { stat } = await import('node:fs/promises');
  const nets = new URL('../target/bench-random/', import.meta.url).pathname;
  const netServer = await serve({ '/': new URL('../dist/', import.meta.url).pathname, '/nets/': nets }, 0);
  const netUrl = `http://127.0.0.1:${netServer.address().port}/embed.html`;
  const CASES = [['seresnet50', ['layer3', 'layer4']], ['mobilenetv3_large_100', ['blocks.4', 'blocks.5']]];
  for (const [backend, flags] of [['cpu', []], ['webgpu', ['--enable-unsafe-webgpu']]]) {
    const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-background-networking', ...flags] });
    for (const [arch, words] of CASES) {
      const size = (await stat(`${nets}${arch}.safetensors`)).size;
      const page = await browser.newPage();
      await page.goto(netUrl);
      const f = await page.evaluate(async ({ arch, words, runs }) => {
        const el = document.querySelector('attention-playground');
        await el.ready;
        await el.run(new URL('./samples/cat.jpg', location.href).href);
        const t0 = performance.now();
        await el.loadModel(`/nets/${arch}.safetensors`, { arch });
        const open = performance.now() - t0;
        const first = el.result.timings.total_ms;
        const toggles = [];
        for (let i = 0; i < runs; i++) {
          const next = new Promise((r) => el.addEventListener('attention-result', (e) => r(e.detail), { once: true }));
          el.setAttribute('off', words[i % 2]);
          toggles.push((await next).timings.total_ms);
        }
        const memory = await el._engine.call('memory');
        return { open, first, toggles, memory, backend: el.result.backend };
      }, { arch, words, runs: RUNS });
      console.log(`${f.backend.padEnd(6)} ${arch} (${(size / 2 ** 20).toFixed(0)} MB float16): open ${f.open.toFixed(0)} ms `
        + `(first run ${f.first.toFixed(0)} ms), a stage off median ${median(f.toggles).toFixed(0)} ms, wasm memory ${(f.memory / 2 ** 20).toFixed(0)} MB`);
      await page.close();
    }
    await browser.close();
  }
  netServer.close();
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
