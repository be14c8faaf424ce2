// How it works (view="explain", www/views/explain.js): every block's steps on the photo, from the
// engine's trace (MapRequest::trace, which tests/golden.rs holds to the reference modules'
// intermediates). Here: each step follows from the one before by hand (gates are the sigmoid of
// their logits, softmaxes sum to 1, CBAM's convolution is its kernel over the pooled maps, the
// residual adds x), the last step equals what the result shows (gates, maps, attention rows from
// the engine's own row call), hover follows a channel or a position, a click on a map moves the
// Non-local query, and WebGPU gives the CPU path's steps for every block.
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
  const root = new URL('../../', import.meta.url).pathname;
  server = await serve({ '/': join(root, 'dist'), '/nets/': join(root, 'tests/fixtures/nets'), '/pages/': join(root, 'tests/browser/pages') }, 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  browsers.cpu = await launch();
  browsers.webgpu = await launch({ webgpu: true });
});

after(async () => {
  for (const b of Object.values(browsers)) await b?.close();
  server?.close();
});

// The trace the view drew for `block` (at feature cell `at` for Non-local and MHSA, when given),
// once it is there, as plain arrays, with the result's maps for that block.
function traced(page, block, at = null) {
  return page.evaluate(async ({ block, at }) => {
    const el = document.querySelector('attention-playground');
    if (at) el._state.traceQuery = { block, fx: at.x, fy: at.y };
    el._inspect(block);
    if (at) el._fetchDetails();
    for (let i = 0; i < 400; i++) {
      const tr = el._state.trace;
      const ready = tr?.block === block && tr.result_of === el.result && (tr.result || tr.error);
      if (ready && (!at || (tr.result?.at?.x === at.x && tr.result?.at?.y === at.y))) {
        const steps = {};
        for (const [k, v] of Object.entries(tr.result ?? {})) {
          steps[k] = v?.data ? { shape: v.shape, data: Array.from(v.data) } : v instanceof Float32Array ? Array.from(v) : v;
        }
        const entry = el.result.blocks[block];
        const plane = (m) => m && { width: m.width, height: m.height, data: Array.from(m.data) };
        return {
          error: tr.error, steps, grid: entry.grid, resultGate: entry.channel && Array.from(entry.channel),
          spatial: plane(entry.spatial), context: plane(entry.context), bars: el._layout?.bars?.length, height: el._layout?.height,
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no trace');
  }, { block, at });
}

const near = (a, b, what) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= TOLERANCE.abs + TOLERANCE.rel * Math.abs(b[i]), `${what}[${i}]: ${v} against ${b[i]}`));
const sigmoid = (v) => 1 / (1 + Math.exp(-v));

const data = (x, step) => x.steps[step].data;
const softmax = (v) => {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
};
const sum = (v) => v.reduce((a, b) => a + b, 0);

// Moves the pointer onto the centre of the drawn region `index` of the view's layout.
async function hoverRegion(page, pick) {
  const region = await page.evaluate(pick);
  const box = await page.locator('attention-playground canvas').boundingBox();
  const scale = await page.evaluate(() => { const el = document.querySelector('attention-playground'); return el._canvas.getBoundingClientRect().width / el._drawn.width; });
  await page.mouse.move(box.x + (region.x + region.width / 2) * scale, box.y + (region.y + region.height / 2) * scale);
  return region;
}

test('SE and ECA step by step: each step follows from the one before, and hover follows a channel', async () => {
  const { page, problems } = await openPage(browsers.cpu, `${origin}/#view=explain&backend=cpu`);
  await firstResult(page);
  const se = await traced(page, 'se');
  assert.equal(se.error, undefined);
  assert.equal(data(se, 'squeeze').length, 16);
  assert.ok(data(se, 'hidden').length > 0 && data(se, 'hidden').every((v) => v >= 0), 'SE hidden units after ReLU');
  near(data(se, 'gate'), data(se, 'logits').map(sigmoid), 'SE gate = sigmoid(logits)');
  near(data(se, 'gate'), se.resultGate, 'SE gate = the result\'s channel gate');
  assert.equal(se.bars, 16 * 3, 'three per-channel strips');
  await hoverRegion(page, () => document.querySelector('attention-playground')._layout.bars[5]);
  await page.waitForFunction(() => { const h = document.querySelector('attention-playground')._state.traceHover; return h?.kind === 'c' && h.index === 5; });
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'explain-se.png') });
  const eca = await traced(page, 'eca');
  assert.equal(eca.steps.hidden, undefined);
  near(data(eca, 'gate'), data(eca, 'logits').map(sigmoid), 'ECA gate = sigmoid(logits)');
  near(data(eca, 'gate'), eca.resultGate, 'ECA gate = the result\'s channel gate');
  // ECA runs on SE's output: its channel means are SE's means times SE's gates (SE's scale step).
  near(data(eca, 'squeeze'), data(se, 'squeeze').map((m, i) => m * data(se, 'gate')[i]), 'ECA\'s squeeze = SE\'s squeeze x SE\'s gates');
  assert.deepEqual(problems, []);
  await page.close();
});

test('CBAM step by step: the MLP\'s sum makes the channel gate, the kernel over the pooled maps the convolution, BatchNorm and sigmoid the result\'s spatial gate; hover reads a position', async () => {
  const { page, problems } = await openPage(browsers.cpu, `${origin}/#view=explain&backend=cpu`);
  await firstResult(page);
  const x = await traced(page, 'cbam');
  assert.equal(x.error, undefined);
  const [c] = x.steps.squeeze.shape;
  assert.deepEqual(x.steps.squeeze.shape, [c, 2]);
  const sq = data(x, 'squeeze');
  const mlp = data(x, 'mlp');
  for (let i = 0; i < c; i++) assert.ok(sq[2 * i + 1] >= sq[2 * i] - 1e-6, `channel ${i}: max >= mean`);
  near(data(x, 'gate'), Array.from({ length: c }, (_, i) => sigmoid(mlp[2 * i] + mlp[2 * i + 1])), 'channel gate = sigmoid(MLP(mean) + MLP(max))');
  near(data(x, 'gate'), x.resultGate, 'channel gate = the result\'s');
  // The convolution by hand: the k x k kernel over the two pooled maps, zero "same" padding.
  const [, h, w] = x.steps.pooled.shape;
  const pooled = data(x, 'pooled');
  const [, k] = x.steps.kernel.shape;
  const kernel = data(x, 'kernel');
  const pad = (k - 1) / 2;
  const conv = [];
  for (let yy = 0; yy < h; yy++) {
    for (let xx = 0; xx < w; xx++) {
      let acc = 0;
      for (let ch = 0; ch < 2; ch++) {
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const sy = yy + ky - pad;
            const sx = xx + kx - pad;
            if (sy >= 0 && sy < h && sx >= 0 && sx < w) acc += kernel[(ch * k + ky) * k + kx] * pooled[(ch * h + sy) * w + sx];
          }
        }
      }
      conv.push(acc);
    }
  }
  assert.equal(x.steps.order, 'mean-max');
  for (let p = 0; p < h * w; p++) assert.ok(pooled[h * w + p] >= pooled[p] - 1e-6, `position ${p}: max over channels >= mean`);
  near(data(x, 'conv'), conv, 'conv = the kernel over the pooled maps');
  const [scale, shift] = x.steps.bn;
  near(data(x, 'logits'), data(x, 'conv').map((v) => scale * v + shift), 'logits = BatchNorm of the conv');
  near(data(x, 'spatial'), data(x, 'logits').map(sigmoid), 'spatial gate = sigmoid(logits)');
  near(data(x, 'spatial'), x.spatial.data, 'spatial gate = the result\'s spatial map');
  assert.deepEqual([x.spatial.height, x.spatial.width], [h, w]);
  // Hover a map: the position is read in every map of its grid.
  await hoverRegion(page, () => document.querySelector('attention-playground')._layout.bars.find((b) => b.kind === 'p'));
  await page.waitForFunction(() => document.querySelector('attention-playground')._state.traceHover?.kind === 'p');
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'explain-cbam.png') });
  assert.deepEqual(problems, []);
  await page.close();
});

test('GC step by step: the softmax of the logits is the result\'s context map, the sigmoid of the transform its gates', async () => {
  const { page, problems } = await openPage(browsers.cpu, `${origin}/#view=explain&backend=cpu`);
  await firstResult(page);
  const x = await traced(page, 'gc');
  assert.equal(x.error, undefined);
  near(data(x, 'context_weights'), softmax(data(x, 'logits')), 'context weights = softmax(logits)');
  near(data(x, 'context_weights'), x.context.data, 'context weights = the result\'s context map');
  assert.ok(Math.abs(sum(data(x, 'context_weights')) - 1) < 1e-4);
  assert.equal(data(x, 'context').length, x.resultGate.length);
  assert.ok(data(x, 'normed').every((v) => v >= 0), 'LayerNorm then ReLU');
  near(data(x, 'gate'), data(x, 'transform').map(sigmoid), 'gates = sigmoid(transform)');
  near(data(x, 'gate'), x.resultGate, 'gates = the result\'s channel gates');
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'explain-gc.png') });
  assert.deepEqual(problems, []);
  await page.close();
});

// The engine's own row call for the same query (what the attention view draws).
const engineRow = (page, block, at) => page.evaluate(async ({ block, at }) => {
  const row = await document.querySelector('attention-playground')._engine.call('attentionAt', { block, fx: at.x, fy: at.y });
  return (Array.isArray(row) ? row : [row]).map((r) => Array.from(r.data));
}, { block, at });

test('Non-local step by step for a query: the softmax of the scores is the engine\'s attention row, the output is x plus BatchNorm(W_z y); a click on a map moves the query', async () => {
  const { page, problems } = await openPage(browsers.cpu, `${origin}/#view=explain&backend=cpu`);
  await firstResult(page);
  const x = await traced(page, 'nonlocal');
  assert.equal(x.error, undefined);
  const at = x.steps.at;
  assert.ok(at.x < x.grid.width && at.y < x.grid.height);
  near(data(x, 'weights'), softmax(data(x, 'logits')), 'weights = softmax(scores)');
  near(data(x, 'weights'), (await engineRow(page, 'nonlocal', at))[0], 'weights = the engine\'s row for the query');
  near(data(x, 'output'), data(x, 'input').map((v, i) => v + data(x, 'normed')[i]), 'output = x + BatchNorm(W_z y)');
  assert.deepEqual(x.steps.keys.shape, [data(x, 'theta').length, x.grid.height, x.grid.width]);
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'explain-nonlocal.png') });
  // Click the top-left cell of the scores map: the query moves there and the steps follow.
  const scores = await page.evaluate(() => document.querySelector('attention-playground')._layout.bars.find((b) => b.id === 'scores'));
  const box = await page.locator('attention-playground canvas').boundingBox();
  const scale = await page.evaluate(() => { const el = document.querySelector('attention-playground'); return el._canvas.getBoundingClientRect().width / el._drawn.width; });
  await page.mouse.click(box.x + (scores.x + 1) * scale, box.y + (scores.y + 1) * scale);
  await page.waitForFunction(() => { const tr = document.querySelector('attention-playground')._state.trace; return tr?.result?.at?.x === 0 && tr.result.at.y === 0; });
  const moved = await traced(page, 'nonlocal');
  assert.deepEqual(moved.steps.at, { x: 0, y: 0 });
  near(data(moved, 'weights'), (await engineRow(page, 'nonlocal', { x: 0, y: 0 }))[0], 'the moved query\'s weights = the engine\'s row there');
  assert.notDeepEqual(data(moved, 'theta'), data(x, 'theta'));
  assert.deepEqual(problems, []);
  await page.close();
});

test('MHSA step by step for a query: per head the softmax of the scaled scores is the engine\'s row; in Chinese too', async () => {
  const { page, problems } = await openPage(browsers.cpu, `${origin}/#view=explain&backend=cpu&lang=zh`);
  await firstResult(page);
  const at = { x: 3, y: 2 };
  const x = await traced(page, 'mhsa', at);
  assert.equal(x.error, undefined);
  const [heads, dh] = x.steps.query.shape;
  assert.equal(heads, 4);
  const n = x.grid.width * x.grid.height;
  const rows = await engineRow(page, 'mhsa', at);
  for (let head = 0; head < heads; head++) {
    const scores = data(x, 'scores').slice(head * n, (head + 1) * n);
    const weights = data(x, 'weights').slice(head * n, (head + 1) * n);
    near(weights, softmax(scores), `head ${head + 1}: weights = softmax(scores)`);
    near(weights, rows[head], `head ${head + 1}: weights = the engine's row`);
  }
  assert.equal(data(x, 'mixed').length, heads * dh);
  assert.equal(data(x, 'output').length, heads * dh);
  const lang = await page.evaluate(() => document.querySelector('attention-playground')._t('explain.mhsa.weights', { n: 3 }));
  assert.match(lang, /注意力权重/);
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'explain-mhsa-zh.png') });
  assert.deepEqual(problems, []);
  await page.close();
});

test('on WebGPU every block\'s steps are the CPU path\'s', async () => {
  const steps = {};
  for (const kind of ['cpu', 'webgpu']) {
    const { page, problems } = await openPage(browsers[kind], `${origin}/#view=explain&backend=${kind}`);
    await firstResult(page);
    steps[kind] = {};
    for (const block of ['se', 'eca', 'cbam', 'gc', 'nonlocal', 'mhsa']) {
      steps[kind][block] = await traced(page, block, block === 'nonlocal' || block === 'mhsa' ? { x: 5, y: 4 } : null);
      assert.equal(steps[kind][block].error, undefined, `${kind} ${block}`);
      assert.match(steps[kind][block].steps.ran_on, kind === 'webgpu' ? /^gpu backend/ : /^cpu backend/);
    }
    assert.deepEqual(problems, []);
    await page.close();
  }
  for (const [block, traced] of Object.entries(steps.cpu)) {
    const numeric = Object.entries(traced.steps).filter(([, v]) => v?.data);
    assert.ok(numeric.length >= 3, block);
    for (const [step, v] of numeric) {
      assert.deepEqual(steps.webgpu[block].steps[step].shape, v.shape, `${block} ${step} shape`);
      near(steps.webgpu[block].steps[step].data, v.data, `${block} ${step}, WebGPU against the CPU`);
    }
  }
});

// A loaded network's block, traced in the page: `path`'s steps and the result's entry for it.
async function networkTraced(page, path, at = null) {
  return page.evaluate(async ({ path, at }) => {
    const el = document.querySelector('attention-playground');
    for (let i = 0; i < 600 && !el.result?.network; i++) await new Promise((r) => setTimeout(r, 50));
    if (at) el._state.traceQuery = { block: path, fx: at.x, fy: at.y };
    el._inspect(path);
    for (let i = 0; i < 600; i++) {
      const tr = el._state.trace;
      if (tr?.block === path && tr.result_of === el.result && (tr.result || tr.error) && (!at || tr.result?.at?.x === at.x)) {
        const steps = {};
        for (const [k, v] of Object.entries(tr.result ?? {})) steps[k] = v?.data ? { shape: v.shape, data: Array.from(v.data) } : v;
        const entry = el.result.blocks[path];
        const plane = (m) => m && { width: m.width, height: m.height, data: Array.from(m.data) };
        return { error: tr.error, steps, grid: entry.grid, resultGate: entry.channel && Array.from(entry.channel), spatial: plane(entry.spatial), height: el._layout?.height };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no trace');
  }, { path, at });
}

const hardSigmoid = (v) => Math.min(Math.max(v + 3, 0), 6) / 6;

test('a loaded network\'s blocks step by step: MobileNetV3\'s gates (ReLU, hard-sigmoid), CBAM in a ResNet-D, Non-local in a ResNet-50, BoTNet\'s self-attention, on both backends', async () => {
  for (const kind of ['cpu', 'webgpu']) {
    const mobile = await openPage(browsers[kind], `${origin}/#view=explain&backend=${kind}&model=${encodeURIComponent('/nets/mobilenetv3_small_100/model.safetensors')}&arch=mobilenetv3_small_100`);
    const gate = await networkTraced(mobile.page, 'blocks.2.0.se');
    assert.equal(gate.error, undefined);
    assert.equal(gate.steps.kind, 'se');
    assert.deepEqual([gate.steps.act, gate.steps.gate_act], ['ReLU', 'hard-sigmoid']);
    assert.ok(data(gate, 'hidden').every((v) => v >= 0), 'hidden units after ReLU');
    near(data(gate, 'gate'), data(gate, 'logits').map(hardSigmoid), 'gate = hard-sigmoid(logits)');
    near(data(gate, 'gate'), gate.resultGate, 'gate = the result\'s channel gate for the block');
    if (kind === 'cpu') await mobile.page.locator('attention-playground').screenshot({ path: join(SHOTS, 'explain-network-mobilenetv3.png') });
    assert.deepEqual(mobile.problems, []);
    await mobile.page.close();

    const resnet = await openPage(browsers[kind], `${origin}/#view=explain&backend=${kind}&model=${encodeURIComponent('/nets/resnet50d_cbam/model.safetensors')}&arch=resnet50d`);
    const cbam = await networkTraced(resnet.page, 'layer2.0.se');
    assert.equal(cbam.error, undefined);
    assert.equal(cbam.steps.kind, 'cbam');
    assert.match(cbam.steps.ran_on, kind === 'webgpu' ? /^gpu backend/ : /^cpu backend/);
    near(data(cbam, 'spatial'), data(cbam, 'logits').map(sigmoid), 'spatial gate = sigmoid(logits)');
    near(data(cbam, 'spatial'), cbam.spatial.data, 'spatial gate = the result\'s spatial map');
    near(data(cbam, 'gate'), cbam.resultGate, 'channel gate = the result\'s');
    assert.deepEqual(resnet.problems, []);
    await resnet.page.close();

    const nl = await openPage(browsers[kind], `${origin}/#view=explain&backend=${kind}&model=${encodeURIComponent('/nets/resnet50_nl/model.safetensors')}&arch=resnet50`);
    const at = { x: 1, y: 2 };
    const traced = await networkTraced(nl.page, 'layer2.0.se', at);
    assert.equal(traced.error, undefined);
    assert.equal(traced.steps.kind, 'nonlocal');
    near(data(traced, 'weights'), softmax(data(traced, 'logits')), 'weights = softmax(scores)');
    const row = await nl.page.evaluate(async (at) => Array.from((await document.querySelector('attention-playground')._engine.call('networkAttentionAt', { path: 'layer2.0.se', fx: at.x, fy: at.y })).data), at);
    near(data(traced, 'weights'), row, 'weights = the engine\'s row for the query');
    near(data(traced, 'output'), data(traced, 'input').map((v, i) => v + data(traced, 'normed')[i]), 'output = x + BatchNorm(W_z y)');
    assert.deepEqual(nl.problems, []);
    await nl.page.close();

    // BoTNet's self-attention: per head, the scores are the content scores plus a position term,
    // and their softmax is the engine's row for the query.
    const bot = await openPage(browsers[kind], `${origin}/#view=explain&backend=${kind}&model=${encodeURIComponent('/nets/botnet26t_256/model.safetensors')}&arch=botnet26t_256`);
    const path = 'stages.2.1.self_attn';
    const botTraced = await networkTraced(bot.page, path, at);
    assert.equal(botTraced.error, undefined);
    assert.equal(botTraced.steps.kind, 'bot');
    assert.match(botTraced.steps.ran_on, kind === 'webgpu' ? /^gpu backend/ : /^cpu backend/);
    const [heads] = botTraced.steps.scores.shape;
    const size = data(botTraced, 'scores').length / heads;
    const botRow = await bot.page.evaluate(async ({ path, at }) => {
      const row = await document.querySelector('attention-playground')._engine.call('networkAttentionAt', { path, fx: at.x, fy: at.y });
      return { heads: row.heads, data: Array.from(row.data) };
    }, { path, at });
    assert.equal(botRow.heads, heads);
    let position = 0;
    for (let h = 0; h < heads; h++) {
      const part = (step) => data(botTraced, step).slice(h * size, (h + 1) * size);
      near(part('weights'), softmax(part('scores')), `head ${h}: weights = softmax(scores)`);
      near(part('weights'), botRow.data.slice(h * size, (h + 1) * size), `head ${h}: weights = the engine's row`);
      position = Math.max(position, ...part('scores').map((v, i) => Math.abs(v - part('content')[i])));
    }
    assert.ok(position > 0.05, `the relative-position term is part of the scores (${position})`);
    if (kind === 'cpu') await bot.page.locator('attention-playground').screenshot({ path: join(SHOTS, 'explain-network-botnet.png') });
    assert.deepEqual(bot.problems, []);
    await bot.page.close();
  }
});

test('in an embed (a blank page, controls="none", lang="zh"), view="explain", "formula" and "tokens" draw on both backends', async () => {
  for (const kind of ['cpu', 'webgpu']) {
    for (const view of ['explain', 'formula', 'tokens']) {
      const { page, problems } = await openPage(browsers[kind], `${origin}/pages/blank.html`);
      const drawn = await page.evaluate(async ({ origin, view, kind }) => {
        await import(`${origin}/attention-playground.js`);
        document.body.insertAdjacentHTML('beforeend',
          `<attention-playground view="${view}" blocks="cbam gc nonlocal" controls="none" lang="zh" backend="${kind}"></attention-playground>`);
        const el = document.querySelector('attention-playground');
        for (let i = 0; i < 1200; i++) {
          const ready = view === 'explain' ? el._state?.trace?.result
            : view === 'tokens' ? el._state?.walk?.result
            : el.result && el._layout?.height > 200;
          if (ready && el._layout?.height > 200) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        return {
          backend: el.result?.backend, height: el._layout?.height, kind: el._state.trace?.result?.kind,
          ranOn: el._state.trace?.result?.ran_on, walk: Boolean(el._state.walk?.result), tab: el.shadowRoot.querySelector('.tab[aria-selected="true"]')?.textContent,
        };
      }, { origin, view, kind });
      assert.equal(drawn.backend, kind === 'webgpu' ? 'webgpu' : 'cpu', `${view} on ${kind}`);
      assert.ok(drawn.height > 200, `${view} on ${kind}: drawn (${drawn.height})`);
      if (view === 'explain') {
        assert.equal(drawn.kind, 'cbam', 'the first block of the embed');
        assert.match(drawn.ranOn, kind === 'webgpu' ? /^gpu backend/ : /^cpu backend/);
      }
      if (view === 'tokens') assert.ok(drawn.walk);
      if (kind === 'cpu' && view === 'explain') await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'explain-embed-zh.png') });
      assert.deepEqual(problems, [], `${view} on ${kind}`);
      await page.close();
    }
  }
});
