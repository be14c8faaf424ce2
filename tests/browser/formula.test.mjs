// The formula view (view="formula", www/views/formula.js): Zhu et al.'s generalized attention
// formula typeset as MathML with the chosen block's terms coloured, the table of every block, and
// the three kinds of attention weight for the query: the maps must be the engine's own (the
// Non-local row of the query, GC's context weights) and the convolution's 3x3 window around the
// same query.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { firstResult, openPage, servedPlayground } from './support.mjs';

const SHOTS = new URL('../../test-output/browser/', import.meta.url).pathname;

const site = servedPlayground({ cpu: {}, webgpu: { webgpu: true } });

// What the view shows: the formula's coloured terms, the legend, and its maps against the result.
function shown(page) {
  return page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    const html = el.shadowRoot.querySelector('.view-html');
    const coloured = [...html.querySelectorAll('math [data-term]')].filter((e) => e.style.color).map((e) => e.dataset.term);
    const { maps, query, height } = el._layout;
    const r = el.result.blocks;
    const clicked = el._state.attention?.block === 'nonlocal' ? el._state.attention : null;
    const want = clicked ? clicked.row : r.nonlocal.attention;
    const same = (a, b) => a.width === b.width && a.height === b.height && a.data.every((v, i) => v === b.data[i]);
    const grid = r.se.grid;
    const ones = [];
    maps.position.data.forEach((v, i) => v === 1 && ones.push([i % grid.width, Math.floor(i / grid.width)]));
    return {
      math: Boolean(html.querySelector('math')) && !html.hidden, coloured, legend: html.querySelector('.terms')?.textContent ?? '',
      height, query, grid, ones, nonlocalIsEngine: same(maps.query_key, want), gcIsEngine: same(maps.key, r.gc.context),
      zeros: maps.position.data.filter((v) => v === 0).length, positions: grid.width * grid.height,
    };
  });
}

test('the formula with Non-local\'s terms coloured, the table, and the engine\'s maps for the query', async () => {
  const { page, problems } = await openPage(site.browsers.cpu, `${site.origin}/#view=formula&backend=cpu`);
  await firstResult(page);
  let s = await shown(page);
  assert.ok(s.math, 'the formula is typeset as MathML');
  assert.deepEqual(s.coloured.sort(), ['A', 'M', 'W', 'Wp', 'omega'], 'the five terms coloured');
  assert.match(s.legend, /Non-local sets:.*A_m = softmaxₖ θ\(z_q\)ᵀ φ\(x_k\)/);
  assert.ok(s.height > 450, `table and maps drawn (${s.height} px)`);
  assert.ok(s.nonlocalIsEngine && s.gcIsEngine, 'the maps are the engine\'s Non-local row and GC context weights');
  // The convolution's window: the 3 x 3 cells around the query's cell on the stem's grid.
  const cx = Math.floor(s.query.u * s.grid.width);
  const cy = Math.floor(s.query.v * s.grid.height);
  assert.deepEqual(s.ones.sort(), [-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => [cx + dx, cy + dy])).sort());
  assert.equal(s.zeros, s.positions - 9);
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'formula.png') });

  // A query asked for in the attention view moves every map of this one.
  await page.evaluate(async () => {
    const el = document.querySelector('attention-playground');
    await el.attentionAt(el.result.width * 0.2, el.result.height * 0.3, 'nonlocal');
    el._render();
  });
  const moved = await shown(page);
  assert.ok(moved.nonlocalIsEngine, 'the clicked query\'s row');
  assert.ok(Math.abs(moved.query.u - s.query.u) > 0.1, 'the query moved');
  // Another block chosen: its terms.
  await page.locator('attention-playground select.inspect').selectOption('gc');
  s = await shown(page);
  assert.match(s.legend, /GC sets:.*A_m = softmaxₖ W_k x_k/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('on WebGPU the view draws the same maps from that backend\'s result', async () => {
  const { page, problems } = await openPage(site.browsers.webgpu, `${site.origin}/#view=formula&backend=webgpu`);
  const result = await firstResult(page);
  assert.equal(result.backend, 'webgpu');
  const s = await shown(page);
  assert.ok(s.math && s.nonlocalIsEngine && s.gcIsEngine && s.ones.length === 9);
  assert.deepEqual(problems, []);
  await page.close();
});
