// How it works (view="explain", www/views/explain.js): SE's and ECA's steps on the photo, from the
// engine's trace (MapRequest::trace, which tests/golden.rs holds to timm's intermediates). Here:
// the steps are what the block computes from them, by hand: the gates are the sigmoid of the
// logits, SE's hidden units are ReLU'd, and the gates equal the result's channel gates; hover
// follows one channel; WebGPU gives the CPU path's steps.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serve } from '../../tools/serve.mjs';
import { firstResult, launch, openPage } from './support.mjs';

const SHOTS = new URL('../../test-output/browser/', import.meta.url).pathname;
const TOLERANCE = { abs: 1e-5, rel: 1e-4 };

let server;
let origin;
const browsers = {};

before(async () => {
  server = await serve(new URL('../../dist/', import.meta.url).pathname, 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  browsers.cpu = await launch();
  browsers.webgpu = await launch({ webgpu: true });
});

after(async () => {
  for (const b of Object.values(browsers)) await b?.close();
  server?.close();
});

// The trace the view drew for `block`, once it is there, and the result's gates.
function traced(page, block) {
  return page.evaluate(async (block) => {
    const el = document.querySelector('attention-playground');
    el._inspect(block);
    for (let i = 0; i < 200; i++) {
      const tr = el._state.trace;
      if (tr?.block === block && tr.result_of === el.result && (tr.result || tr.error)) {
        const plain = (v) => (v ? Array.from(v) : undefined);
        return {
          error: tr.error, squeeze: plain(tr.result?.squeeze), hidden: plain(tr.result?.hidden), logits: plain(tr.result?.logits),
          gate: plain(tr.result?.gate), ran_on: tr.result?.ran_on, resultGate: Array.from(el.result.blocks[block].channel),
          bars: el._layout?.bars?.length, height: el._layout?.height,
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no trace');
  }, block);
}

const near = (a, b, what) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= TOLERANCE.abs + TOLERANCE.rel * Math.abs(b[i]), `${what}[${i}]: ${v} against ${b[i]}`));
const sigmoid = (v) => 1 / (1 + Math.exp(-v));

test('SE and ECA step by step: each step follows from the one before, and hover follows a channel', async () => {
  const { page, problems } = await openPage(browsers.cpu, `${origin}/#view=explain&backend=cpu`);
  await firstResult(page);
  const se = await traced(page, 'se');
  assert.equal(se.error, undefined);
  assert.equal(se.squeeze.length, 16);
  assert.ok(se.hidden.length > 0 && se.hidden.every((v) => v >= 0), 'SE hidden units after ReLU');
  near(se.gate, se.logits.map(sigmoid), 'SE gate = sigmoid(logits)');
  near(se.gate, se.resultGate, 'SE gate = the result\'s channel gate');
  assert.equal(se.bars, 16 * 3, 'three per-channel strips');
  const region = await page.evaluate(() => document.querySelector('attention-playground')._layout.bars[5]);
  const box = await page.locator('attention-playground canvas').boundingBox();
  await page.mouse.move(box.x + region.x + region.width / 2, box.y + region.y + region.height / 2);
  await page.waitForFunction(() => document.querySelector('attention-playground')._state.traceHover === 5);
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'explain-se.png') });
  const eca = await traced(page, 'eca');
  assert.equal(eca.hidden, undefined);
  near(eca.gate, eca.logits.map(sigmoid), 'ECA gate = sigmoid(logits)');
  near(eca.gate, eca.resultGate, 'ECA gate = the result\'s channel gate');
  // ECA runs on SE's output: its channel means are SE's means times SE's gates (SE's scale step).
  near(eca.squeeze, se.squeeze.map((m, i) => m * se.gate[i]), 'ECA\'s squeeze = SE\'s squeeze x SE\'s gates');
  assert.deepEqual(problems, []);
  await page.close();
});

test('on WebGPU the steps are the CPU path\'s', async () => {
  const steps = {};
  for (const kind of ['cpu', 'webgpu']) {
    const { page, problems } = await openPage(browsers[kind], `${origin}/#view=explain&backend=${kind}&blocks=se`);
    await firstResult(page);
    steps[kind] = await traced(page, 'se');
    assert.match(steps[kind].ran_on, kind === 'webgpu' ? /^gpu backend/ : /^cpu backend/);
    assert.deepEqual(problems, []);
    await page.close();
  }
  for (const step of ['squeeze', 'hidden', 'logits', 'gate']) near(steps.webgpu[step], steps.cpu[step], `${step}, WebGPU against the CPU`);
});

test('a block without a trace yet says so', async () => {
  const { page } = await openPage(browsers.cpu, `${origin}/#view=explain&backend=cpu&blocks=cbam`);
  await firstResult(page);
  const shown = await page.evaluate(() => { const el = document.querySelector('attention-playground'); return { block: el._inspected() ?? null, height: el._layout.height }; });
  assert.deepEqual(shown, { block: null, height: 60 }, 'one line saying which blocks have steps');
  const tab = await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('.tab[aria-selected="true"]').textContent);
  assert.equal(tab, 'How it works');
  await page.close();
});
