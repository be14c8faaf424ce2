// The ablation sweep on an opened network (the Ablation view): every stage and every block
// switched off in turn, each row the change the engine computes when that one is switched off
// through the `off` attribute, drawn largest first; Cancel stops it and says so; leaving the view
// stops it too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { servedPlayground } from './support.mjs';

const site = servedPlayground({ cpu: {} });
const FIXTURE = new URL('../fixtures/nets/seresnet50/model.safetensors', import.meta.url);

async function openNetwork(page) {
  await page.goto(`${site.origin}/#backend=cpu`);
  await page.waitForFunction(() => document.querySelector('attention-playground')?.result, null, { timeout: 60_000 });
  const b64 = (await readFile(FIXTURE)).toString('base64');
  await page.evaluate(async (b64) => {
    const el = document.querySelector('attention-playground');
    await el.loadModel(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'seresnet50.safetensors'));
  }, b64);
}

test('every stage and every block off in turn, as the off attribute computes it, largest change first', async () => {
  const page = await site.browsers.cpu.newPage({ viewport: { width: 1100, height: 1000 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await openNetwork(page);
  await page.locator('attention-playground .tab[data-view="ablation"]').click();
  await page.waitForFunction(() => document.querySelector('attention-playground')._state.sweep?.done, null, { timeout: 120_000 });
  const sweep = await page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    const s = el._state.sweep;
    const stages = [...new Set(el.result.network.order.map((p) => el.result.blocks[p].stage))];
    return { rows: s.rows.map((r) => ({ ...r })), units: s.units, stages, order: el.result.network.order, full: el.result.change?.full, cancelShown: !el.shadowRoot.querySelector('.sweep-cancel').hidden };
  });
  assert.deepEqual(sweep.units, [...sweep.stages, ...sweep.order], 'each stage, then each block');
  assert.equal(sweep.rows.length, sweep.units.length);
  assert.ok(sweep.rows.every((r) => Number.isFinite(r.full) && Number.isFinite(r.off) && r.full === sweep.rows[0].full), 'one top class, one probability with every block on');
  assert.ok(sweep.rows.some((r) => Math.abs(r.off - r.full) > 1e-6), 'switching something off changes the probability');
  assert.equal(sweep.cancelShown, false, 'no Cancel once it is done');
  // A row is what the off attribute gives for that one: the deepest stage's.
  const row = sweep.rows.find((r) => r.unit === sweep.stages.at(-1));
  const viaAttribute = await page.evaluate(async (unit) => {
    const el = document.querySelector('attention-playground');
    const next = new Promise((r) => el.addEventListener('attention-result', (e) => r(e.detail), { once: true }));
    el.setAttribute('off', unit);
    return (await next).change;
  }, row.unit);
  assert.ok(Math.abs(viaAttribute.off - row.off) <= 1e-7, `${row.unit}: ${viaAttribute.off} vs ${row.off}`);
  assert.ok(Math.abs(viaAttribute.full - row.full) <= 1e-7);
  assert.deepEqual(problems, []);
  await page.close();
});

test('Cancel stops a sweep and says how far it got; the element keeps working', async () => {
  const page = await site.browsers.cpu.newPage({ viewport: { width: 1100, height: 1000 } });
  await openNetwork(page);
  const stopped = await page.evaluate(async () => {
    const el = document.querySelector('attention-playground');
    el.setAttribute('view', 'ablation');
    // Cancel as soon as the first row is in.
    for (let i = 0; i < 600 && !(el._state.sweep?.rows.length > 0); i++) await new Promise((r) => setTimeout(r, 20));
    el.shadowRoot.querySelector('.sweep-cancel').click();
    for (let i = 0; i < 600 && el._state.sweep.running; i++) await new Promise((r) => setTimeout(r, 20));
    return { rows: el._state.sweep.rows.length, units: el._state.sweep.units.length, done: el._state.sweep.done, running: el._state.sweep.running };
  });
  assert.equal(stopped.running, false);
  assert.equal(stopped.done, false);
  assert.ok(stopped.rows >= 1 && stopped.rows < stopped.units, `stopped part way: ${stopped.rows} of ${stopped.units}`);
  const next = await page.evaluate(async () => {
    const el = document.querySelector('attention-playground');
    const result = new Promise((r) => el.addEventListener('attention-result', (e) => r(e.detail), { once: true }));
    el.setAttribute('off', 'layer4');
    return (await result).off;
  });
  assert.deepEqual(next, ['layer4']);
  await page.close();
});
