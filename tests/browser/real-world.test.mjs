// The cases of tests/fixtures/cases/CASES.md that need a browser: the embed from another origin (a
// CDN), under a strict Content-Security-Policy and in a phone column; the newest photo wins; the
// page and `render` see the same pixels; photos too large or too small; messages that say what to do.
//   node --test tests/browser/real-world.test.mjs   (after ./build.sh and cargo test, which builds the CLI)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { serve } from '../../tools/serve.mjs';
import { firstResult, launch, openPage } from './support.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const DIST = join(ROOT, 'dist');
const CASES = join(ROOT, 'tests/fixtures/cases');
const PAGES = join(ROOT, 'tests/browser/pages');
const SHOTS = join(ROOT, 'test-output/browser/');

// Every message a person sees: the problem and the next step; never an internal representation.
const RAW = /JsValue|undefined|\[object |null\b|NaN|Error: Error|panicked|RuntimeError|wgpu|Vulkan adapter/;
const NEXT_STEP = /\b(choose|pass|add|use|switch|serve|download|convert|scale|save|check|give|run|click|allow|try|load|scroll|host|open)\b/i;
function assertHelpful(message, what) {
  assert.ok(typeof message === 'string' && message.length > 20, `${what}: a message (${message})`);
  assert.doesNotMatch(message, RAW, `${what}: no internal text in "${message}"`);
  const doubled = message.match(/\b([A-Za-z]{3,})\b[:,]? \1\b/i);
  assert.equal(doubled, null, `${what}: no doubled word in "${message}"`);
  assert.match(message, NEXT_STEP, `${what}: says what to do: "${message}"`);
}

const servers = [];
let browser;
let page0; // origin A: the blog's page
let cdn; // origin B: dist/ with Access-Control-Allow-Origin: *
let plain; // origin C: photos without CORS
let slow; // origin D: a photo that takes a while, with CORS

async function listen(server) {
  servers.push(server);
  return `http://127.0.0.1:${server.address().port}`;
}

before(async () => {
  page0 = await listen(await serve({ '/': DIST, '/pages/': PAGES }, 0));
  cdn = await listen(await serve(DIST, 0, '127.0.0.1', { 'access-control-allow-origin': '*' }));
  plain = await listen(await serve(CASES, 0));
  const delayed = createServer(async (req, res) => {
    await new Promise((r) => setTimeout(r, 1500));
    res.writeHead(200, { 'content-type': 'image/jpeg', 'access-control-allow-origin': '*' });
    res.end(await readFile(join(DIST, 'samples/rocket.jpg')));
  });
  await new Promise((r) => delayed.listen(0, '127.0.0.1', r));
  slow = await listen(delayed);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.close();
});

/** A page on origin A whose body is `html`. */
async function blogPage(html, viewport) {
  const opened = await openPage(browser, `${page0}/pages/blank.html`, viewport);
  await opened.page.setContent(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head><body>${html}</body></html>`);
  return opened;
}

/** Runs a case file through the element's `run` as a File; the photo it saw, or the message. */
function runCase(page, name, selector = 'attention-playground') {
  return readFile(join(CASES, name)).then((bytes) => page.evaluate(async ({ name, b64, selector }) => {
    const el = document.querySelector(selector);
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const type = name.endsWith('.png') ? 'image/png' : 'image/jpeg';
    try {
      const result = await el.run(new File([bytes], name, { type }));
      let text = '';
      for (let i = 0; i < el._photo.rgba.length; i += 8192) text += String.fromCharCode(...el._photo.rgba.subarray(i, i + 8192));
      return { ok: true, width: result.width, height: result.height, rgba: btoa(text) };
    } catch (e) {
      return { ok: false, message: e.message };
    }
  }, { name, b64: bytes.toString('base64'), selector }));
}

describe('the embed where blog authors put it', () => {
  test('from a CDN on another origin, with every controls value, the starting photo and the gallery work', async () => {
    for (const controls of ['full', 'minimal', 'none']) {
      const { page, problems } = await blogPage(`<script type="module" src="${cdn}/attention-playground.js"></script>
        <attention-playground controls="${controls}"></attention-playground>`);
      const first = await firstResult(page);
      assert.equal(first.image, 'cat.jpg', `${controls}: the starting photo`);
      if (controls === 'full') {
        const next = await page.evaluate(() => new Promise((resolve, reject) => {
          const el = document.querySelector('attention-playground');
          el.addEventListener('attention-result', () => resolve(el.exportJson().image), { once: true });
          el.addEventListener('attention-error', (e) => reject(new Error(e.detail.message)), { once: true });
          el.shadowRoot.querySelector('[data-sample="1"]').click();
        }));
        assert.equal(next, 'astronaut.jpg', 'a gallery photo runs');
      }
      assert.deepEqual(problems, [], controls);
      await page.close();
    }
  });

  test('a photo from a host without CORS ends in an Error that says what to do', async () => {
    const { page } = await blogPage(`<script type="module" src="${cdn}/attention-playground.js"></script>
      <attention-playground></attention-playground><img id="foreign" src="${plain}/scene_rgb.png">`);
    await firstResult(page);
    const messages = await page.evaluate(async (url) => {
      const el = document.querySelector('attention-playground');
      const grab = (p) => p.then(() => 'resolved', (e) => e.message);
      return { img: await grab(el.run(document.querySelector('#foreign'))), url: await grab(el.run(url)) };
    }, `${plain}/scene_rgb.png`);
    assert.match(messages.img, /does not let this page read its pixels .*crossorigin="anonymous"/);
    assert.match(messages.url, /Could not load .*scene_rgb\.png: it comes from another site/);
    assertHelpful(messages.img, 'no-CORS <img>');
    assertHelpful(messages.url, 'no-CORS URL');
    await page.close();
  });

  test("under Content-Security-Policy: default-src 'self' the element is styled and names the directive WebAssembly needs", async () => {
    const strict = await listen(await serve({ '/': DIST, '/pages/': PAGES }, 0, '127.0.0.1', { 'content-security-policy': "default-src 'self'" }));
    const { page } = await openPage(browser, `${strict}/pages/csp.html`);
    const failure = await page.evaluate(() => document.querySelector('attention-playground').ready.then(() => 'ready', (e) => e.message));
    assert.match(failure, /Content-Security-Policy .*'wasm-unsafe-eval'.*script-src/);
    assertHelpful(failure, 'CSP without wasm');
    const style = await page.evaluate(() => {
      const card = getComputedStyle(document.querySelector('attention-playground').shadowRoot.querySelector('.card'));
      return { radius: card.borderTopLeftRadius, border: card.borderTopStyle };
    });
    assert.deepEqual(style, { radius: '12px', border: 'solid' }, 'the shadow root is styled');
    await page.close();

    const allowing = await listen(await serve({ '/': DIST, '/pages/': PAGES }, 0, '127.0.0.1', { 'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'" }));
    const second = await openPage(browser, `${allowing}/pages/csp.html`);
    const result = await firstResult(second.page);
    assert.equal(result.image, 'cat.jpg', 'with wasm-unsafe-eval it runs');
    // The test page's own icon (data:) is the host's business, not the element's.
    assert.deepEqual(second.problems.filter((p) => !p.includes("'data:,'")), []);
    await second.page.screenshot({ path: `${SHOTS}csp-styled.png` });
    await second.page.close();
  });

  for (const column of [360, 280]) {
    test(`in a ${column}-px column on a phone nothing scrolls sideways, and a click lands on the cell under it`, async () => {
      const { page, problems } = await blogPage(`<div id="column" style="width: ${column}px; margin: 0 15px">
        <script type="module" src="${cdn}/attention-playground.js"></script>
        <attention-playground view="nonlocal"></attention-playground></div>`, { width: column + 30, height: 800 });
      await firstResult(page);
      const overflow = await page.evaluate(() => {
        const el = document.querySelector('attention-playground');
        const host = el.getBoundingClientRect();
        // The tabs are one row that scrolls sideways in a phone column: what is scrolled out of
        // sight is inside its row, which stays in the column.
        const scrolled = (n) => {
          for (let up = n.parentElement; up; up = up.parentElement) if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return true;
          return false;
        };
        const outside = [...el.shadowRoot.querySelectorAll('*')]
          .filter((n) => n.getClientRects().length && !n.closest('[hidden]') && !scrolled(n))
          .filter((n) => { const r = n.getBoundingClientRect(); return r.width > 0 && (r.right > host.right + 0.5 || r.left < host.left - 0.5); })
          .map((n) => `${n.tagName.toLowerCase()}.${n.className}`);
        return { page: document.documentElement.scrollWidth - innerWidth, outside };
      });
      assert.equal(overflow.page, 0, 'the page does not scroll sideways');
      assert.deepEqual(overflow.outside, [], 'every part of the element stays in its column');
      // A click at the centre of feature cell (3, 5) of the Non-local grid asks for that cell.
      const cell = { x: 3, y: 5 };
      const point = await page.evaluate((cell) => {
        const el = document.querySelector('attention-playground');
        const canvas = el.shadowRoot.querySelector('canvas');
        canvas.scrollIntoView({ block: 'center' }); // the controls fill a phone's first screen
        const r = canvas.getBoundingClientRect();
        const photo = el._layout.photoRect;
        const grid = el.result.blocks.nonlocal.grid;
        const sx = r.width / el._drawn.width;
        const sy = r.height / el._drawn.height;
        return { x: r.left + (photo.x + ((cell.x + 0.5) / grid.width) * photo.width) * sx, y: r.top + (photo.y + ((cell.y + 0.5) / grid.height) * photo.height) * sy };
      }, cell);
      await page.mouse.click(point.x, point.y);
      await page.waitForFunction(() => document.querySelector('attention-playground')._state.attention);
      await page.waitForTimeout(300); // hover requests that were in flight settle
      await page.mouse.click(point.x, point.y);
      await page.waitForFunction((c) => { const a = document.querySelector('attention-playground')._state.attention; return a && a.fx === c.x && a.fy === c.y; }, cell, { timeout: 5000 });
      await page.screenshot({ path: `${SHOTS}phone-${column}.png`, fullPage: true });
      assert.deepEqual(problems, []);
      await page.close();
    });
  }
});

describe('the newest request wins', () => {
  test('run(slow URL) then run(file): the file is shown and its result is the last event', async () => {
    const { page, problems } = await blogPage(`<script type="module" src="${cdn}/attention-playground.js"></script><attention-playground></attention-playground>`);
    await firstResult(page);
    const scene = (await readFile(join(CASES, 'scene_rgb.png'))).toString('base64');
    const outcome = await page.evaluate(async ({ url, scene }) => {
      const el = document.querySelector('attention-playground');
      const events = [];
      el.addEventListener('attention-result', () => events.push(el.exportJson().image));
      const file = new File([Uint8Array.from(atob(scene), (c) => c.charCodeAt(0))], 'scene_rgb.png', { type: 'image/png' });
      const slowRun = el.run(url).then(() => 'resolved', (e) => e.name);
      const fastRun = el.run(file).then((r) => r.width, (e) => e.message);
      const [slowOutcome, fastOutcome] = await Promise.all([slowRun, fastRun]);
      await new Promise((r) => setTimeout(r, 300));
      return { slowOutcome, fastOutcome, events, shown: el.exportJson().image, message: el.shadowRoot.querySelector('.message').hidden };
    }, { url: `${slow}/rocket.jpg`, scene });
    assert.equal(outcome.slowOutcome, 'AbortError', 'the overtaken run says so');
    assert.equal(outcome.fastOutcome, 224);
    assert.equal(outcome.shown, 'scene_rgb.png');
    assert.deepEqual(outcome.events, ['scene_rgb.png'], 'one result event, for the photo chosen last');
    assert.equal(outcome.message, true, 'no message for the overtaken run');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a block toggled and a backend switched during a run: the last choice is what ends on screen', async () => {
    const { page, problems } = await blogPage(`<script type="module" src="${cdn}/attention-playground.js"></script><attention-playground></attention-playground>`);
    await firstResult(page);
    const outcome = await page.evaluate(async (url) => {
      const el = document.querySelector('attention-playground');
      const run = el.run(url);
      el.setAttribute('blocks', 'se cbam');
      el.setAttribute('backend', 'cpu');
      const result = await run;
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { resolved: Object.keys(result.blocks).sort(), shown: Object.keys(el.result.blocks).sort(), image: el.exportJson().image, backend: el.result.backend };
    }, `${cdn}/samples/astronaut.jpg`);
    assert.deepEqual(outcome.resolved, ['cbam', 'se']);
    assert.deepEqual(outcome.shown, ['cbam', 'se']);
    assert.equal(outcome.image, 'astronaut.jpg');
    assert.equal(outcome.backend, 'cpu');
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('one decoder contract for the page and render', () => {
  let cliPixels;
  before(async () => {
    const binary = join(ROOT, 'target/debug/attention-playground');
    if (!existsSync(binary)) execFileSync('cargo', ['build', '--locked', '--quiet'], { cwd: ROOT, stdio: 'inherit' });
    const out = await mkdtemp(join(tmpdir(), 'render-photo-'));
    cliPixels = async (page, name) => {
      const dir = join(out, name);
      execFileSync(binary, ['render', '--image', join(CASES, name), '--out', dir, '--blocks', 'none', '--backend', 'cpu'], { stdio: 'pipe' });
      const png = (await readFile(join(dir, 'photo.png'))).toString('base64');
      return page.evaluate(async (b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext('2d');
        ctx.drawImage(bitmap, 0, 0);
        const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
        let text = '';
        for (let i = 0; i < data.length; i += 8192) text += String.fromCharCode(...data.subarray(i, i + 8192));
        return { width: bitmap.width, height: bitmap.height, rgba: btoa(text) };
      }, png);
    };
  });

  // Per channel value: the mean and largest absolute difference, in units of 1/255.
  function difference(a, b) {
    const x = Buffer.from(a.rgba, 'base64');
    const y = Buffer.from(b.rgba, 'base64');
    assert.equal(x.length, y.length);
    let total = 0;
    let largest = 0;
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      total += d;
      largest = Math.max(largest, d);
    }
    return { mean: total / x.length, largest };
  }

  // JPEG: two decoders (the browser's libjpeg-turbo, the image crate's zune-jpeg) may round the
  // inverse DCT and upsample chroma differently (seen: mean 0.02, largest 2); PNG decodes exactly,
  // leaving the compositing's rounding (seen: identical).
  const TOLERANCE = { jpeg: { mean: 0.25, largest: 8 }, png: { mean: 0.05, largest: 1 } };

  test('orientation, transparency and a 1 x 1 photo: the same working size and pixels in both', async () => {
    const { page, problems } = await blogPage(`<script type="module" src="${cdn}/attention-playground.js"></script><attention-playground></attention-playground>`);
    await firstResult(page);
    const seen = {};
    for (const name of ['exif_orient6.jpg', 'exif_orient8.jpg', 'portrait_upright.png', 'rgba_transparent.png', 'rgba_on_white.png', 'la_transparent.png', 'la_on_white.png', 'palette_trns.png', 'one_by_one.png', 'scene_rgb.png']) {
      const inPage = await runCase(page, name);
      assert.ok(inPage.ok, `${name} runs in the page: ${inPage.message}`);
      const inCli = await cliPixels(page, name);
      assert.deepEqual([inPage.width, inPage.height], [inCli.width, inCli.height], `${name}: the same working size`);
      const d = difference(inPage, inCli);
      console.log(`${name}: ${inPage.width} x ${inPage.height}, page against render: mean ${d.mean.toFixed(3)}, largest ${d.largest} (of 255)`);
      const tolerance = name.endsWith('.jpg') ? TOLERANCE.jpeg : TOLERANCE.png;
      assert.ok(d.mean <= tolerance.mean && d.largest <= tolerance.largest, `${name}: page and render differ by ${JSON.stringify(d)}`);
      seen[name] = inPage;
    }
    assert.deepEqual([seen['exif_orient6.jpg'].width, seen['exif_orient6.jpg'].height], [168, 224], 'a phone photo stands upright');
    for (const [rotated, upright] of [['exif_orient6.jpg', 'portrait_upright.png'], ['exif_orient8.jpg', 'portrait_upright.png']]) {
      const d = difference(seen[rotated], seen[upright]);
      assert.ok(d.mean < 4, `${rotated} looks like ${upright} (${JSON.stringify(d)})`);
    }
    for (const [transparent, white] of [['rgba_transparent.png', 'rgba_on_white.png'], ['la_transparent.png', 'la_on_white.png'], ['palette_trns.png', 'rgba_on_white.png']]) {
      const d = difference(seen[transparent], seen[white]);
      assert.ok(d.mean <= 0.5 && d.largest <= 2, `${transparent} is composited on white like ${white} (${JSON.stringify(d)})`);
    }
    assert.deepEqual([seen['one_by_one.png'].width, seen['one_by_one.png'].height], [224, 224], 'a 1 x 1 photo is scaled, in both');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a 30000 x 30000 PNG is too large, in both; a 16000 x 16000 PNG is scaled', async () => {
    const { page, problems } = await blogPage(`<script type="module" src="${cdn}/attention-playground.js"></script><attention-playground></attention-playground>`);
    await firstResult(page);
    const huge = await runCase(page, 'bomb_30000.png');
    assert.equal(huge.ok, false);
    assert.match(huge.message, /bomb_30000\.png" is 30000 x 30000 pixels .*too large/);
    assertHelpful(huge.message, 'a 30000 x 30000 PNG');
    let cli = '';
    try {
      execFileSync(join(ROOT, 'target/debug/attention-playground'), ['render', '--image', join(CASES, 'bomb_30000.png'), '--out', join(tmpdir(), 'bomb-out'), '--backend', 'cpu'], { stdio: 'pipe' });
    } catch (e) {
      cli = e.stderr.toString();
    }
    assert.match(cli, /30000 x 30000 pixels .*too large/, 'render says the same');
    const big = await runCase(page, 'bomb_16000.png');
    assert.deepEqual([big.ok, big.width, big.height], [true, 224, 224], `the 16000 x 16000 PNG is scaled: ${big.message}`);
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('messages that say what to do', () => {
  test('every error path of the page ends in one message naming the problem and the next step', async () => {
    const { page } = await blogPage(`<script type="module" src="${cdn}/attention-playground.js"></script><attention-playground></attention-playground>`);
    await firstResult(page);
    const files = {};
    for (const name of ['se_weights.pth', 'se_lfs_pointer.safetensors', 'se_module_prefix.safetensors', 'se_f16.safetensors', 'se_bf16.safetensors', 'x_c32.safetensors', 'alexhex7_nonlocal.safetensors', 'cbam_official_resnet.safetensors']) {
      files[name] = (await readFile(join(CASES, name))).toString('base64');
    }
    const messages = await page.evaluate(async ({ files, missing }) => {
      const el = document.querySelector('attention-playground');
      const bytes = (name) => Uint8Array.from(atob(files[name]), (c) => c.charCodeAt(0));
      const out = {};
      const grab = async (what, promise) => {
        try {
          await promise;
          out[what] = 'resolved';
        } catch (e) {
          const shown = el.shadowRoot.querySelector('.message');
          out[what] = { message: e.message, shown: shown.hidden ? null : shown.textContent };
        }
      };
      await grab('a text file', el.run(new File(['hello'], 'notes.txt', { type: 'text/plain' })));
      await grab('an empty file', el.run(new File([], 'empty.jpg', { type: 'image/jpeg' })));
      await grab('not a photo', el.run(new File([new Uint8Array(4096).map((_, i) => (i * 7919) % 256)], 'broken.jpg', { type: 'image/jpeg' })));
      await grab('120 MB', el.run(new File([new Uint8Array(120 * 2 ** 20)], 'huge.jpg', { type: 'image/jpeg' })));
      await grab('a 404', el.run(missing));
      await grab('run(42)', el.run(42));
      await grab('outside the photo', el.attentionAt(5000, 5000));
      el.setAttribute('blocks', 'se cbam');
      await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
      await grab('a block that is off', el.attentionAt(5, 5, 'mhsa'));
      await grab('an unknown block', el.loadWeights('sk', new Uint8Array(8)));
      await grab('garbage weights', el.loadWeights('se', new Uint8Array([1, 2, 3])));
      await grab('a PyTorch file', el.loadWeights('se', bytes('se_weights.pth')));
      await grab('a git-LFS pointer', el.loadWeights('se', bytes('se_lfs_pointer.safetensors')));
      await grab('a PyTorch file by its name', el.loadWeights('se', new File([bytes('se_weights.pth')], 'se_weights.pth')));
      await grab('an input file as weights', el.loadWeights('cbam', bytes('x_c32.safetensors')));
      await grab('float16 weights', el.loadWeights('se', bytes('se_f16.safetensors')));
      await grab('bfloat16 weights', el.loadWeights('se', bytes('se_bf16.safetensors')));
      await grab('the prefix given', el.loadWeights('se', bytes('se_module_prefix.safetensors'), 'module'));
      // Other codes' names load, and the element says which it assumed.
      out.ports = {
        alexhex7: await el.loadWeights('nonlocal', bytes('alexhex7_nonlocal.safetensors')),
        cbam: await el.loadWeights('cbam', bytes('cbam_official_resnet.safetensors'), 'module.layer1.0.cbam.'),
        shown: el.shadowRoot.querySelector('.note').textContent,
        // With no prefix, the block is found under the one it sits under, and the line says so.
        underModule: await el.loadWeights('se', bytes('se_module_prefix.safetensors')),
        cbamFound: await el.loadWeights('cbam', bytes('cbam_official_resnet.safetensors')),
        // The order the official CBAM code implies is the block's option, shown in its control.
        cbamOptions: el.getAttribute('options'),
        cbamControl: el.shadowRoot.querySelector('[data-option="cbam.spatial_order"]')?.value,
      };
      // Choosing the other order in the control computes with it (the weights' own is max-mean).
      const maxMean = Array.from(el.result.blocks.cbam.spatial.data);
      const rerun = new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
      el.setAttribute('options', el.getAttribute('options').replace('cbam.spatial_order=max-mean', 'cbam.spatial_order=mean-max'));
      await rerun;
      out.ports.orderMatters = el.result.blocks.cbam.spatial.data.some((v, i) => Math.abs(v - maxMean[i]) > 1e-4);
      await el.loadWeights('cbam', null);
      out.ports.clearedOptions = el.getAttribute('options') ?? '';
      return out;
    }, { files, missing: `${cdn}/samples/no-such-photo.jpg` });
    for (const ok of ['float16 weights', 'bfloat16 weights', 'the prefix given']) assert.equal(messages[ok], 'resolved', `${ok} load`);
    assert.match(messages['a PyTorch file'].message, /PyTorch/);
    assert.match(messages['a git-LFS pointer'].message, /LFS/);
    assert.match(messages['a PyTorch file by its name'].message, /torch\.load\('se_weights\.pth'/, 'the conversion line names the file');
    assert.match(messages.ports.underModule, /^read from `module\.`/);
    assert.match(messages.ports.cbamFound, /^read from `module\.layer1\.0\.cbam\.`.*official CBAM/);
    assert.match(messages.ports.cbamOptions, /\bcbam\.spatial_order=max-mean\b/);
    assert.equal(messages.ports.cbamControl, 'max-mean', 'the pooling-order control shows the order computed');
    assert.ok(messages.ports.orderMatters, 'switching the pooling order back to mean-max computes with mean-max');
    assert.doesNotMatch(messages.ports.clearedOptions, /cbam\./, 'back to the trained weights, back to their options');
    assert.match(messages.ports.alexhex7, /AlexHex7/);
    assert.match(messages.ports.cbam, /official CBAM/);
    assert.match(messages.ports.shown, /^CBAM weights: .*official CBAM/);
    delete messages.ports;
    for (const [what, outcome] of Object.entries(messages)) {
      if (outcome === 'resolved') continue;
      assertHelpful(outcome.message, what);
      if (!['run(42)', 'outside the photo', 'a block that is off', 'an unknown block'].includes(what)) {
        assert.equal(outcome.shown, outcome.message, `${what}: the element shows it`);
      }
    }
    await page.close();

    // The badge and message when WebGPU is asked for and the browser has none.
    const gpu = await blogPage(`<script type="module" src="${cdn}/attention-playground.js"></script><attention-playground backend="webgpu"></attention-playground>`);
    const failure = await gpu.page.evaluate(() => document.querySelector('attention-playground').ready.then(() => 'ready', (e) => e.message));
    assertHelpful(failure, 'no WebGPU');
    await gpu.page.close();
  });
});
