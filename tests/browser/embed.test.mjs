// The element as a blog embeds it: from another origin (with and without CORS, as
// `./build.sh serve --cors` serves it and as a misconfigured CDN does), trimmed to the views and
// chrome a post wants (`views`, `hide`), and themed to the post (a dark page, CSS custom
// properties, `theme`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serve } from '../../tools/serve.mjs';
import { launch } from './support.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
// What the README tells a writer to paste: the element holds a line that shows until the script
// defines it, and stays where the script never loads.
const FALLBACK = 'Loading the attention playground… If this line stays, its script did not load.';

let plain; // dist/ without CORS headers, as a host that forgot them
let cdn; // dist/ with Access-Control-Allow-Origin: *, as `./build.sh serve --cors`
let blog; // the post, on a third origin
let browser;
const originOf = (server) => `http://127.0.0.1:${server.address().port}`;

before(async () => {
  plain = await serve(join(ROOT, 'dist'), 0);
  cdn = await serve(join(ROOT, 'dist'), 0, '127.0.0.1', { 'access-control-allow-origin': '*' });
  blog = await serve(join(ROOT, 'tests/browser/pages'), 0);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const server of [plain, cdn, blog]) server?.close();
});

/** The blank post with `html` in its body, the script from `scriptOrigin`. */
async function post(scriptOrigin, html, { style = '' } = {}) {
  const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${originOf(blog)}/blank.html`);
  await page.setContent(`<!doctype html><html style="${style}"><body>
    <script type="module" src="${scriptOrigin}/attention-playground.js"></script>${html}</body></html>`, { waitUntil: 'load' });
  return { page, problems };
}

test('from another origin without CORS the embed shows its line in place of a 0 x 0 element; with CORS (serve --cors) it runs', async () => {
  const blocked = await post(originOf(plain), `<attention-playground blocks="cbam">${FALLBACK}</attention-playground>`);
  await blocked.page.waitForTimeout(1500);
  const seen = await blocked.page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    const box = el.getBoundingClientRect();
    return { defined: Boolean(customElements.get('attention-playground')), width: box.width, height: box.height, text: el.innerText };
  });
  assert.equal(seen.defined, false, 'the browser refused the module without CORS');
  assert.ok(seen.width > 200 && seen.height > 10, `the reader sees the line: ${JSON.stringify(seen)}`);
  assert.match(seen.text, /did not load/);
  await blocked.page.close();

  const served = await post(originOf(cdn), `<attention-playground blocks="cbam" backend="cpu">${FALLBACK}</attention-playground>`);
  const ran = await served.page.evaluate(async () => {
    await customElements.whenDefined('attention-playground');
    const el = document.querySelector('attention-playground');
    await el.ready;
    if (!el.result) await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
    const box = el.getBoundingClientRect();
    return { blocks: Object.keys(el.result.blocks), height: box.height, fallbackShown: el.shadowRoot.textContent.includes('did not load') };
  });
  assert.deepEqual(ran.blocks, ['cbam']);
  assert.ok(ran.height > 300, 'the figure replaces the line');
  assert.equal(ran.fallbackShown, false);
  assert.deepEqual(served.problems, []);
  await served.page.close();
});

test('a module that loads but an engine that cannot (its wasm blocked) says so in the element, not in the console only', async () => {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
  await context.route('**/*.wasm', (route) => route.abort('blockedbyclient'));
  const page = await context.newPage();
  await page.goto(`${originOf(blog)}/blank.html`);
  await page.setContent(`<!doctype html><body><script type="module" src="${originOf(cdn)}/attention-playground.js"></script>
    <attention-playground>${FALLBACK}</attention-playground></body>`);
  const shown = await page.evaluate(async () => {
    await customElements.whenDefined('attention-playground');
    const el = document.querySelector('attention-playground');
    const failure = await el.ready.then(() => null, (e) => e.message);
    const message = el.shadowRoot.querySelector('.message');
    const box = el.getBoundingClientRect();
    return { failure, text: message.textContent, visible: !message.hidden && message.getBoundingClientRect().height > 0, height: box.height };
  });
  assert.match(shown.failure ?? '', /could not be loaded/);
  assert.ok(shown.visible, 'the message is on screen');
  assert.match(shown.text, /Access-Control-Allow-Origin/);
  assert.ok(shown.height > 100, `the element keeps its place: ${shown.height}`);
  await context.close();
});

test('views= and hide= trim an embed to what the post is about', async () => {
  const { page, problems } = await post(originOf(cdn), `<attention-playground blocks="cbam" backend="cpu" controls="minimal" views="spatial channel" hide="prediction badge"></attention-playground>`);
  const seen = await page.evaluate(async () => {
    await customElements.whenDefined('attention-playground');
    const el = document.querySelector('attention-playground');
    await el.ready;
    if (!el.result) await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
    const visible = (sel) => [...el.shadowRoot.querySelectorAll(sel)].filter((n) => n.getBoundingClientRect().height > 0);
    const before = { tabs: visible('.tab').map((t) => t.dataset.view), prediction: visible('.prediction').length, badge: visible('.badge').length, view: el.view };
    el.setAttribute('view', 'formula'); // not offered: the element stays on one it offers
    const after = el.view;
    el.setAttribute('hide', '');
    const shownAgain = { prediction: visible('.prediction').length, badge: visible('.badge').length };
    return { before, after, shownAgain };
  });
  assert.deepEqual(seen.before.tabs, ['channel', 'spatial'], 'only the views listed, in the tab order');
  assert.equal(seen.before.prediction, 0);
  assert.equal(seen.before.badge, 0);
  assert.equal(seen.before.view, 'spatial');
  assert.equal(seen.after, 'spatial');
  assert.equal(seen.shownAgain.prediction, 1);
  assert.equal(seen.shownAgain.badge, 1);
  assert.deepEqual(problems, []);
  await page.close();
});

test('on a dark page the card and its figure are dark; theme="light" and the custom properties override', async () => {
  const { page, problems } = await post(originOf(cdn), `
    <attention-playground id="auto" blocks="se" view="channel" backend="cpu"></attention-playground>
    <attention-playground id="light" theme="light" blocks="se" view="channel" backend="cpu" style="--ap-accent: rgb(200, 30, 30)"></attention-playground>`,
  { style: 'color-scheme: dark; background: #111; color: #eee' });
  const seen = await page.evaluate(async () => {
    await customElements.whenDefined('attention-playground');
    const look = async (id) => {
      const el = document.getElementById(id);
      el.scrollIntoView();
      await el.ready;
      if (!el.result) await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
      const card = el.shadowRoot.querySelector('.card');
      const canvas = el.shadowRoot.querySelector('canvas');
      const corner = canvas.getContext('2d').getImageData(canvas.width - 3, 3, 1, 1).data;
      return {
        card: getComputedStyle(card).backgroundColor, text: getComputedStyle(card).color,
        paper: [corner[0], corner[1], corner[2]], primary: getComputedStyle(el.shadowRoot.querySelector('.primary')).backgroundColor,
      };
    };
    return { auto: await look('auto'), light: await look('light') };
  });
  const lum = (rgb) => { const [r, g, b] = (Array.isArray(rgb) ? rgb : rgb.match(/\d+/g).map(Number)); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  assert.ok(lum(seen.auto.card) < 60, `dark card: ${seen.auto.card}`);
  assert.ok(lum(seen.auto.text) > 180, `light text: ${seen.auto.text}`);
  assert.ok(lum(seen.auto.paper) < 60, `the figure is drawn on dark paper: ${seen.auto.paper}`);
  assert.ok(lum(seen.light.card) > 240, `theme="light": ${seen.light.card}`);
  assert.ok(lum(seen.light.paper) > 240, `theme="light" figure: ${seen.light.paper}`);
  assert.equal(seen.light.primary, 'rgb(200, 30, 30)', '--ap-accent themes the controls');
  assert.deepEqual(problems, []);
  await page.close();
});

test('"Copy embed code" gives the markup of exactly the figure shown, which opens the same figure; Export PNG is twice the screen\'s resolution, with a caption', async () => {
  const context = await browser.newContext({ viewport: { width: 1000, height: 1000 }, deviceScaleFactor: 1, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: originOf(cdn) });
  const page = await context.newPage();
  await page.goto(`${originOf(cdn)}/#backend=cpu&view=channel&blocks=se+cbam&image=rocket.jpg&lang=zh`);
  await page.waitForFunction(() => document.querySelector('attention-playground')?.result?.blocks?.cbam, null, { timeout: 60_000 });
  await page.locator('attention-playground .copy-embed').click();
  await page.waitForFunction(() => !document.querySelector('attention-playground').shadowRoot.querySelector('.note').hidden);
  const code = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(code, /^<script type="module" src="http:\/\/127\.0\.0\.1:\d+\/attention-playground\.js"><\/script>\n<attention-playground /);
  for (const attribute of ['view="channel"', 'blocks="se cbam"', 'image="rocket.jpg"', 'lang="zh"', 'backend="cpu"']) assert.ok(code.includes(attribute), `${attribute} in ${code}`);
  assert.match(code, /如果这行字一直在/, 'the fallback line, in the figure\'s language');
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground').embedCode()), code);

  // The code, pasted into a post on another origin, shows the same figure.
  const pasted = await context.newPage();
  await pasted.goto(`${originOf(blog)}/blank.html`);
  await pasted.setContent(`<!doctype html><body>${code}</body>`);
  const shown = await pasted.evaluate(async () => {
    await customElements.whenDefined('attention-playground');
    const el = document.querySelector('attention-playground');
    await el.ready;
    if (!el.result) await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
    return { view: el.view, blocks: Object.keys(el.result.blocks).sort(), image: el.exportJson().image, lang: el.language };
  });
  assert.deepEqual(shown, { view: 'channel', blocks: ['cbam', 'se'], image: 'rocket.jpg', lang: 'zh' });
  await pasted.close();

  const download = page.waitForEvent('download');
  await page.locator('attention-playground .export-png').click();
  const file = await (await download).path();
  const png = await import('node:fs/promises').then((fs) => fs.readFile(file));
  const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  const drawn = await page.evaluate(() => document.querySelector('attention-playground')._drawn);
  assert.equal(width, (drawn.width + 24) * 2, 'twice the CSS width, with a 12-px margin');
  assert.equal(height, (drawn.height + 28 + 24) * 2, 'twice the CSS height, a caption line and the margin');

  // The same drawing as SVG: the view's texts as <text>, the photo and maps as images, the caption.
  const svgDownload = page.waitForEvent('download');
  await page.locator('attention-playground .export-svg').click();
  const svg = await import('node:fs/promises').then(async (fs) => fs.readFile(await (await svgDownload).path(), 'utf8'));
  assert.match(svg, /^<svg [^>]*width="\d+"/);
  assert.match(svg, new RegExp(`width="${drawn.width + 24}"`), 'the figure\'s CSS width and its margin');
  assert.doesNotMatch(svg, /="undefined"/);
  // The maps over the photo are drawn half transparent (an SVG context ignores globalAlpha on
  // images, so the opacity is in the map's own pixels): the photo shows through.
  assert.ok(svg.includes('<image'), 'images embedded');
  assert.ok((svg.match(/<text/g) ?? []).length >= 10, 'the texts are text');
  assert.match(svg, /<image /, 'the feature maps are embedded images');
  assert.match(svg, /attention-playground<\/text>|attention-playground<\/tspan>/, 'the caption');
  assert.match(svg, /通道/, 'in the figure\'s language');

  // The spatial map over the photo, as SVG, rendered by the browser: the same pixels as the
  // figure on screen where the half-transparent map lies over the photo (an SVG context ignores
  // globalAlpha on images; the opacity must be in the map's own pixels).
  await page.evaluate(async () => {
    const el = document.querySelector('attention-playground');
    el.setAttribute('view', 'spatial');
    const next = new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
    el.setAttribute('image', 'cat.jpg'); // brighter than the rocket's night sky, so an opaque map would show
    await next;
  });
  const spatialDownload = page.waitForEvent('download');
  await page.locator('attention-playground .export-svg').click();
  const spatialSvg = await import('node:fs/promises').then(async (fs) => fs.readFile(await (await spatialDownload).path(), 'utf8'));
  const compared = await page.evaluate(async (text) => {
    const el = document.querySelector('attention-playground');
    const rect = el._layout.photoRect;
    const img = new Image();
    img.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(text)))}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    c.getContext('2d').drawImage(img, 0, 0);
    const screen = el.shadowRoot.querySelector('canvas').getContext('2d');
    const ratio = window.devicePixelRatio || 1;
    let sum = 0;
    let n = 0;
    for (let i = 1; i < 8; i++) {
      for (let j = 1; j < 8; j++) {
        const x = Math.round(rect.x + (i / 8) * rect.width);
        const y = Math.round(rect.y + (j / 8) * rect.height);
        const a = c.getContext('2d').getImageData(x + 12, y + 12, 1, 1).data;
        const b = screen.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
        for (const k of [0, 1, 2]) sum += Math.abs(a[k] - b[k]);
        n += 3;
      }
    }
    return sum / n;
  }, spatialSvg);
  assert.ok(compared <= 10, `the SVG's photo and map look as on screen (mean channel difference ${compared.toFixed(1)} of 255)`);
  await context.close();
});
