// The playground in a real browser: Debian's Chromium driven by playwright-core against the built
// dist/ (./build.sh test builds it first). Two browsers: one with WebGPU (--enable-unsafe-webgpu,
// SwiftShader) and one without, where `auto` must fall back to the CPU path.
//   node --test tests/browser/
// Screenshots of every view go to test-output/browser/; look at them after a change to the front end.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { firstResult, openPage, servedPlayground } from './support.mjs';

const SHOTS = new URL('../../test-output/browser/', import.meta.url).pathname;
// Between the WebGPU pass and the CPU path: the blocks run in sequence, so float32 differences
// (shader exp, another summation order) pass from block to block. Per value: |gpu - cpu| <= abs + rel * |cpu|.
const BACKEND_TOLERANCE = { abs: 1e-6, rel: 1e-4 };


const site = servedPlayground({ cpu: {}, webgpu: { webgpu: true } });
before(() => mkdir(SHOTS, { recursive: true }));

/** Opens `path`, collecting console errors, page errors and every http request. */
async function open(kind, path = '/') {
  return openPage(site.browsers[kind], site.origin + path);
}

/** Waits for the element's next `attention-result` after `action`, and returns the result as JSON. */
async function nextResult(page, action, selector = 'attention-playground') {
  await page.evaluate((sel) => {
    const el = document.querySelector(sel);
    window.__next = new Promise((resolve, reject) => {
      el.addEventListener('attention-result', () => resolve(), { once: true });
      el.addEventListener('attention-error', (e) => reject(new Error(e.detail.message)), { once: true });
    });
  }, selector);
  await action();
  await page.evaluate(() => window.__next);
  return page.evaluate((sel) => document.querySelector(sel).exportJson(), selector);
}


/** How much of the element's canvas is drawn: distinct colours and the share of non-white pixels. */
async function canvasInk(page, selector = 'attention-playground') {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel).shadowRoot.querySelector('canvas');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const colours = new Set();
    let ink = 0;
    for (let i = 0; i < data.length; i += 4) {
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      if (data[i] < 245 || data[i + 1] < 245 || data[i + 2] < 245) ink++;
    }
    return { colours: colours.size, inked: ink / (data.length / 4), height: canvas.height };
  }, selector);
}

async function setView(page, view) {
  await page.locator(`attention-playground .tab[data-view="${view}"]`).click();
}

async function screenshot(page, name) {
  await page.locator('attention-playground').first().screenshot({ path: `${SHOTS}${name}.png` });
}

// The network computes on the photo scaled to 96 px on its longer side (each side at least 16;
// src/model/image.rs, to_network_side); the stem averages 4x4 cells of that (a partial last row or
// column dropped); the late blocks sit after one more 2x2 max pool.
const networkSize = (w, h) => [w, h].map((v) => Math.max(16, Math.round((v * 96) / Math.max(w, h))));
const quarter = (side) => Math.floor(side / 4);
const eighth = (side) => Math.floor(quarter(side) / 2);
const ALL_BLOCKS = ['se', 'eca', 'gc', 'cbam', 'nonlocal', 'mhsa'];
const EARLY = new Set(['se', 'eca', 'gc']);
const isMap = (m) => m && Number.isInteger(m.width) && Number.isInteger(m.height) && m.data.length === m.width * m.height;
const spread = (values) => Math.max(...values) - Math.min(...values);
const sum = (values) => values.reduce((a, b) => a + b, 0);

function assertGates(values, what) {
  // A trained gate can saturate: sigmoid rounds to exactly 0 or 1 in float32.
  assert.ok(values.every((v) => v >= 0 && v <= 1), `${what}: every gate in [0, 1]`);
  assert.ok(spread(values) > 1e-3, `${what}: not constant (spread ${spread(values)})`);
}

function assertAttentionRow(map, what, width, height) {
  assert.ok(isMap(map), `${what}: a { width, height, data } map`);
  assert.deepEqual([map.width, map.height], [width, height], `${what}: size`);
  assert.ok(map.data.every((v) => v >= 0), `${what}: non-negative weights`);
  assert.ok(Math.abs(sum(map.data) - 1) < 1e-3, `${what}: sums to 1 (${sum(map.data)})`);
  assert.ok(spread(map.data) > 0, `${what}: not constant`);
}

/** Checks the result object's shape and values for every block that is on. */
// Every number of `actual` against the same place in `expected` (timings skipped): the largest
// difference, and the worst excess over BACKEND_TOLERANCE (<= 0 when every value is within it).
function compareNumbers(actual, expected) {
  let worst = { excess: -Infinity };
  let largest = 0;
  const walk = (a, e, path) => {
    if (typeof e === 'number' && !path.includes('timings')) {
      largest = Math.max(largest, Math.abs(a - e));
      const over = Math.abs(a - e) - (BACKEND_TOLERANCE.abs + BACKEND_TOLERANCE.rel * Math.abs(e));
      const excess = Number.isNaN(over) ? Infinity : over; // a missing or NaN value fails
      if (excess > worst.excess) worst = { excess, path, actual: a, expected: e };
    } else if (e && typeof e === 'object') {
      for (const key of Object.keys(e)) walk(a?.[key], e[key], `${path}.${key}`);
    }
  };
  walk(actual, expected, '');
  return { worst, largest };
}

function assertResult(result, blocks) {
  const f = result.features;
  const [nw, nh] = networkSize(result.width, result.height);
  assert.deepEqual([f.channels, f.width, f.height], [16, quarter(nw), quarter(nh)], 'stem: 16 named channels at a quarter of the network\'s size');
  assert.deepEqual(Object.keys(result.blocks).sort(), [...blocks].sort());
  assert.ok(result.timings.total_ms >= 0 && blocks.every((b) => result.timings[`${b}_ms`] >= 0), 'a timing per stage');
  for (const [name, entry] of Object.entries(result.blocks)) {
    const { grid } = entry;
    if (entry.features) assert.deepEqual([entry.features.before.channels, entry.features.before.width, entry.features.before.height], [grid.channels, grid.width, grid.height], `${name}: grid is the input's`);
    const [channels, width, height] = EARLY.has(name) ? [16, quarter(nw), quarter(nh)] : [32, eighth(nw), eighth(nh)];
    assert.deepEqual([grid.channels, grid.width, grid.height], [channels, width, height], `${name} works on its depth's grid`);
  }
  const p = result.prediction;
  assert.equal(p.classes.length, 6);
  assert.ok(p.classes.includes(p.label) && Math.abs(sum(p.probabilities) - 1) < 1e-4, 'a prediction over the shape classes');
  assert.ok(Math.abs(sum(result.baseline.probabilities) - 1) < 1e-4, 'and one with every block off');
  const { se, cbam, nonlocal, eca, gc, mhsa } = result.blocks;
  if (se) assertGates(se.channel, 'se.channel');
  if (se) assert.equal(se.channel.length, 16);
  if (se) assert.equal(se.channel_names[6], 'vertical edges, fine');
  if (cbam) {
    // CBAM's channel MLP is alive (8 hidden units, model::CBAM_RD): its gates tell channels apart.
    assertGates(cbam.channel, 'cbam.channel');
    assert.equal(cbam.channel.length, 32);
    assert.ok(spread(cbam.channel) > 0.1, `cbam.channel tells channels apart (spread ${spread(cbam.channel)})`);
    assert.ok(isMap(cbam.spatial), 'cbam.spatial is a map');
    assertGates(cbam.spatial.data, 'cbam.spatial');
  }
  if (eca) assertGates(eca.channel, 'eca.channel');
  if (gc) {
    assertAttentionRow(gc.context, 'gc.context', f.width, f.height); // softmax over the positions
    assertGates(gc.channel, 'gc.channel');
  }
  const late = { width: eighth(nw), height: eighth(nh) };
  if (nonlocal) {
    assertAttentionRow(nonlocal.attention, 'nonlocal.attention', late.width, late.height);
    assert.ok(nonlocal.query.x > 0 && nonlocal.query.x < result.width && nonlocal.query.y < result.height, 'query in image coordinates');
  }
  if (mhsa) {
    assert.equal(mhsa.heads, 4);
    assert.equal(mhsa.attention.length, 4);
    mhsa.attention.forEach((head, i) => assertAttentionRow(head, `mhsa head ${i}`, late.width, late.height));
  }
}

/** A deterministic 224 x 224 test picture as a PNG: drawn 1:1, its pixels are exact in any browser. */
async function syntheticPng(page) {
  return page.evaluate(async () => {
    const size = 224;
    const canvas = new OffscreenCanvas(size, size);
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(size, size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const d = Math.hypot(x - 140, y - 90);
        const i = (y * size + x) * 4;
        img.data[i] = d < 40 ? 220 : (x * 255) / size;
        img.data[i + 1] = d < 40 ? 60 : (y * 255) / size;
        img.data[i + 2] = ((x ^ y) & 16) ? 200 : 40;
        img.data[i + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    window.__png = await canvas.convertToBlob({ type: 'image/png' });
  });
}

describe('the playground page', () => {
  test('runs a sample photo, every block gives well-formed maps, and every view is drawn', async () => {
    const { page, problems, requests } = await open('cpu');
    const first = await firstResult(page);
    assert.equal(first.backend, 'cpu', 'no WebGPU adapter in this browser: auto falls back to the CPU');
    // Every block of the trained network is on by default; the prediction line shows.
    assertResult(first, ALL_BLOCKS);
    assert.match(await page.locator('attention-playground .prediction').innerText(), /Prediction: \w+ \d+ %[\s\S]*with every block off: \w+ \d+ %/);

    // Switch each block off and on again: off is the identity, so the prediction changes.
    const loadedRequests = requests.length;
    let moved = 0;
    for (const [name, label] of [['se', 'SE'], ['eca', 'ECA'], ['gc', 'GC'], ['cbam', 'CBAM'], ['nonlocal', 'Non-local'], ['mhsa', 'MHSA']]) {
      const off = await nextResult(page, () => page.locator(`attention-playground label.chip:has-text("${label}")`).click());
      assert.ok(!(name in off.blocks), `${name} switched off`);
      assertResult(off, ALL_BLOCKS.filter((b) => b !== name));
      moved = Math.max(moved, ...off.prediction.probabilities.map((v, i) => Math.abs(v - first.prediction.probabilities[i])));
      const back = await nextResult(page, () => page.locator(`attention-playground label.chip:has-text("${label}")`).click());
      assertResult(back, ALL_BLOCKS);
    }
    assert.ok(moved > 0.01, `switching a block off moves the prediction (by up to ${moved})`);

    // Options re-run the block: Non-local with subsampled keys attends over a quarter of the positions.
    await page.evaluate(() => { document.querySelector('attention-playground').shadowRoot.querySelector('.options-box').open = true; }); // the blocks' options start folded
    const sub = await nextResult(page, () => page.locator('attention-playground [data-option="nonlocal.subsample"]').check());
    const f = sub.blocks.nonlocal.grid;
    assertAttentionRow(sub.blocks.nonlocal.attention, 'subsampled nonlocal', Math.floor(f.width / 2), Math.floor(f.height / 2));
    const dot = await nextResult(page, () => page.locator('attention-playground [data-option="nonlocal.pairwise"]').selectOption('dot-product'));
    assert.equal(dot.blocks.nonlocal.attention.width, Math.floor(f.width / 2));

    for (const view of ['spatial', 'channel', 'nonlocal', 'features']) {
      await setView(page, view);
      const ink = await canvasInk(page);
      assert.ok(ink.colours > 200 && ink.inked > 0.2, `${view} view drawn: ${JSON.stringify(ink)}`);
      await screenshot(page, `page-${view}`);
    }
    // Hovering a bar shows that channel's feature map.
    await setView(page, 'channel');
    const canvas = page.locator('attention-playground canvas');
    const box = await canvas.boundingBox();
    await page.mouse.move(box.x + 60, box.y + 120);
    assert.match(await page.evaluate(() => String(document.querySelector('attention-playground')._state.hoverChannel)), /^\d+$/);
    await screenshot(page, 'page-channel-hover');

    assert.deepEqual(requests.slice(loadedRequests), [], 'no network request after load');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('clicking a pixel in the attention view returns its row and draws it', async () => {
    const { page, problems } = await open('cpu');
    await firstResult(page);
    await setView(page, 'nonlocal');
    const before = await canvasInk(page);
    const canvas = page.locator('attention-playground canvas');
    const box = await canvas.boundingBox();
    // The photo starts 26 px below the canvas top (the heading); click in its upper left.
    await canvas.click({ position: { x: 60, y: 60 } });
    await page.waitForFunction(() => document.querySelector('attention-playground')._state.attention);
    const f = await page.evaluate(() => {
      const { width, height } = document.querySelector('attention-playground').result.blocks.nonlocal.features.before;
      return { width, height };
    });
    const clicked = await page.evaluate(() => {
      const { fx, fy, row } = document.querySelector('attention-playground')._state.attention;
      return { fx, fy, width: row.width, height: row.height, data: Array.from(row.data) };
    });
    assert.ok(clicked.fx < f.width / 2 && clicked.fy < f.height / 2, `query cell ${clicked.fx}, ${clicked.fy} in the upper left`);
    assertAttentionRow(clicked, 'clicked row', f.width, f.height);
    // The same row through the public API, at the image coordinates of that feature cell.
    const api = await page.evaluate(async ({ fx, fy }) => {
      const el = document.querySelector('attention-playground');
      const grid = el.result.blocks.nonlocal.features.before;
      const x = ((fx + 0.5) * el.result.width) / grid.width;
      const y = ((fy + 0.5) * el.result.height) / grid.height;
      const row = await el.attentionAt(x, y);
      return { width: row.width, height: row.height, data: Array.from(row.data) };
    }, clicked);
    assert.deepEqual(api, { width: clicked.width, height: clicked.height, data: clicked.data });
    const centre = (await page.evaluate(() => document.querySelector('attention-playground').exportJson())).blocks.nonlocal.attention.data;
    assert.notDeepEqual(clicked.data, centre, 'another query attends elsewhere');
    const drawn = await canvasInk(page);
    assert.ok(drawn.colours > 200, 'the row is drawn');
    await screenshot(page, 'page-nonlocal-clicked');
    assert.ok(box.height > 100);
    assert.notDeepEqual(drawn, before, 'the canvas changed with the new row');

    // Self-attention (on by default): one row per head.
    await page.locator('attention-playground select.inspect').selectOption('mhsa');
    const heads = await page.evaluate(async () => {
      const row = await document.querySelector('attention-playground').attentionAt(10, 10, 'mhsa');
      return { heads: row.heads, length: row.data.length, width: row.width };
    });
    assert.deepEqual(heads, { heads: 4, length: 4 * f.width * f.height, width: f.width });
    await screenshot(page, 'page-mhsa-heads');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('WebGPU and the CPU path give the same numbers', async (t) => {
    const results = {};
    for (const kind of ['webgpu', 'cpu']) {
      const { page, problems } = await open(kind, `/#backend=${kind}`);
      await firstResult(page);
      await page.evaluate(() => document.querySelector('attention-playground').setAttribute('blocks', 'se eca gc cbam nonlocal mhsa'));
      await syntheticPng(page);
      results[kind] = await page.evaluate(async () => document.querySelector('attention-playground').run(window.__png).then(() => document.querySelector('attention-playground').exportJson()));
      if (kind === 'webgpu') {
        await setView(page, 'spatial');
        await screenshot(page, 'webgpu-spatial');
      }
      assert.deepEqual(problems, [], kind);
      await page.close();
    }
    assert.equal(results.webgpu.backend, 'webgpu', `ran on WebGPU (${results.webgpu.fallback ?? ''})`);
    assert.equal(results.webgpu.fallback, undefined, 'no block fell back to the CPU');
    assert.equal(results.cpu.backend, 'cpu');
    assertResult(results.cpu, ALL_BLOCKS);
    const { worst, largest } = compareNumbers(
      { blocks: results.webgpu.blocks, prediction: results.webgpu.prediction },
      { blocks: results.cpu.blocks, prediction: results.cpu.prediction },
    );
    t.diagnostic(`largest |webgpu - cpu| over every map: ${largest.toExponential(2)}`);
    assert.ok(worst.excess <= 0, `WebGPU and CPU differ beyond abs ${BACKEND_TOLERANCE.abs} + rel ${BACKEND_TOLERANCE.rel}: ${JSON.stringify(worst)}`);
  });
});

describe('bad input', () => {
  test('the CPU path runs the SIMD build where the browser has it; the scalar build gives the same numbers', async () => {
    const { page, problems } = await open('cpu');
    await firstResult(page);
    await syntheticPng(page);
    const runAll = () => page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      el.setAttribute('blocks', 'se eca gc cbam nonlocal mhsa');
      await el.run(window.__png);
      const badge = el.shadowRoot.querySelector('.backend-name').textContent;
      return { result: el.exportJson(), badge };
    });
    const simd = await runAll();
    assert.equal(simd.result.backend, 'cpu');
    assert.equal(simd.result.kernels, 'simd128', 'Chromium has WebAssembly SIMD: the SIMD build runs');
    assert.equal(simd.badge, 'CPU · wasm SIMD');
    await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      el.setAttribute('wasm', 'scalar');
      await el.ready;
    });
    const scalar = await runAll();
    assert.equal(scalar.result.kernels, 'portable', 'wasm="scalar" loads the build without SIMD');
    assert.equal(scalar.badge, 'CPU · wasm');
    assertResult(scalar.result, ALL_BLOCKS);
    const { worst } = compareNumbers({ blocks: simd.result.blocks, prediction: simd.result.prediction }, { blocks: scalar.result.blocks, prediction: scalar.result.prediction });
    assert.ok(worst.excess <= 0, `SIMD and scalar builds differ beyond abs ${BACKEND_TOLERANCE.abs} + rel ${BACKEND_TOLERANCE.rel}: ${JSON.stringify(worst)}`);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('every bad file ends in a clear message or a scaled result, and the element keeps working', async () => {
    const { page, problems, requests } = await open('cpu');
    await firstResult(page);
    const loadedRequests = requests.length;
    const attempt = (make) => page.evaluate(async (source) => {
      const el = document.querySelector('attention-playground');
      const file = await (0, eval)(source)()();
      try {
        const result = await el.run(file);
        return { ok: true, width: result.width, height: result.height };
      } catch (e) {
        const shown = el.shadowRoot.querySelector('.message');
        return { ok: false, message: e.message, shown: shown.hidden ? null : shown.textContent };
      }
    }, make.toString());
    const refused = async (name, make, pattern) => {
      const outcome = await attempt(make);
      assert.equal(outcome.ok, false, `${name} is refused`);
      assert.match(outcome.message, pattern, name);
      assert.equal(outcome.shown, outcome.message, `${name}: the element shows the message`);
      // ...and the next photo works.
      const next = await attempt(() => async () => {
        const canvas = new OffscreenCanvas(64, 48);
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = '#3a7';
        ctx.fillRect(0, 0, 64, 48);
        ctx.fillStyle = '#c33';
        ctx.fillRect(20, 10, 20, 20);
        return new File([await canvas.convertToBlob()], 'next.png', { type: 'image/png' });
      });
      assert.deepEqual(next, { ok: true, width: 224, height: 168 }, `after ${name}, the next image runs`);
    };
    await refused('a text file', () => async () => new File(['hello'], 'notes.txt', { type: 'text/plain' }), /"notes\.txt" is not an image \(text\/plain\)/);
    await refused('an empty file', () => async () => new File([], 'empty.jpg', { type: 'image/jpeg' }), /"empty\.jpg" is empty \(0 bytes\)/);
    await refused('a corrupt JPEG', () => async () => new File([new Uint8Array(4096).map((_, i) => (i * 7919) % 256)], 'broken.jpg', { type: 'image/jpeg' }),
      /"broken\.jpg" is not a photo this can read; choose a JPEG, PNG, WebP, GIF or BMP file/);
    await refused('a file without a type that is not an image', () => async () => new File(['{"not": "an image"}'], 'data'), /"data" is not a photo this can read/);
    await refused('a 120 MB upload', () => async () => new File([new Uint8Array(120 * 2 ** 20)], 'huge.jpg', { type: 'image/jpeg' }), /is 120 MB; the limit is 100 MB/);

    const svg = await attempt(() => async () => new File(['<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"><rect width="300" height="200" fill="#48c"/><circle cx="150" cy="100" r="60" fill="#fc3"/></svg>'], 'shape.svg', { type: 'image/svg+xml' }));
    assert.deepEqual(svg, { ok: true, width: 224, height: 149 }, 'an SVG is drawn at its own size and scaled');
    const unsized = await attempt(() => async () => new File(['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4" fill="#c33"/></svg>'], 'nosize.svg', { type: 'image/svg+xml' }));
    assert.equal(unsized.ok, true, `an SVG without a size still runs: ${JSON.stringify(unsized)}`);
    // A two-frame GIF (the first frame is used), 2 x 1 pixels.
    const gif = await attempt(() => async () => {
      const bytes = Uint8Array.from(atob('R0lGODlhAgABAPAAAP8AAAAA/yH/C05FVFNDQVBFMi4wAwEAAAAh+QQACgAAACwAAAAAAgABAAACAoRRACH5BAAKAAAALAAAAAACAAEAAAICBAoAOw=='), (c) => c.charCodeAt(0));
      return new File([bytes], 'frames.gif', { type: 'image/gif' });
    });
    assert.deepEqual(gif, { ok: true, width: 224, height: 112 }, 'a GIF runs on its first frame');
    const giant = await attempt(() => async () => {
      const canvas = new OffscreenCanvas(12000, 12000);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#e0d0b0';
      ctx.fillRect(0, 0, 12000, 12000);
      ctx.fillStyle = '#246';
      ctx.beginPath();
      ctx.arc(6000, 6000, 3000, 0, Math.PI * 2);
      ctx.fill();
      return new File([await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 })], 'giant.jpg', { type: 'image/jpeg' });
    });
    assert.deepEqual(giant, { ok: true, width: 224, height: 224 }, 'a 12000 x 12000 photo is scaled to the working size');
    const shown = await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('.message').hidden);
    assert.equal(shown, true, 'a good image clears the last message');

    // The file picker path, with a non-image.
    await page.locator('attention-playground input.file').setInputFiles({ name: 'readme.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo') });
    await page.waitForFunction(() => !document.querySelector('attention-playground').shadowRoot.querySelector('.message').hidden);
    assert.match(await page.locator('attention-playground .message').textContent(), /"readme\.txt" is not an image/);
    await screenshot(page, 'bad-input-message');
    const ink = await canvasInk(page);
    assert.ok(ink.inked > 0.2, 'the last good result stays on screen under the message');

    assert.deepEqual(requests.slice(loadedRequests), [], 'the photos never leave the page');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('the JS API rejects what it cannot use with a message', async () => {
    const { page, problems } = await open('cpu');
    await firstResult(page);
    await nextResult(page, () => page.locator('attention-playground label.chip:has-text("MHSA")').click());
    const messages = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      const grab = (p) => p.then(() => 'resolved', (e) => e.message);
      return {
        number: await grab(el.run(42)),
        outside: await grab(el.attentionAt(5000, 5000)),
        offBlock: await grab(el.attentionAt(5, 5, 'mhsa')),
        missing: await grab(el.run(new URL('./samples/no-such-photo.jpg', location.href).href)),
      };
    });
    assert.match(messages.number, /run\(\) takes a File or Blob, an ImageBitmap, an <img> element, a canvas or an image URL/);
    assert.match(messages.outside, /outside the 224 x 149 image/);
    assert.match(messages.offBlock, /Block mhsa is not switched on/);
    assert.match(messages.missing, /Could not load .*no-such-photo\.jpg: the server answered 404/);

    // Own weights for a block: a file that is no safetensors, one for another channel count, and
    // one that fits (SE on the 16 named channels, hidden width 8), which changes the gates.
    const own = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      const grab = (p) => p.then(() => 'resolved', (e) => e.message);
      const safetensors = (tensors) => {
        const header = {};
        let offset = 0;
        for (const [name, shape] of Object.entries(tensors)) {
          const bytes = 4 * shape.reduce((a, b) => a * b, 1);
          header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
          offset += bytes;
        }
        const json = new TextEncoder().encode(JSON.stringify(header));
        const out = new Uint8Array(8 + json.length + offset);
        new DataView(out.buffer).setUint32(0, json.length, true);
        out.set(json, 8);
        const data = new DataView(out.buffer, 8 + json.length);
        for (let i = 0; i < offset / 4; i++) data.setFloat32(4 * i, Math.sin(i * 0.7) * 0.5, true);
        return out;
      };
      const before = Array.from(el.result.blocks.se.channel);
      const garbage = await grab(el.loadWeights('se', new Uint8Array([1, 2, 3])));
      const wide = await grab(el.loadWeights('se', safetensors({ 'fc1.weight': [8, 64, 1, 1], 'fc2.weight': [64, 8, 1, 1] })));
      const fits = await grab(el.loadWeights('se', safetensors({ 'fc1.weight': [8, 16, 1, 1], 'fc1.bias': [8], 'fc2.weight': [16, 8, 1, 1], 'fc2.bias': [16] })));
      const after = Array.from(el.result.blocks.se.channel);
      await el.loadWeights('se', null);
      const reset = Array.from(el.result.blocks.se.channel);
      return { garbage, wide, fits, changed: after.some((v, i) => Math.abs(v - before[i]) > 1e-3), reset: reset.every((v, i) => v === before[i]) };
    });
    assert.match(own.garbage, /^SE weights: .*not a valid safetensors file/);
    assert.match(own.wide, /block se sits on 16 channels in this network; these weights are for 64/);
    assert.equal(own.fits, 'resolved');
    assert.ok(own.changed, 'own SE weights change the gates');
    assert.ok(own.reset, 'null goes back to the trained weights');
    // A 404 is logged by the browser itself as a failed resource; nothing else may be.
    assert.deepEqual(problems.filter((p) => !/Failed to load resource: .*404/.test(p)), []);
    await page.close();
  });
});

describe('input and output paths', () => {
  test('a dropped photo and a pasted one run; Export PNG and Export JSON download what is shown', async () => {
    const { page, problems, requests } = await open('cpu');
    await firstResult(page);
    const loadedRequests = requests.length;
    const dropped = await nextResult(page, () => page.evaluate(async () => {
      const canvas = new OffscreenCanvas(120, 80);
      canvas.getContext('2d').fillRect(30, 20, 40, 30);
      const file = new File([await canvas.convertToBlob()], 'dropped.png', { type: 'image/png' });
      const data = new DataTransfer();
      data.items.add(file);
      const el = document.querySelector('attention-playground');
      el.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }));
    assert.equal(dropped.image, 'dropped.png');
    assert.deepEqual([dropped.width, dropped.height], [224, 149]);
    const pasted = await nextResult(page, () => page.evaluate(async () => {
      const canvas = new OffscreenCanvas(50, 100);
      canvas.getContext('2d').fillRect(10, 10, 20, 20);
      const data = new DataTransfer();
      data.items.add(new File([await canvas.convertToBlob()], 'pasted.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }));
    assert.equal(pasted.image, 'pasted.png');
    assert.deepEqual([pasted.width, pasted.height], [112, 224]);

    const [json] = await Promise.all([page.waitForEvent('download'), page.locator('attention-playground .export-json').click()]);
    assert.equal(json.suggestedFilename(), 'attention-pasted-spatial.json');
    const exported = JSON.parse(await readFile(await json.path(), 'utf8'));
    assertResult(exported, ALL_BLOCKS);
    const [png] = await Promise.all([page.waitForEvent('download'), page.locator('attention-playground .export-png').click()]);
    assert.equal(png.suggestedFilename(), 'attention-pasted-spatial.png');
    const bytes = await readFile(await png.path());
    assert.deepEqual([...bytes.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
    // The figure at twice the CSS pixels the canvas shows (the screen's density here is 1).
    assert.equal(bytes.readUInt32BE(16), 2 * (24 + await page.evaluate(() => document.querySelector('attention-playground')._drawn.width)), 'the PNG is the figure at 2x, with its margin');
    assert.deepEqual(requests.slice(loadedRequests), [], 'no network request');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('backend="webgpu" without WebGPU says why, and switching to auto recovers', async () => {
    const { page, problems } = await open('cpu', '/embed.html');
    await firstResult(page);
    await page.setContent(`<!doctype html><body><script type="module" src="${site.origin}/attention-playground.js"></script>
      <attention-playground backend="webgpu"></attention-playground></body>`);
    const failure = await page.evaluate(() => document.querySelector('attention-playground').ready.then(() => 'ready', (e) => e.message));
    assert.match(failure, /^GPU backend unavailable: /);
    assert.match(await page.locator('attention-playground .message').textContent(), /GPU backend unavailable/);
    await page.locator('attention-playground select.backend').selectOption('auto');
    const result = await firstResult(page);
    assert.equal(result.backend, 'cpu');
    assert.equal(await page.locator('attention-playground .message').isHidden(), true);
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('the embed', () => {
  test('two lines in a plain page: the element sizes itself, runs, and offers the API', async () => {
    const { page, problems } = await open('webgpu', '/embed.html');
    const result = await firstResult(page);
    // This browser's only WebGPU adapter is SwiftShader (isFallbackAdapter): `auto` leaves it for
    // the CPU path, and the badge says why in words.
    assert.equal(result.backend, 'cpu', 'auto does not take a software adapter');
    const why = await page.evaluate(() => {
      const el = document.querySelector('attention-playground');
      const span = el.shadowRoot.querySelector('.badge .why');
      return { text: span.textContent, shown: !span.hidden && span.getBoundingClientRect().width > 0, title: span.parentElement.title, skipped: el._info.skipped };
    });
    assert.equal(why.skipped, 'software');
    assert.ok(why.shown, 'the reason is on the badge');
    assert.match(why.text, /software/);
    assert.match(why.title, /only WebGPU adapter, .+, is a software one/);
    assertResult(result, ['cbam']);
    const ink = await canvasInk(page);
    assert.ok(ink.colours > 200 && ink.inked > 0.2, `drawn: ${JSON.stringify(ink)}`);
    const box = await page.locator('attention-playground').boundingBox();
    assert.ok(box.width > 500 && box.height > 300, `it sizes itself: ${JSON.stringify(box)}`);
    assert.equal(await page.locator('attention-playground .gallery').count(), 0, 'controls="minimal" has no photo input');
    await screenshot(page, 'embed-minimal');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('it starts only when it comes near the viewport, and honours its attributes', async () => {
    const { page, problems, requests } = await open('cpu', '/embed.html');
    await firstResult(page);
    await page.setContent(`<!doctype html><body><div style="height: 4000px">scroll down</div>
      <script type="module" src="${site.origin}/attention-playground.js"></script>
      <attention-playground id="late" blocks="gc eca" view="channel" backend="cpu" controls="none" image="${site.origin}/samples/rocket.jpg"></attention-playground></body>`);
    await page.waitForFunction(() => customElements.get('attention-playground'));
    const started = requests.length;
    await page.waitForTimeout(500);
    assert.equal(await page.evaluate(() => document.querySelector('#late').result), null, 'no run while far below the viewport');
    assert.ok(!requests.slice(started).some((u) => u.endsWith('.wasm')), 'no wasm fetched yet');
    await page.locator('#late').scrollIntoViewIfNeeded();
    const result = await firstResult(page, '#late');
    assertResult(result, ['gc', 'eca']);
    assert.equal(result.image, 'rocket.jpg');
    assert.equal(await page.locator('#late .tabs').count(), 0, 'controls="none" shows the figure alone');
    const ink = await canvasInk(page, '#late');
    assert.ok(ink.colours > 50, 'the channel view is drawn');
    await page.locator('#late').screenshot({ path: `${SHOTS}embed-none-channel.png` });
    assert.deepEqual(problems, []);
    await page.close();
  });
});
