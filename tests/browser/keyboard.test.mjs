// The figure from the keyboard alone: Tab reaches the chosen tab and the arrow keys move along the
// tab list; Space on a block chip switches it and the focus stays on the chip; Tab reaches the
// figure, and in each view the arrow keys do what the pointer does (move the query, walk the bars,
// the token rows, the steps' channels, the network's tiles; Enter opens a tile). The figure's
// text alternative names what it shows. No mouse event is sent in this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { servedPlayground } from './support.mjs';

const site = servedPlayground({ cpu: {} });

/** Presses Tab until `predicate` (run in the page on the element's focused node) holds. */
async function tabTo(page, predicate, most = 60) {
  for (let i = 0; i < most; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(predicate)) return;
  }
  throw new Error('Tab never reached it');
}

const focused = () => document.querySelector('attention-playground').shadowRoot.activeElement;
const element = () => document.querySelector('attention-playground');

async function ready(page) {
  await page.waitForFunction(() => {
    const el = document.querySelector('attention-playground');
    return el?.result && el._layout;
  }, null, { timeout: 60_000 });
}

test('tabs, chips and every view of the bundled network from the keyboard', async () => {
  const page = await site.browsers.cpu.newPage({ viewport: { width: 1100, height: 1000 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${site.origin}/#backend=cpu&view=spatial`);
  await ready(page);

  // The tab list is one Tab stop, on the chosen tab; the arrows move the view and the focus.
  await tabTo(page, () => document.querySelector('attention-playground').shadowRoot.activeElement?.classList.contains('tab'));
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.activeElement.dataset.view), 'spatial');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground').view), 'nonlocal');
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.activeElement.dataset.view), 'nonlocal');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground').view), 'channel');
  const tabStops = await page.evaluate(() => [...document.querySelector('attention-playground').shadowRoot.querySelectorAll('.tab')].filter((t) => t.tabIndex === 0).length);
  assert.equal(tabStops, 1, 'one Tab stop in the tab list');
  // Home, then Right through the list: every view of the bundled network, in the tabs' order, drawn.
  const offered = await page.evaluate(() => [...document.querySelector('attention-playground').shadowRoot.querySelectorAll('.tab:not([hidden])')].map((t) => t.dataset.view));
  await page.keyboard.press('Home');
  const walked = [];
  for (let i = 0; i < offered.length; i++) {
    walked.push(await page.evaluate(() => {
      const el = document.querySelector('attention-playground');
      return el._layout?.height > 40 ? el.view : `${el.view} (not drawn)`;
    }));
    await page.keyboard.press('ArrowRight');
  }
  assert.deepEqual(walked, offered, 'the arrows reach and draw every view');
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground').view), offered[0], 'Right on the last tab wraps to the first');

  // A chip switched with Space keeps the focus.
  await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('.blocks input[value="eca"]').focus());
  const rerun = page.evaluate(() => new Promise((r) => document.querySelector('attention-playground').addEventListener('attention-result', r, { once: true })));
  await page.keyboard.press('Space');
  await rerun;
  const chip = await page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    return { blocks: el.blocks, focused: el.shadowRoot.activeElement?.value };
  });
  assert.ok(!chip.blocks.includes('eca'), 'ECA switched off');
  assert.equal(chip.focused, 'eca', 'the focus stays on the chip');

  // The figure takes the focus.
  await tabTo(page, () => document.querySelector('attention-playground').shadowRoot.activeElement?.tagName === 'CANVAS');

  // Channel weights: the arrows walk the bars from the largest; the text alternative names them.
  const label = await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('canvas').getAttribute('aria-label'));
  assert.match(label, /channel weights\. Highest: .+ \d\.\d+.*Lowest:/);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  const bars = await page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    const w = el.result.blocks[el._inspected()].channel;
    const order = [...w.keys()].sort((a, b) => w[b] - w[a]);
    return { hover: el._state.hoverChannel, second: order[1] };
  });
  assert.equal(bars.hover, bars.second, 'two steps right: the second largest gate');
  assert.match(await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('canvas').getAttribute('aria-label')), /: weight [\d.]+, number 2 of 16\./, 'the label reads the bar');

  // Attention: the arrows move the query one cell, and its row is asked for.
  await page.evaluate(() => document.querySelector('attention-playground').setAttribute('view', 'nonlocal'));
  await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('canvas').focus());
  const start = await page.evaluate(() => ({ ...document.querySelector('attention-playground').result.blocks.nonlocal.queryCell }));
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction(({ x, y }) => {
    const a = document.querySelector('attention-playground')._state.attention;
    return a?.block === 'nonlocal' && a.fx === x + 1 && a.fy === y + 1;
  }, start, { timeout: 30_000 });
  const moved = await page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    return { query: el.getAttribute('query'), label: el.shadowRoot.querySelector('canvas').getAttribute('aria-label') };
  });
  assert.ok(moved.query, 'the query is kept in the attribute (and the address)');
  assert.match(moved.label, /where the marked query attends; most/);

  // Self-attention on tokens: Down walks the rows.
  await page.evaluate(() => document.querySelector('attention-playground').setAttribute('view', 'tokens'));
  await page.waitForFunction(() => document.querySelector('attention-playground')._state.walk?.result, null, { timeout: 30_000 });
  await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('canvas').focus());
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground')._state.tokenHover), 1);

  // How it works: Right follows a channel through SE's bars.
  await page.evaluate(() => { const el = document.querySelector('attention-playground'); el._state.inspect.explain = 'se'; el.setAttribute('view', 'explain'); });
  await page.waitForFunction(() => document.querySelector('attention-playground')._state.trace?.result, null, { timeout: 30_000 });
  await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('canvas').focus());
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.deepEqual(await page.evaluate(() => document.querySelector('attention-playground')._state.traceHover), { kind: 'c', index: 1 });
  assert.deepEqual(problems, []);
  await page.close();
});

test('an opened network\'s tiles from the keyboard: arrows walk them, Space switches one, Enter opens it', async () => {
  const page = await site.browsers.cpu.newPage({ viewport: { width: 1100, height: 1000 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // dist/ holds no fixture network: the bundled one's weights are not a network the page opens,
  // so open a small timm network built in the page from the fixture's bytes.
  await page.goto(`${site.origin}/#backend=cpu`);
  await ready(page);
  const bytes = await import('node:fs/promises').then((fs) => fs.readFile(new URL('../fixtures/nets/seresnet50/model.safetensors', import.meta.url)));
  await page.evaluate(async (b64) => {
    const el = document.querySelector('attention-playground');
    const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    await el.loadModel(new File([data], 'seresnet50.safetensors'));
    el.setAttribute('view', 'network');
  }, bytes.toString('base64'));
  await page.waitForFunction(() => document.querySelector('attention-playground')._layout?.tiles?.length > 1, null, { timeout: 60_000 });
  await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('canvas').focus());
  const label = await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('canvas').getAttribute('aria-label'));
  assert.match(label, /attention blocks of .+ Arrow keys walk the tiles/);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  const tiles = await page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    return { selected: el._state.selected, second: el._layout.tiles[1].path };
  });
  assert.equal(tiles.selected, tiles.second);
  const rerun = page.evaluate(() => new Promise((r) => document.querySelector('attention-playground').addEventListener('attention-result', r, { once: true })));
  await page.keyboard.press('Space');
  await rerun;
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground').getAttribute('off')), tiles.second, 'Space switched the tile off');
  const again = page.evaluate(() => new Promise((r) => document.querySelector('attention-playground').addEventListener('attention-result', r, { once: true })));
  await page.keyboard.press('Space');
  await again;
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground').getAttribute('off')), '', 'and on again');
  await page.keyboard.press('Enter');
  const opened = await page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    return { view: el.view, inspected: el._inspected() };
  });
  assert.equal(opened.view, 'channel', 'an SE block opens on its channel weights');
  assert.equal(opened.inspected, tiles.second);
  assert.deepEqual(problems, []);
  await page.close();
});

test('own weights: the chip says which block runs them, the note follows the block inspected, and a button goes back', async () => {
  const page = await site.browsers.cpu.newPage({ viewport: { width: 1100, height: 1000 } });
  await page.goto(`${site.origin}/#backend=cpu&view=channel`);
  await ready(page);
  const b64 = (await import('node:fs/promises').then((fs) => fs.readFile(new URL('../fixtures/cases/se_f16.safetensors', import.meta.url)))).toString('base64');
  const seen = await page.evaluate(async (b64) => {
    const el = document.querySelector('attention-playground');
    const $ = (s) => el.shadowRoot.querySelector(s);
    el._inspect('se');
    await el.loadWeights('se', Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const onSe = { note: $('.note').hidden ? '' : $('.note').textContent, back: !$('.trained-weights').hidden, mark: $('.blocks input[value="se"]').parentElement.textContent };
    el._inspect('eca');
    const onEca = { note: $('.note').hidden ? '' : $('.note').textContent, back: !$('.trained-weights').hidden };
    el._inspect('se');
    const rerun = new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
    $('.trained-weights').click();
    await rerun;
    const back = { own: Object.keys(el._ownWeights), note: $('.note').hidden ? '' : $('.note').textContent, button: !$('.trained-weights').hidden, mark: $('.blocks input[value="se"]').parentElement.textContent };
    return { onSe, onEca, back };
  }, b64);
  assert.match(seen.onSe.note, /^SE runs your weights/);
  assert.ok(seen.onSe.back, 'the way back is offered');
  assert.match(seen.onSe.mark, /yours/);
  assert.equal(seen.onEca.note, '', 'not ECA\'s note');
  assert.equal(seen.onEca.back, false);
  assert.deepEqual(seen.back.own, []);
  assert.equal(seen.back.button, false);
  assert.doesNotMatch(seen.back.mark, /yours/);
  await page.close();
});
