// Every view at the widths a reader meets (a 280-px column, a 390-px phone, a 680-px blog column,
// a 1280-px screen), checked by measurement: every piece of text a view draws on its canvas lies
// inside the drawing and overlaps no other, every control of the card lies inside the card, and
// the page never scrolls sideways. The canvas's text is recorded where it is drawn (fillText and
// strokeText, with the context's transform, alignment and baseline, measured by measureText), so
// a clipped title or two captions on top of each other fail here, not only in a screenshot.
// Screenshots of each view at each width go to test-output/browser/layout-<width>-<view>.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { serve } from '../../tools/serve.mjs';
import { launch } from './support.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const SHOTS = join(ROOT, 'test-output/browser');
const WIDTHS = [280, 390, 680, 1280];
const BUNDLED_VIEWS = ['spatial', 'channel', 'nonlocal', 'features', 'explain', 'formula', 'tokens'];
// Two boxes overlap when they share more than this many pixels in both directions (glyph boxes
// of neighbouring lines may touch).
const OVERLAP_PX = 1.5;
// A glyph may overhang its drawing point by a pixel or so (the side bearing of a T or a
// CJK glyph's ascent): that much past an edge is not a cut.
const EDGE_PX = 1.5;

let server;
let origin;
let browser;

before(async () => {
  server = await serve({ '/': join(ROOT, 'dist'), '/nets/': join(ROOT, 'tests/fixtures/nets') }, 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  await mkdir(SHOTS, { recursive: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

// Runs in the page before any of its scripts: records each text drawn on a canvas as a box in
// the drawing's CSS pixels, per canvas.
function recordCanvasText() {
  const record = (ctx, text, x, y, maxWidth) => {
    if (!String(text).trim()) return;
    const m = ctx.measureText(text);
    const scale = maxWidth !== undefined && m.width > maxWidth ? maxWidth / m.width : 1;
    const left = x - m.actualBoundingBoxLeft * scale;
    const right = x + m.actualBoundingBoxRight * scale;
    const top = y - m.actualBoundingBoxAscent;
    const bottom = y + m.actualBoundingBoxDescent;
    const t = ctx.getTransform();
    const dpr = window.devicePixelRatio || 1;
    const corners = [[left, top], [right, top], [left, bottom], [right, bottom]].map(([px, py]) => [(t.a * px + t.c * py + t.e) / dpr, (t.b * px + t.d * py + t.f) / dpr]);
    const xs = corners.map((c) => c[0]);
    const ys = corners.map((c) => c[1]);
    const list = (ctx.canvas.__texts ??= []);
    list.push({ text: String(text), x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) });
  };
  for (const name of ['fillText', 'strokeText']) {
    const original = CanvasRenderingContext2D.prototype[name];
    CanvasRenderingContext2D.prototype[name] = function (text, x, y, maxWidth) {
      record(this, text, x, y, maxWidth);
      return maxWidth === undefined ? original.call(this, text, x, y) : original.call(this, text, x, y, maxWidth);
    };
  }
  // The element draws on a scratch canvas and copies it: keep the texts of the last drawing.
  const drawImage = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (source, ...rest) {
    if (source instanceof HTMLCanvasElement && source.__texts && rest.length === 2) {
      this.canvas.__texts = source.__texts;
      source.__texts = []; // the scratch canvas is kept: its next drawing starts a new list
    }
    return drawImage.call(this, source, ...rest);
  };
}

/** Waits until the element's current view has drawn what it fetches after a result. */
async function settled(page) {
  await page.waitForFunction(() => {
    const el = document.querySelector('attention-playground');
    if (!el?.result || !el._layout) return false;
    const view = el.view;
    if (view === 'explain') return Boolean(el._state.trace?.result || el._state.trace?.error);
    if (view === 'tokens') return Boolean(el._state.walk?.result || el._state.walk?.error);
    if (view === 'nonlocal') return !el._inspected() || el.result.blocks[el._inspected()]?.off || el._state.independence?.result === el.result;
    if (view === 'features' && el._network) return Boolean(el._state.features);
    if (view === 'channel' && el._network) return Boolean(el._state.channelFeatures);
    if (view === 'ablation') return Boolean(el._state.sweep?.done);
    if (view === 'network') return Object.values(el.result.blocks).filter((b) => b.kind === 'nl').every((b, i) => el._state.rows[el.result.network.order.find((p) => el.result.blocks[p] === b)]);
    return true;
  }, null, { timeout: 120_000, polling: 100 });
  // One more frame: the last answer's drawing.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/** What is wrong with the layout now: texts outside the drawing or on each other, controls outside
 *  the card, a page wider than the window. */
async function problemsOf(page) {
  return page.evaluate(([overlapPx, edge]) => {
    const el = document.querySelector('attention-playground');
    const problems = [];
    const canvas = el.shadowRoot.querySelector('canvas');
    const drawn = el._drawn;
    const texts = canvas.__texts ?? [];
    if (!texts.length) problems.push('the view drew no text');
    for (const b of texts) {
      if (b.x0 < -edge || b.x1 > drawn.width + edge || b.y0 < -edge || b.y1 > drawn.height + edge) {
        problems.push(`"${b.text}" is cut: [${b.x0.toFixed(1)}, ${b.x1.toFixed(1)}] x [${b.y0.toFixed(1)}, ${b.y1.toFixed(1)}] in ${drawn.width} x ${drawn.height}`);
      }
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i];
        const b = texts[j];
        const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
        const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
        if (w > overlapPx && h > overlapPx) problems.push(`"${a.text}" and "${b.text}" overlap by ${w.toFixed(1)} x ${h.toFixed(1)} px`);
      }
    }
    // The canvas is scaled to its column: it must not be drawn narrower than the column shows it.
    const shown = canvas.getBoundingClientRect().width;
    if (drawn.width > shown + 1) problems.push(`the drawing is ${drawn.width} px wide, shown in ${shown.toFixed(0)} px (its text shrinks)`);
    const card = el.shadowRoot.querySelector('.card').getBoundingClientRect();
    // A row that scrolls sideways (the tabs on a phone) may hold what is out of sight.
    const scrolled = (node) => {
      for (let up = node.parentElement; up && !up.classList.contains('card'); up = up.parentElement) {
        if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return true;
      }
      return false;
    };
    for (const node of el.shadowRoot.querySelectorAll('.card *')) {
      const r = node.getBoundingClientRect();
      if (!r.width || !r.height || node.closest('[hidden]') || scrolled(node)) continue;
      if (r.left < card.left - 0.5 || r.right > card.right + 0.5) problems.push(`<${node.tagName.toLowerCase()} class="${node.className}"> runs out of the card: ${r.left.toFixed(0)}..${r.right.toFixed(0)} in ${card.left.toFixed(0)}..${card.right.toFixed(0)}`);
    }
    const page = document.documentElement;
    if (page.scrollWidth > page.clientWidth + 0.5) problems.push(`the page scrolls sideways: ${page.scrollWidth} px in a ${page.clientWidth} px window`);
    return problems;
  }, [OVERLAP_PX, EDGE_PX]);
}

async function check(page, width, name, found) {
  await settled(page);
  const problems = await problemsOf(page);
  await page.locator('attention-playground').screenshot({ path: join(SHOTS, `layout-${width}-${name}.png`) });
  if (problems.length) found.push(`${width} px, ${name}:\n    ${problems.slice(0, 12).join('\n    ')}`);
}

async function setView(page, view) {
  await page.evaluate((v) => document.querySelector('attention-playground').setAttribute('view', v), view);
}

test('every view of the bundled network, at 280, 390, 680 and 1280 px, in English and Chinese: no text cut or overlapping, nothing out of the card, no sideways scroll', async () => {
  const found = [];
  for (const lang of ['en', 'zh']) {
    const page = await browser.newPage();
    await page.addInitScript(recordCanvasText);
    await page.setViewportSize({ width: WIDTHS[0], height: 900 });
    await page.goto(`${origin}/#backend=cpu&lang=${lang}`);
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      for (const view of BUNDLED_VIEWS) {
        await setView(page, view);
        await check(page, width, `${view}${lang === 'zh' ? '-zh' : ''}`, found);
      }
    }
    await page.close();
  }
  assert.deepEqual(found, [], `\n${found.join('\n')}`);
});

test('an opened network (a real-sized SE-ResNet-50\'s layout, small weights): its network, channel, spatial and features views at every width', async () => {
  const found = [];
  const page = await browser.newPage();
  await page.addInitScript(recordCanvasText);
  await page.setViewportSize({ width: WIDTHS[0], height: 900 });
  await page.goto(`${origin}/#backend=cpu&view=network&model=${encodeURIComponent('/nets/seresnet50/model.safetensors')}`);
  await page.waitForFunction(() => document.querySelector('attention-playground')?.result?.network, null, { timeout: 120_000 });
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    for (const view of ['network', 'ablation', 'channel', 'features', 'nonlocal', 'explain']) {
      await setView(page, view);
      await check(page, width, `seresnet50-${view}`, found);
    }
  }
  await page.close();
  assert.deepEqual(found, [], `\n${found.join('\n')}`);
});

test('a branch-attention network (SKNet, ResNeSt): its network, branches and how-it-works views at every width, in English and Chinese', async () => {
  const found = [];
  for (const [name, lang] of [['skresnet18', 'en'], ['resnest14d', 'zh']]) {
    const page = await browser.newPage();
    await page.addInitScript(recordCanvasText);
    await page.setViewportSize({ width: WIDTHS[0], height: 900 });
    await page.goto(`${origin}/#backend=cpu&lang=${lang}&view=network&model=${encodeURIComponent(`/nets/${name}/model.safetensors`)}`);
    await page.waitForFunction(() => document.querySelector('attention-playground')?.result?.network, null, { timeout: 120_000 });
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      for (const view of ['network', 'branches', 'explain']) {
        await setView(page, view);
        await check(page, width, `${name}-${view}${lang === 'zh' ? '-zh' : ''}`, found);
      }
    }
    await page.close();
  }
  assert.deepEqual(found, [], `\n${found.join('\n')}`);
});

test('a BoTNet (self-attention with relative positions): its network, attention (a query asked, four heads) and how-it-works views at every width, in English and Chinese', async () => {
  const found = [];
  for (const lang of ['en', 'zh']) {
    const page = await browser.newPage();
    await page.addInitScript(recordCanvasText);
    await page.setViewportSize({ width: WIDTHS[0], height: 900 });
    await page.goto(`${origin}/#backend=cpu&lang=${lang}&view=network&arch=botnet26t_256&model=${encodeURIComponent('/nets/botnet26t_256/model.safetensors')}`);
    await page.waitForFunction(() => document.querySelector('attention-playground')?.result?.network, null, { timeout: 120_000 });
    await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      await el.attentionAt(el.result.width / 2, el.result.height / 2, 'stages.2.1.self_attn');
    });
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      for (const view of ['network', 'nonlocal', 'explain']) {
        await setView(page, view);
        await check(page, width, `botnet26t_256-${view}${lang === 'zh' ? '-zh' : ''}`, found);
      }
    }
    await page.close();
  }
  assert.deepEqual(found, [], `\n${found.join('\n')}`);
});

test('the first screen shows the figure: on a 390 x 844 phone at least 250 px of it, on a 1280 x 800 screen at least two thirds', async () => {
  const page = await browser.newPage();
  for (const [width, height, least] of [[390, 844, 250], [1280, 800, null]]) {
    await page.setViewportSize({ width, height });
    await page.goto(`${origin}/#backend=cpu`);
    await page.waitForFunction(() => document.querySelector('attention-playground')?.result && document.querySelector('attention-playground')._layout, null, { timeout: 60_000 });
    const box = await page.evaluate(() => {
      const r = document.querySelector('attention-playground').shadowRoot.querySelector('canvas').getBoundingClientRect();
      return { top: r.top, height: r.height };
    });
    const shown = Math.min(height, box.top + box.height) - box.top;
    const wanted = least ?? (2 / 3) * box.height;
    assert.ok(shown >= wanted, `${width} x ${height}: ${shown.toFixed(0)} px of the ${box.height.toFixed(0)} px figure on the first screen (from ${box.top.toFixed(0)} px), wanted ${wanted.toFixed(0)}`);
  }
  await page.close();
});
