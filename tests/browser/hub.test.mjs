// Networks from the Hugging Face Hub by name, in Chromium, against a stand-in Hub on this machine
// (hub-server.mjs: the Hub's URL layout, its redirect to a file host on another origin, CORS, 401
// and 404). The repositories are small timm networks saved by timm itself (tests/fixtures/hub/,
// tools/make_golden_hub.py) with non-default pretrained_cfg, and the logits timm gives on
// photo.png through its own eval transform. Tested: each checkpoint is evaluated as timm
// evaluates it (its input size, crop mode, interpolation, mean and std; its label_names); the
// second open and a reload make no request and work with the Hub gone; cancel; each failure in one
// line; the `model="hf:..."` attribute and the address; a one-logit head as P = sigmoid(logit);
// a `.pth` from a training step (num_batches_tracked) opened in the page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve } from '../../tools/serve.mjs';
import { launch, openPage } from './support.mjs';
import { startHub } from './hub-server.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const HUB = join(ROOT, 'tests/fixtures/hub');
const SHOTS = join(ROOT, 'test-output/browser');
const EXPECTED = JSON.parse(await readFile(join(HUB, 'expected.json'), 'utf8'));
const CONFIGS = Object.fromEntries(await Promise.all(Object.keys(EXPECTED).map(async (id) => [id, JSON.parse(await readFile(join(HUB, id, 'config.json'), 'utf8'))])));
// The page against timm's logits. The inputs differ where PIL's resampler and the image crate's
// round a pixel differently (at most 1 of 255, on the edges the resize blends); the networks are
// exact (tests/net.rs holds them to 1e-4 on the same input). Measured: see README ("Networks
// from the Hub").
const TIMM_TOLERANCE = { abs: 0.05, rel: 0.02 };

let server;
let origin;
let hub;
let browser;

before(async () => {
  server = await serve({ '/': join(ROOT, 'dist'), '/pages/': join(ROOT, 'tests/browser/pages'), '/hubfix/': HUB }, 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  const seresnet = await readFile(join(HUB, 'timm/seresnet50.tiny_test/model.safetensors'));
  hub = await startHub({
    'timm/convnext_atto.test/config.json': Buffer.from(JSON.stringify({ architecture: 'convnext_atto', num_classes: 3, pretrained_cfg: {} })),
    // A transform the engine cannot apply: refused before the weights download.
    'timm/lanczos.test/config.json': Buffer.from(JSON.stringify({ architecture: 'seresnet50', num_classes: 7, pretrained_cfg: { interpolation: 'lanczos' } })),
    'timm/lanczos.test/model.safetensors': seresnet,
  });
  browser = await launch();
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await hub?.close();
  server?.close();
});

/** Asserts `actual` (finite, as many) equals `expected` within `tol`. */
function assertClose(actual, expected, tol, what) {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values for ${expected.length}`);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.ok(Number.isFinite(a) && Number.isFinite(e), `${what}[${i}]: ${a} against ${e}`);
    assert.ok(Math.abs(a - e) <= tol.abs + tol.rel * Math.abs(e), `${what}[${i}]: ${a} against timm's ${e}`);
  });
}

/** A page of `context` holding one element with `attributes` (the stand-in Hub as its hub). */
async function open(context, attributes = '') {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1100, height: 1000 });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${origin}/pages/blank.html`);
  await page.evaluate(async ({ attributes, origin }) => {
    await import(`${origin}/attention-playground.js`);
    document.body.insertAdjacentHTML('beforeend', `<attention-playground ${attributes}></attention-playground>`);
    await document.querySelector('attention-playground').ready;
  }, { attributes: `hub="${hub.origin}" ${attributes}`, origin });
  return { page, problems };
}

/** Opens `hf:<id>` through the API and runs photo.png; resolves to the exported result. */
function openAndRun(page, id) {
  return page.evaluate(async ({ id, origin }) => {
    const el = document.querySelector('attention-playground');
    const description = await el.loadModel(`hf:${id}`);
    const photo = await (await fetch(`${origin}/hubfix/photo.png`)).blob();
    await el.run(photo);
    return { description, result: el.exportJson(), line: el.shadowRoot.querySelector('.prediction').textContent };
  }, { id, origin });
}

const failure = (page, source) => page.evaluate(async (source) => {
  const el = document.querySelector('attention-playground');
  try {
    await el.loadModel(source);
    return null;
  } catch (e) {
    return { message: e.message, shown: el.shadowRoot.querySelector('.message').textContent, network: Boolean(el._network) };
  }
}, source);

describe('networks from the Hub', () => {
  test('each repository is evaluated as timm evaluates it, with its class names', async () => {
    const context = await browser.newContext();
    const { page, problems } = await open(context);
    for (const [id, expected] of Object.entries(EXPECTED)) {
      const { description, result, line } = await openAndRun(page, id);
      const t = expected.transform;
      assert.equal(description.input.size, t.input_size[1], `${id}: input size`);
      assert.equal(description.input.crop_mode, t.crop_mode ?? 'center', `${id}: crop mode`);
      assert.equal(description.input.interpolation, t.interpolation, `${id}: interpolation`);
      assertClose(Array.from(result.full_logits), expected.logits, TIMM_TOLERANCE, `${id} logits`);
      if (expected.logits.length === 1) {
        const p = 1 / (1 + Math.exp(-result.full_logits[0]));
        assert.equal(result.head, 'sigmoid');
        assert.match(line, new RegExp(`P\\(positive\\) = ${p.toFixed(4)}`), `${id}: a one-logit head reads as a sigmoid: ${line}`);
        assert.doesNotMatch(line, /100 %/);
      } else {
        assert.equal(result.head, 'softmax');
        const best = expected.logits.indexOf(Math.max(...expected.logits));
        const names = CONFIGS[id].label_names;
        if (names) assert.equal(result.full[0].name, names[best], `${id}: the label_names name the classes`);
        else assert.equal(result.full[0].index, best);
      }
    }
    await page.screenshot({ path: join(SHOTS, 'hub-network.png') });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a network opened once opens again without a request, after a reload, and with the Hub gone', async () => {
    const context = await browser.newContext();
    const id = Object.keys(EXPECTED)[0];
    const first = await open(context);
    await openAndRun(first.page, id);
    const before = hub.requests.length;
    // The same page again, then a reload: nothing is asked of the Hub or its file host.
    await openAndRun(first.page, id);
    const second = await open(context);
    const { result } = await openAndRun(second.page, id);
    assert.equal(hub.requests.length, before, `requests after the first open: ${JSON.stringify(hub.requests.slice(before))}`);
    assertClose(Array.from(result.full_logits), EXPECTED[id].logits, TIMM_TOLERANCE, 'from the cache');
    // The Hub panel lists what is kept, with its size; Clear empties it.
    const panel = await second.page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      el.shadowRoot.querySelector('.open-model').click();
      await new Promise((r) => setTimeout(r, 300));
      const text = el.shadowRoot.querySelector('.hub-cache').textContent;
      el.shadowRoot.querySelector('.hub-clear').click();
      await new Promise((r) => setTimeout(r, 300));
      return { text, after: el.shadowRoot.querySelector('.hub-cache').textContent, keys: (await (await caches.open('attention-playground-hub-v1')).keys()).length };
    });
    assert.match(panel.text, new RegExp(id.split('/')[1].replace(/\./g, '\\.')));
    assert.match(panel.text, /MB/);
    assert.equal(panel.keys, 0, 'Clear empties the cache');
    await context.close();
  });

  test('offline: a kept network opens, another says what to do, and the open one stays', async () => {
    const context = await browser.newContext();
    const id = Object.keys(EXPECTED)[1];
    const { page } = await open(context);
    await openAndRun(page, id);
    await context.setOffline(true);
    const again = await page.evaluate(async (id) => (await document.querySelector('attention-playground').loadModel(`hf:${id}`)).arch, id).catch((e) => e.message);
    assert.equal(again, CONFIGS[id].architecture, `kept: ${again}`);
    const other = await failure(page, `hf:${Object.keys(EXPECTED)[2]}`);
    assert.match(other.message, /could not be fetched: this browser is offline\. A network opened once is kept in this browser and opens offline/);
    assert.equal(other.shown, other.message);
    assert.ok(other.network, 'the network opened before stays open');
    await context.setOffline(false);
    await context.close();
  });

  test('each failure is one line that says what to do, before the weights are downloaded', async () => {
    const context = await browser.newContext();
    const { page, problems } = await open(context);
    const before = hub.requests.length;
    const gated = await failure(page, 'hf:gated/private-net.v1');
    assert.match(gated.message, /gated\/private-net\.v1 is gated or private on the Hub \(it answered 401\).*download/);
    const missing = await failure(page, 'hf:timm/no_such_model.x');
    assert.match(missing.message, /timm\/no_such_model\.x is not on the Hub at http:\/\/127\.0\.0\.1:\d+ \(404\): check its name/);
    const unsupported = await failure(page, 'hf:timm/convnext_atto.test');
    assert.match(unsupported.message, /is a convnext_atto, which this engine does not run yet; it runs timm's ResNet family/);
    const asked = hub.requests.slice(before).map((r) => r.path);
    for (const refused of ['convnext_atto.test', 'lanczos.test']) {
      assert.ok(!asked.some((p) => p.includes(`${refused}/resolve/main/model.safetensors`)), `weights asked for: ${asked}`);
    }
    const lanczos = await failure(page, 'hf:timm/lanczos.test');
    assert.match(lanczos.message, /^config\.json of timm\/lanczos\.test: `pretrained_cfg\.interpolation` is `lanczos`: the engine resizes with bilinear or bicubic$/);
    const huge = await failure(page, `hf:huge/${Object.keys(EXPECTED)[0].split('/')[1]}`);
    assert.match(huge.message, /model\.safetensors is 3072 MB; the page reads networks up to 1024 MB/);
    const bad = await failure(page, 'hf:not an id');
    assert.match(bad.message, /is not a Hub model id: give it as organisation\/name/);
    for (const f of [gated, missing, unsupported, lanczos, huge, bad]) assert.equal(f.shown, f.message, 'shown in the element');
    // Still working: a real one opens after them.
    const { result } = await openAndRun(page, Object.keys(EXPECTED)[0]);
    assert.ok(result.full_logits.length > 0);
    // In Chinese, every one of these messages is translated.
    const untranslated = await page.evaluate(async ({ messages, origin }) => {
      const { translateMessage } = await import(`${origin}/messages.js`);
      return messages.filter((m) => translateMessage(m) === null);
    }, { messages: [gated, missing, unsupported, lanczos, huge, bad].map((f) => f.message), origin });
    assert.deepEqual(untranslated, []);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('cancel stops the download; nothing is kept, and the element keeps working', async () => {
    const context = await browser.newContext();
    const { page } = await open(context);
    const id = Object.keys(EXPECTED)[0].split('/')[1];
    const outcome = await page.evaluate(async (id) => {
      const el = document.querySelector('attention-playground');
      const opening = el.loadModel(`hf:slow/${id}`).then(() => 'opened', (e) => e.name);
      // Wait for the bar and its Cancel button, then press it.
      const cancel = el.shadowRoot.querySelector('.model-cancel');
      for (let i = 0; i < 100 && cancel.hidden; i++) await new Promise((r) => setTimeout(r, 50));
      const shown = !cancel.hidden;
      await new Promise((r) => setTimeout(r, 400));
      cancel.click();
      const settled = await opening;
      const keys = (await (await caches.open('attention-playground-hub-v1')).keys()).map((r) => r.url);
      // The panel lists no network for it: its config.json alone opens nothing offline.
      el.shadowRoot.querySelector('.open-model').click();
      await new Promise((r) => setTimeout(r, 300));
      const kept = el.shadowRoot.querySelector('.hub-cache').textContent;
      return { shown, settled, keys, kept, bar: el.shadowRoot.querySelector('.model-progress').hidden, network: Boolean(el._network), message: el.shadowRoot.querySelector('.message').hidden };
    }, id);
    assert.ok(outcome.shown, 'the Cancel button shows while the weights download');
    assert.equal(outcome.settled, 'AbortError');
    assert.ok(!outcome.keys.some((k) => k.includes('model.safetensors')), `kept: ${outcome.keys}`);
    assert.doesNotMatch(outcome.kept, /slow/, `the kept list: ${outcome.kept}`);
    assert.ok(outcome.bar, 'the progress bar goes');
    assert.ok(!outcome.network);
    assert.ok(outcome.message, 'a cancel is no error');
    await context.close();
  });

  test('the model attribute takes hf: ids, and the Hub panel picks one and puts it in the address', async () => {
    const context = await browser.newContext();
    const id = Object.keys(EXPECTED)[0];
    const { page } = await open(context, `model="hf:${id}"`);
    const arch = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      for (let i = 0; i < 200 && !el._network; i++) await new Promise((r) => setTimeout(r, 50));
      return el._network?.description.arch;
    });
    assert.equal(arch, CONFIGS[id].architecture);
    // The playground page: a pick from the panel's field opens it and the address keeps it.
    const playground = await context.newPage();
    await playground.goto(`${origin}/#hub=${encodeURIComponent(hub.origin)}`);
    const address = await playground.evaluate(async (id) => {
      const el = document.querySelector('attention-playground');
      await el.ready;
      el.shadowRoot.querySelector('.open-model').click();
      const field = el.shadowRoot.querySelector('.hub-id');
      field.value = id;
      el.shadowRoot.querySelector('.hub-open').click();
      for (let i = 0; i < 200 && !el._network; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      return location.hash;
    }, id);
    assert.match(decodeURIComponent(address), new RegExp(`model=hf:${id.replace(/\./g, '\\.')}`));
    // A link naming the network alone (the page's own default view is another) opens on the
    // network view.
    const bare = await context.newPage();
    await bare.goto(`${origin}/#model=${encodeURIComponent(`hf:${id}`)}&hub=${encodeURIComponent(hub.origin)}`);
    const bareView = await bare.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      for (let i = 0; i < 200 && !el._network; i++) await new Promise((r) => setTimeout(r, 50));
      return el.view;
    });
    assert.equal(bareView, 'network');
    // The link opens it again.
    const reopened = await context.newPage();
    await reopened.goto(`${origin}/${address}`);
    const again = await reopened.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      for (let i = 0; i < 200 && !el._network; i++) await new Promise((r) => setTimeout(r, 50));
      return el._network?.name;
    });
    assert.equal(again, id);
    await playground.screenshot({ path: join(SHOTS, 'hub-panel.png') });
    await context.close();
  });

  test('a .pth from a training step opens in the page, with num_batches_tracked, nested or not', async () => {
    const context = await browser.newContext();
    const { page, problems } = await open(context);
    const expected = JSON.parse(await readFile(join(HUB, 'train_step/expected.json'), 'utf8'));
    for (const file of ['model.pth', 'nested.pth']) {
      const result = await page.evaluate(async ({ file, origin }) => {
        const el = document.querySelector('attention-playground');
        const bytes = await (await fetch(`${origin}/hubfix/train_step/${file}`)).arrayBuffer();
        const config = await (await fetch(`${origin}/hubfix/train_step/config.json`)).text();
        const description = await el.loadModel(new File([bytes], file), { config });
        await el.run(await (await fetch(`${origin}/hubfix/photo.png`)).blob());
        return { description, full_logits: Array.from(el.result.full_logits) };
      }, { file, origin });
      assert.equal(result.description.arch, 'seresnet50', file);
      assert.equal(result.description.input.crop_mode, 'squash', `${file}: the config's transform`);
      assertClose(result.full_logits, expected.photo.logits, TIMM_TOLERANCE, `${file} logits`);
    }
    // Through the page: "From a file…" with the checkpoint and its config.json picked together;
    // a config.json alone is named for what it is.
    await page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('.open-model').click());
    const input = page.locator('attention-playground').locator('.model-file');
    await input.setInputFiles([join(HUB, 'train_step/model.pth'), join(HUB, 'train_step/config.json')]);
    const picked = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      for (let i = 0; i < 200 && el._network?.name !== 'model.pth'; i++) await new Promise((r) => setTimeout(r, 50));
      return { name: el._network?.name, input: el._network?.description.input };
    });
    assert.equal(picked.name, 'model.pth');
    assert.equal(picked.input.crop_mode, 'squash', 'the config picked beside it applies');
    await input.setInputFiles([join(HUB, 'train_step/config.json')]);
    const alone = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      await new Promise((r) => setTimeout(r, 300));
      return el.shadowRoot.querySelector('.message').textContent;
    });
    assert.match(alone, /config\.json is a checkpoint's config\.json, not its weights: pick it together with the checkpoint/);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the Hub panel fits every width, 280 to 1280 px: nothing clipped, nothing overlapping', async () => {
    const context = await browser.newContext();
    for (const width of [280, 390, 680, 1280]) {
      const page = await context.newPage();
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${origin}/pages/blank.html`);
      const problems = await page.evaluate(async ({ origin, hub }) => {
        await import(`${origin}/attention-playground.js`);
        document.body.insertAdjacentHTML('beforeend', `<attention-playground hub="${hub}"></attention-playground>`);
        const el = document.querySelector('attention-playground');
        await el.ready;
        el.shadowRoot.querySelector('.open-model').click();
        await new Promise((r) => setTimeout(r, 300));
        const panel = el.shadowRoot.querySelector('.hub-panel');
        const box = panel.getBoundingClientRect();
        const parts = [...panel.querySelectorAll('button, select, input, .hub-cache')].filter((k) => k.getClientRects().length);
        const out = [];
        if (panel.hidden || box.width === 0) out.push('the panel does not show');
        const ctx = document.createElement('canvas').getContext('2d');
        for (const part of parts) {
          const r = part.getBoundingClientRect();
          if (r.left < box.left - 0.5 || r.right > box.right + 0.5) out.push(`${part.className} leaves the panel (${r.left}-${r.right} of ${box.left}-${box.right})`);
          // The text it shows fits it: a button's or the note's own overflow; a select's chosen
          // option and an input's placeholder measured in its font (the arrow and padding beside).
          const style = getComputedStyle(part);
          ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
          const shown = part.tagName === 'SELECT' ? part.options[part.selectedIndex].text : part.tagName === 'INPUT' ? part.placeholder
            : part.tagName === 'BUTTON' ? part.textContent.trim() : null;
          const room = { SELECT: 24, INPUT: 4, BUTTON: ['paddingLeft', 'paddingRight', 'borderLeftWidth', 'borderRightWidth'].reduce((n, k) => n + parseFloat(style[k]), 0) }[part.tagName];
          if (shown !== null && ctx.measureText(shown).width + room > r.width + 0.5) out.push(`${part.className} clips or wraps "${shown}"`);
          if (shown === null && part.scrollWidth > part.clientWidth + 1) out.push(`${part.className} clips its text`);
          for (const other of parts) {
            if (other === part) continue;
            const o = other.getBoundingClientRect();
            if (r.left < o.right - 0.5 && o.left < r.right - 0.5 && r.top < o.bottom - 0.5 && o.top < r.bottom - 0.5) out.push(`${part.className} overlaps ${other.className}`);
          }
        }
        return out;
      }, { origin, hub: hub.origin });
      await page.locator('attention-playground').screenshot({ path: join(SHOTS, `hub-panel-${width}.png`) });
      assert.deepEqual([...new Set(problems)], [], `at ${width} px`);
      await page.close();
    }
    await context.close();
  });
});
