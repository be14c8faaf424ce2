// The token walkthrough (view="tokens", www/views/tokens.js over src/tokens.rs): self-attention on
// 早上好 step by step. Its numbers are checked against what they must be by hand, from the walk's
// own inputs: softmax(X Xᵀ) from X, the attention weights as softmax(Q Kᵀ / √dₖ) from Q and K
// (they are the engine's MHSA rows), each row summing to one; the reader's own characters and
// head count; WebGPU against the CPU path; the refusal of a sequence too long; both languages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { firstResult, openPage, servedPlayground } from './support.mjs';

const SHOTS = new URL('../../test-output/browser/', import.meta.url).pathname;
const TOLERANCE = 1e-5; // float32 sums of a dozen products against float64 here

const site = servedPlayground({ cpu: {}, webgpu: { webgpu: true } });

// Opens the playground on the tokens view and waits for the walk of its attributes.
async function openWalk(kind, hash = '') {
  const { page, problems } = await openPage(site.browsers[kind], `${site.origin}/#view=tokens&backend=${kind}${hash}`);
  await firstResult(page);
  const walk = await waitWalk(page);
  return { page, problems, walk };
}

function waitWalk(page) {
  return page.evaluate(async () => {
    const el = document.querySelector('attention-playground');
    for (let i = 0; i < 200; i++) {
      const w = el._state.walk;
      const key = `${el.tokens}|${el.tokenHeads}|${el.backend}`;
      if (w?.key === key && (w.result || w.error)) {
        if (w.error) return { error: w.error, drawnHeight: el._layout?.height };
        const plain = (m) => ({ width: m.width, height: m.height, data: Array.from(m.data) });
        const r = w.result;
        return {
          tokens: r.tokens, dim: r.dim, scale: r.scale, ran_on: r.ran_on, x: plain(r.x),
          similarity: plain(r.similarity), similarity_weights: plain(r.similarity_weights), output: plain(r.output),
          heads: r.heads.map((h) => Object.fromEntries(Object.entries(h).map(([k, m]) => [k, plain(m)]))),
          drawnHeight: el._layout?.height, rows: el._layout?.tokenRows?.length,
        };
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error('no walk');
  });
}

const softmax = (row) => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const product = (a, b, n, m, d, scale = 1) => Array.from({ length: n * m }, (_, k) => {
  const [i, j] = [Math.floor(k / m), k % m];
  let s = 0;
  for (let c = 0; c < d; c++) s += a[i * d + c] * b[j * d + c];
  return s * scale;
});
const near = (got, want, what) => got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= TOLERANCE * (1 + Math.abs(want[i])), `${what}[${i}]: ${g} against ${want[i]}`));

function checkByHand(walk) {
  const t = walk.tokens.length;
  const xxt = product(walk.x.data, walk.x.data, t, t, walk.dim);
  near(walk.similarity.data, xxt, 'X Xᵀ');
  const soft = [];
  for (let i = 0; i < t; i++) soft.push(...softmax(xxt.slice(i * t, (i + 1) * t)));
  near(walk.similarity_weights.data, soft, 'softmax(X Xᵀ)');
  const dk = walk.dim / walk.heads.length;
  assert.ok(Math.abs(walk.scale - 1 / Math.sqrt(dk)) < 1e-7);
  walk.heads.forEach((h, k) => {
    const scores = product(h.q.data, h.k.data, t, t, dk, walk.scale);
    near(h.scores.data, scores, `head ${k} scores`);
    const weights = [];
    for (let i = 0; i < t; i++) weights.push(...softmax(scores.slice(i * t, (i + 1) * t)));
    near(h.weights.data, weights, `head ${k} weights`);
    for (let i = 0; i < t; i++) {
      const sum = h.weights.data.slice(i * t, (i + 1) * t).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `head ${k}: row ${i} of the weights sums to ${sum}`);
    }
  });
}

test('早上好 step by step: every number as by hand, drawn, hover names where a token attends', async () => {
  const { page, problems, walk } = await openWalk('cpu');
  assert.deepEqual(walk.tokens, ['早', '上', '好']);
  assert.equal(walk.dim, 12);
  assert.equal(walk.heads.length, 1);
  checkByHand(walk);
  // The weights are not all even: the attention chooses (the documented gain on Wq, Wk, Wv).
  const spread = Math.max(...walk.heads[0].weights.data) - Math.min(...walk.heads[0].weights.data);
  assert.ok(spread > 0.1, `the attention weights differ between tokens (${spread})`);
  assert.ok(walk.drawnHeight > 400 && walk.rows >= 3 * 9, `every matrix drawn (${walk.drawnHeight} px, ${walk.rows} rows)`);
  // Hover the second token's row: the view outlines it and says where it attends.
  const region = await page.evaluate(() => document.querySelector('attention-playground')._layout.tokenRows.find((r) => r.index === 1));
  const box = await page.locator('attention-playground canvas').boundingBox();
  await page.mouse.move(box.x + region.x + region.width / 2, box.y + region.y + region.height / 2);
  await page.waitForFunction(() => document.querySelector('attention-playground')._state.tokenHover === 1);
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'tokens.png') });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the reader\'s own characters and 1 to 4 heads; WebGPU gives the CPU path numbers', async () => {
  const walks = {};
  for (const kind of ['cpu', 'webgpu']) {
    const { page, problems, walk } = await openWalk(kind, '&token-heads=3');
    assert.equal(walk.heads.length, 3);
    // Typed, as a person would: the walk follows the input.
    await page.locator('attention-playground input.tokens').fill('注意力机制');
    await page.locator('attention-playground select.token-heads').selectOption('4');
    await page.waitForFunction(() => location.hash.includes('token-heads=4') && location.hash.includes('tokens='));
    const typed = await waitWalk(page);
    assert.deepEqual(typed.tokens, ['注', '意', '力', '机', '制']);
    assert.equal(typed.heads.length, 4);
    checkByHand(typed);
    assert.match(typed.ran_on, kind === 'webgpu' ? /^gpu backend \(/ : /^cpu backend/);
    walks[kind] = typed;
    assert.deepEqual(problems, []);
    await page.close();
  }
  const [g, c] = [walks.webgpu, walks.cpu];
  near(g.output.data, c.output.data, 'output, WebGPU against the CPU');
  g.heads.forEach((h, k) => near(h.weights.data, c.heads[k].weights.data, `head ${k} weights, WebGPU against the CPU`));
});

test('a sequence too long is refused in the view, in words, and the element keeps working', async () => {
  const { page, walk } = await openWalk('cpu', `&tokens=${encodeURIComponent('一二三四五六七八九十百千万')}`);
  assert.match(walk.error, /13 characters; type 1 to 12/);
  await page.locator('attention-playground input.tokens').fill('你好');
  const ok = await waitWalk(page);
  assert.deepEqual(ok.tokens, ['你', '好']);
  await page.close();
});

test('in Chinese', async () => {
  const { page, problems } = await openWalk('cpu', '&lang=zh&token-heads=2');
  const tab = await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('.tab[aria-selected="true"]').textContent);
  assert.equal(tab, '词元自注意力');
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'tokens-zh.png') });
  assert.deepEqual(problems, []);
  await page.close();
});
