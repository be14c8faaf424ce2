// A long session must not grow: after a warm-up, a few hundred photo runs (the interaction that
// used to grow Chromium's renderer by about 2 MiB each) leave the memory of the renderer processes,
// which host the page and its worker, flat. No timing: only memory, read from /proc through ps.
//   node --test tests/browser/soak.test.mjs   (after ./build.sh)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { serve } from '../../tools/serve.mjs';
import { firstResult, launch, openPage } from './support.mjs';

const WARM_UP = 40;
const RUNS = 200;
// Growth allowed over RUNS runs after the warm-up: a leak of 1 MiB a run (the old 2 MiB) fails it.
const ALLOWED_GROWTH_MIB = 64;

let server;
let browser;
// Unknown switches are kept on the browser process's command line: it finds our processes.
const MARKER = `--attention-playground-soak=${process.pid}`;

before(async () => {
  server = await serve(new URL('../../dist/', import.meta.url).pathname, 0);
  browser = await launch({ args: [MARKER, '--js-flags=--expose-gc'] });
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** Resident memory, in MiB, of the renderer processes under our browser. */
function rendererMiB() {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,rss=,args=']).toString().trim().split('\n').map((line) => {
    const [, pid, ppid, rss, args] = line.match(/^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/);
    return { pid: Number(pid), ppid: Number(ppid), rss: Number(rss), args };
  });
  const root = rows.find((r) => r.args.includes(MARKER) && !r.args.includes('--type='));
  assert.ok(root, 'the browser process is found');
  const ours = new Set([root.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const r of rows) if (ours.has(r.ppid) && !ours.has(r.pid)) { ours.add(r.pid); grew = true; }
  }
  const renderers = rows.filter((r) => ours.has(r.pid) && r.args.includes('--type=renderer'));
  assert.ok(renderers.length > 0, 'renderer processes found');
  return renderers.reduce((sum, r) => sum + r.rss, 0) / 1024;
}

test(`${RUNS} photo runs after a warm-up leave the renderer's memory flat`, async () => {
  const { page, problems } = await openPage(browser, `http://127.0.0.1:${server.address().port}/embed.html`);
  await firstResult(page);
  await page.evaluate(async () => {
    // Photos as a person drops them: a new File each time, of a few sizes.
    window.__photos = [];
    for (const [w, h] of [[1600, 1200], [900, 1200], [2000, 1000]]) {
      const canvas = new OffscreenCanvas(w, h);
      const ctx = canvas.getContext('2d');
      const g = ctx.createLinearGradient(0, 0, w, h);
      g.addColorStop(0, '#8ac');
      g.addColorStop(1, '#dca');
      ctx.fillStyle = g;
      ctx.fillRect(0, 0, w, h);
      ctx.fillStyle = '#c33';
      ctx.beginPath();
      ctx.arc(w / 2, h / 2, h / 4, 0, Math.PI * 2);
      ctx.fill();
      window.__photos.push(await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 }));
    }
    window.__runs = async (count) => {
      const el = document.querySelector('attention-playground');
      for (let i = 0; i < count; i++) await el.run(new File([window.__photos[i % 3]], `photo-${i}.jpg`, { type: 'image/jpeg' }));
      window.gc?.();
    };
  });
  const settle = () => page.evaluate(() => new Promise((r) => setTimeout(r, 1000)));
  await page.evaluate((n) => window.__runs(n), WARM_UP);
  await settle();
  const warm = rendererMiB();
  await page.evaluate((n) => window.__runs(n), RUNS);
  await settle();
  const end = rendererMiB();
  const growth = end - warm;
  console.log(`renderer memory: ${warm.toFixed(0)} MiB after ${WARM_UP} runs, ${end.toFixed(0)} MiB after ${RUNS} more (${(growth / RUNS).toFixed(2)} MiB a run)`);
  assert.ok(growth < ALLOWED_GROWTH_MIB, `the renderers grew ${growth.toFixed(0)} MiB over ${RUNS} runs (allowed ${ALLOWED_GROWTH_MIB})`);
  assert.deepEqual(problems, []);
  await page.close();
});
