// An opened network in the page: the small random-initialised timm and torchvision networks of the
// golden fixtures (tests/fixtures/nets) opened through the file input, the API and the `model`
// attribute; the network view draws every block; switching blocks off gives what `render --model
// --off` gives natively; WebGPU against the CPU path; each bad checkpoint gives its message and the
// element keeps working; nothing is fetched after the network has loaded.
// Screenshots of the network view go to test-output/browser/network-*.png for a person to look at.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../../tools/serve.mjs';
import { launch, openPage } from './support.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const NETS = join(ROOT, 'tests/fixtures/nets');
const CASES = join(ROOT, 'tests/fixtures/cases');
const SHOTS = join(ROOT, 'test-output/browser');
const PHOTO = 'scene_rgb.png'; // a PNG: the page and `render` decode it to the same pixels
// Page (wasm SIMD kernels, or WebGPU blocks) against the native CLI (other kernels, other summation
// order): per probability |page - native| <= abs + rel * |native|.
const NATIVE_TOLERANCE = { abs: 1e-5, rel: 1e-4 };
// WebGPU (SwiftShader) against the CPU path: a block's float32 differences (the shader's exp in a
// Non-local softmax, another summation order) pass through every layer after it.
// float32 error grows with the magnitude of what a layer sums, so a small logit beside large ones
// carries the large ones' error too: `scale` is a share of the largest |logit| (resnet50_nl's
// logit 6, 0.2 beside 17.3, differs by 2.3e-4 on the crop timm takes of the case photo).
const BACKEND_TOLERANCE = { abs: 1e-4, rel: 5e-4, scale: 2e-5 };

let server;
let origin;
const browsers = {};

before(async () => {
  server = await serve({ '/': join(ROOT, 'dist'), '/nets/': NETS, '/cases/': CASES, '/pages/': join(ROOT, 'tests/browser/pages'), '/model/': join(ROOT, 'src/model') }, 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  await mkdir(SHOTS, { recursive: true });
  browsers.cpu = await launch();
  browsers.webgpu = await launch({ webgpu: true });
});

after(async () => {
  await Promise.all(Object.values(browsers).map((b) => b.close()));
  server?.close();
});

/** A blank page holding one element with `attributes`; problems and requests are collected. */
async function open(kind, attributes = '') {
  const { page, problems, requests } = await openPage(browsers[kind], `${origin}/pages/blank.html`);
  // `auto` never takes SwiftShader, the software adapter of this browser: WebGPU is asked for.
  if (kind === 'webgpu' && !/backend=/.test(attributes)) attributes += ' backend="webgpu"';
  await page.evaluate(async ({ attributes, origin }) => {
    await import(`${origin}/attention-playground.js`);
    document.body.insertAdjacentHTML('beforeend', `<attention-playground ${attributes}></attention-playground>`);
  }, { attributes, origin });
  return { page, problems, requests };
}

/** Runs the case photo and waits for its result. */
async function runPhoto(page) {
  const b64 = (await readFile(join(CASES, PHOTO))).toString('base64');
  return page.evaluate(async ({ b64, name }) => {
    const el = document.querySelector('attention-playground');
    await el.ready;
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    await el.run(new File([bytes], name, { type: 'image/png' }));
    return el.exportJson();
  }, { b64, name: PHOTO });
}

/** The element's next result after `action` (a function run in the page, with `arg`). */
async function resultAfter(page, action, arg) {
  return page.evaluate(async ({ action, arg }) => {
    const el = document.querySelector('attention-playground');
    const next = new Promise((resolve, reject) => {
      el.addEventListener('attention-result', () => resolve(), { once: true });
      el.addEventListener('attention-error', (e) => reject(new Error(e.detail.message)), { once: true });
    });
    await new Function('el', 'arg', `return (${action})(el, arg)`)(el, arg);
    await next;
    return el.exportJson();
  }, { action: action.toString(), arg });
}

/** Opens the fixture network `name` through the API with its bytes. */
async function loadFixture(page, name, options = {}) {
  const b64 = (await readFile(join(NETS, name, 'model.safetensors'))).toString('base64');
  return page.evaluate(async ({ b64, name, options }) => {
    const el = document.querySelector('attention-playground');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    try {
      return { description: await el.loadModel(new File([bytes], `${name}.safetensors`), options), result: el.exportJson() };
    } catch (e) {
      return { error: e.message, message: el.shadowRoot.querySelector('.message').textContent };
    }
  }, { b64, name, options });
}

/** `render --model` natively on the case photo: `{ top5, off?: { top5 } }`. */
const nativeCache = new Map();
async function native(name, arch, off = '') {
  const key = `${name}|${off}`;
  if (nativeCache.has(key)) return nativeCache.get(key);
  const bin = join(ROOT, 'target/debug/attention-playground');
  assert.ok(existsSync(bin), 'cargo test builds target/debug/attention-playground before the browser tests');
  const out = await mkdtemp(join(tmpdir(), 'ap-net-'));
  const args = ['render', '--model', join(NETS, name, 'model.safetensors'), '--arch', arch, '--image', join(CASES, PHOTO), '--out', out, '--backend', 'cpu'];
  if (off) args.push('--off', off);
  execFileSync(bin, args, { stdio: 'pipe' });
  const json = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
  nativeCache.set(key, json);
  return json;
}

function close(got, want, tolerance, what) {
  assert.equal(got.length, want.length, what);
  got.forEach((g, i) => {
    const w = want[i];
    assert.equal(g.index, w.index, `${what}: class ${i}`);
    assert.ok(Math.abs(g.probability - w.probability) <= tolerance.abs + tolerance.rel * Math.abs(w.probability),
      `${what}: class ${w.name} ${g.probability} vs ${w.probability}`);
  });
}

/** The network view's drawn tiles (one per block), from the element's layout. */
const tiles = (page) => page.evaluate(() => {
  const el = document.querySelector('attention-playground');
  return { tiles: el._layout?.tiles?.map((t) => t.path) ?? [], view: el.view };
});

describe('an opened network', () => {
  test('opens through the file input, draws every block, and switching layer4 off gives what render --off gives natively', async () => {
    const { page, problems } = await open('cpu', 'controls="full"');
    await runPhoto(page);
    const opened = resultAfter(page, () => {});
    await page.locator('attention-playground .model-file').setInputFiles(join(NETS, 'seresnet50', 'model.safetensors'));
    const result = await opened;
    assert.equal(result.network.arch, 'resnet', 'a ResNet is read off its weights');
    assert.equal(result.network.summary, 'timm resnet, 5 se blocks, 7 classes');
    assert.equal(await page.locator('attention-playground .network-name').textContent(), 'timm resnet, 5 SE blocks, 7 classes');
    assert.equal(result.network.order.length, 5);
    const drawn = await tiles(page);
    assert.equal(drawn.view, 'network', 'an opened network shows the network view');
    assert.deepEqual(drawn.tiles, result.network.order, 'the network view draws every block, in order of depth');
    await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'network-seresnet50.png') });

    const want = await native('seresnet50', 'seresnet50', 'layer4');
    close(result.full, want.top5, NATIVE_TOLERANCE, 'every block on, page vs native');
    const off = await resultAfter(page, (el) => el.setAttribute('off', 'layer4'));
    close(off.prediction, want.off.top5, NATIVE_TOLERANCE, 'layer4 off, page vs native');
    close(off.full, want.top5, NATIVE_TOLERANCE, 'the full prediction is kept');
    assert.deepEqual(off.switched_off, ['layer4.0.se', 'layer4.1.se', 'layer4.2.se'].filter((p) => off.network.order.includes(p)));
    assert.ok(off.timings.stages.some((s) => s.reused), 'the stages before layer4 were reused');
    assert.ok(off.blocks['layer4.0.se'].off && !off.blocks['layer1.0.se'].off);
    assert.notDeepEqual(off.logits, off.full_logits, 'switching layer4 off changes the logits');
    const line = await page.locator('attention-playground .prediction').textContent();
    assert.match(line, /without layer4: .* → /);
    await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'network-seresnet50-layer4-off.png') });

    // A block's corner in the network view switches it; clicking the block opens it.
    const toggled = await resultAfter(page, (el) => { el.setAttribute('off', ''); });
    assert.equal(toggled.switched_off.length, 0);
    const first = await page.evaluate(() => document.querySelector('attention-playground')._layout.toggles[0]);
    const box = await page.locator('attention-playground canvas').boundingBox();
    const drawnWidth = await page.evaluate(() => document.querySelector('attention-playground')._drawn.width);
    const scale = box.width / drawnWidth;
    const next = page.evaluate(() => new Promise((r) => document.querySelector('attention-playground').addEventListener('attention-result', r, { once: true })));
    await page.mouse.click(box.x + (first.x + first.width / 2) * scale, box.y + (first.y + first.height / 2) * scale);
    await next;
    assert.equal(await page.evaluate(() => document.querySelector('attention-playground').getAttribute('off')), first.path);
    // The prediction line grew (two top-5 lists): the canvas moved down.
    const moved = await page.locator('attention-playground canvas').boundingBox();
    const tile = await page.evaluate(() => document.querySelector('attention-playground')._layout.tiles[1]);
    await page.mouse.click(moved.x + (tile.x + 20) * scale, moved.y + (tile.y + 40) * scale);
    assert.equal(await page.evaluate(() => document.querySelector('attention-playground').view), 'channel', 'an SE block opens in the channel view');
    await page.waitForFunction(() => document.querySelector('attention-playground')._state.channelFeatures);
    await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'network-seresnet50-channel.png') });

    // One click back to the bundled network.
    const bundled = await resultAfter(page, (el) => el.shadowRoot.querySelector('.bundled').click());
    assert.equal(bundled.network, undefined);
    assert.ok(bundled.prediction.label);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('every family opens through the API, draws its blocks, and WebGPU gives the CPU path numbers', async () => {
    const cases = [['efficientnet_b0', 'efficientnet_b0'], ['resnet50d_cbam', ''], ['resnet50_gc', ''], ['torchvision_mobilenet_v3_small', 'torchvision.mobilenet_v3_small'],
      // Told by their keys: PP-LCNet, ReXNet (a shortcut into the first channels), GhostNet (ghost modules).
      ['lcnet_100', ''], ['rexnet_100', ''], ['ghostnet_100', ''],
      // Named: MixNet (mixed kernels: a split, convolutions, a join).
      ['mixnet_s', 'mixnet_s'],
      // Told by their keys: SKNet (dilated paths, a softmax across them), ResNeSt (radix groups).
      ['skresnet18', ''], ['resnest14d', ''],
      // Named (its depths are no network of timm's): a ByobNet, a GC block between its 3x3 and last 1x1.
      ['gcresnext26ts', 'gcresnext26ts'],
      // BoTNet: self-attention in a convolution's place, its input size fixed by its position embeddings.
      ['botnet26t_256', 'botnet26t_256'],
      // Last: the Non-local row below is asked of it.
      ['resnet50_nl', '']];
    const results = {};
    for (const kind of ['cpu', 'webgpu']) {
      const { page, problems } = await open(kind, 'controls="full"');
      await runPhoto(page);
      for (const [name, arch] of cases) {
        const { description, result, error } = await loadFixture(page, name, { arch });
        assert.equal(error, undefined, `${name}: ${error}`);
        assert.equal(description.blocks.length, result.network.order.length);
        assert.deepEqual((await tiles(page)).tiles, result.network.order, `${kind} ${name}: every block drawn`);
        assert.equal(result.backend, kind === 'webgpu' ? 'webgpu' : 'cpu');
        // On WebGPU the layers and the blocks ran on the device, none fell back to the CPU.
        if (kind === 'webgpu') assert.match(result.ran_on, /^gpu backend \(/, `${name}: ${result.ran_on}`);
        results[`${kind} ${name}`] = result;
        if (name === 'resnet50_nl') {
          // Each Non-local tile gets its block's row for the centre query.
          await page.waitForFunction((n) => Object.keys(document.querySelector('attention-playground')._state.rows).length === n, result.network.order.length);
        }
        if (kind === 'cpu') await page.locator('attention-playground').screenshot({ path: join(SHOTS, `network-${name}.png`) });
        if (name === 'botnet26t_256') {
          // Each self-attention tile gets its block's row for the centre query, per head; each
          // head's row sums to 1, and the attention view shows the heads for a clicked point.
          const bots = result.network.order.filter((p) => result.blocks[p].kind === 'bot');
          assert.equal(bots.length, 2);
          await page.waitForFunction((paths) => paths.every((p) => document.querySelector('attention-playground')._state.rows[p]), bots);
          const rows = await page.evaluate(async (path) => {
            const el = document.querySelector('attention-playground');
            const tile = el._state.rows[path];
            const asked = await el.attentionAt(el.result.width / 2, el.result.height / 2, path);
            el.setAttribute('view', 'nonlocal');
            el._inspect(path);
            const sums = (row) => row.perHead.map((h) => Array.from(h.data).reduce((a, b) => a + b, 0));
            return { tile: sums(tile), asked: sums(asked), heads: asked.heads };
          }, bots[0]);
          assert.equal(rows.heads, 4);
          for (const s of [...rows.tile, ...rows.asked]) assert.ok(Math.abs(s - 1) < 1e-4, `${name}: a head's row sums to ${s}`);
          if (kind === 'cpu') await page.locator('attention-playground').screenshot({ path: join(SHOTS, `attention-${name}.png`) });
          await page.evaluate(() => document.querySelector('attention-playground').setAttribute('view', 'network'));
        }
        if (name === 'skresnet18' || name === 'resnest14d') {
          // A branch attention's shares: every channel's sum to 1, in the result and the view.
          const first = result.blocks[result.network.order[0]].branch;
          assert.equal(first.height, 2, `${name}: two branches`);
          for (let c = 0; c < first.width; c++) {
            const sum = first.data[c] + first.data[first.width + c];
            assert.ok(Math.abs(sum - 1) < 1e-5, `${name}: channel ${c}'s shares sum to ${sum}`);
          }
          await page.evaluate(() => document.querySelector('attention-playground').setAttribute('view', 'branches'));
          await page.waitForFunction(() => document.querySelector('attention-playground')._layout?.bars?.length > 0);
          if (kind === 'cpu') await page.locator('attention-playground').screenshot({ path: join(SHOTS, `branches-${name}.png`) });
          await page.evaluate(() => document.querySelector('attention-playground').setAttribute('view', 'network'));
        }
      }
      // A Non-local block's attention row for a point of the photo.
      const row = await page.evaluate(async () => {
        const el = document.querySelector('attention-playground');
        const r = await el.attentionAt(el.result.width / 2, el.result.height / 2);
        return { sum: Array.from(r.data).reduce((a, b) => a + b, 0), size: r.data.length };
      });
      assert.ok(Math.abs(row.sum - 1) < 1e-3 && row.size > 1, `${kind}: a Non-local row sums to 1 (${row.sum})`);
      assert.deepEqual(problems, []);
      await page.close();
    }
    for (const [name] of cases) {
      const cpu = results[`cpu ${name}`];
      const gpu = results[`webgpu ${name}`];
      assert.equal(gpu.full_logits.length, cpu.full_logits.length, `${name}: as many logits`);
      const largest = Math.max(...cpu.full_logits.map(Math.abs));
      gpu.full_logits.forEach((g, i) => {
        const c = cpu.full_logits[i];
        const { abs, rel, scale } = BACKEND_TOLERANCE;
        assert.ok(Math.abs(g - c) <= abs + rel * Math.abs(c) + scale * largest, `${name} logit ${i}: webgpu ${g} vs cpu ${c}`);
      });
    }
  });

  test('the model attribute fetches the network once; nothing is fetched after it has loaded', async () => {
    const { page, problems, requests } = await open('cpu', `model="${origin}/nets/resnet50_gc/model.safetensors" view="network" labels="a\nb\nc\nd\ne\nf\ng"`);
    const result = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      for (;;) {
        if (el.result?.network) return el.exportJson();
        await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
      }
    });
    assert.equal(result.network.order.length, 4);
    assert.ok(['a', 'b', 'c', 'd', 'e', 'f', 'g'].includes(result.full[0].name), 'the labels name the classes');
    assert.equal(requests.filter((u) => u.includes('/nets/')).length, 1, 'fetched once');
    const before = requests.length;
    await resultAfter(page, (el) => el.setAttribute('off', 'gc'));
    await resultAfter(page, (el) => el.setAttribute('backend', 'cpu'));
    await resultAfter(page, (el) => el.setAttribute('off', 'layer1'));
    assert.deepEqual(requests.slice(before), [], 'no request after the network loaded');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('the bundled network\'s own checkpoint opens as a network: its shapes, its blocks, a Non-local row', async () => {
    const { page, problems } = await open('cpu', `model="${origin}/model/trained.safetensors" view="network"`);
    const result = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      for (;;) {
        if (el.result?.network) break;
        await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
      }
      // The view asks for the Non-local row of the marked query once the run is in.
      for (let i = 0; i < 50 && !el._state.rows?.nonlocal; i++) await new Promise((r) => setTimeout(r, 100));
      return { json: el.exportJson(), row: Boolean(el._state.rows?.nonlocal) };
    });
    assert.deepEqual(result.json.network.order, ['se', 'eca', 'gc', 'cbam', 'nonlocal', 'mhsa']);
    assert.ok(['disc', 'square', 'triangle', 'cross', 'ring', 'star'].includes(result.json.full[0].name), `a shape: ${result.json.full[0].name}`);
    assert.ok(result.row, 'the Non-local block\'s row is drawn');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a network opened after another starts with every block on; a model attribute that fails says so and stays said', async () => {
    const { page, problems } = await open('cpu', 'controls="full"');
    await runPhoto(page);
    assert.equal((await loadFixture(page, 'seresnet50')).error, undefined);
    await resultAfter(page, (el) => el.setAttribute('off', 'layer4'));
    const second = await loadFixture(page, 'regnety_002');
    assert.equal(second.error, undefined, second.error);
    assert.deepEqual(second.result.off, [], 'the next network starts with every block on');
    // It ran once, from its stem: no second run that reused every stage replaced the first.
    const stages = await page.evaluate(async () => {
      await new Promise((r) => setTimeout(r, 500));
      return document.querySelector('attention-playground').result.timings.stages;
    });
    assert.ok(stages.length > 2 && stages.every((s) => !s.reused), `a fresh network's stages all ran: ${JSON.stringify(stages)}`);
    assert.equal(second.result.network.arch, 'regnet');
    // Clicking a block opens it in every view that can show it.
    const inspected = await page.evaluate(() => {
      const el = document.querySelector('attention-playground');
      const tile = el._layout.tiles[2];
      const canvas = el.shadowRoot.querySelector('canvas');
      const r = canvas.getBoundingClientRect();
      const scale = r.width / el._drawn.width;
      canvas.dispatchEvent(new MouseEvent('click', { clientX: r.left + (tile.x + 20) * scale, clientY: r.top + (tile.y + 40) * scale, bubbles: true }));
      return { path: tile.path, channel: el._inspected('channel'), features: el._inspected('features'), view: el.view };
    });
    assert.equal(inspected.view, 'channel');
    assert.equal(inspected.channel, inspected.path);
    assert.equal(inspected.features, inspected.path, 'the features view shows the clicked block too');
    await page.close();

    const missing = await open('cpu', 'model="/nets/not-there.safetensors"');
    const message = await missing.page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      await new Promise((r) => el.addEventListener('attention-error', r, { once: true }));
      await new Promise((r) => setTimeout(r, 1500)); // anything that would hide it has happened by now
      const box = el.shadowRoot.querySelector('.message');
      return box.hidden ? null : box.textContent;
    });
    assert.match(message ?? 'hidden', /404.*Check the model address/);
    await missing.page.close();
    assert.deepEqual(problems, []);
  });

  test('the attention view measures how much the rows of a grid of queries differ, as render does natively', async () => {
    const { page, problems } = await open('cpu', 'controls="full" view="nonlocal"');
    await runPhoto(page);
    const measure = () => page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      for (let i = 0; i < 200 && !el._layout?.independence; i++) await new Promise((r) => setTimeout(r, 50));
      return el._layout?.independence ?? null;
    });
    const pageBits = await measure();
    // render on the same PNG (the same pixels as the page decodes), every block on, the CPU.
    const out = await mkdtemp(join(tmpdir(), 'ap-qi-'));
    execFileSync(join(ROOT, 'target/debug/attention-playground'), ['render', '--image', join(CASES, PHOTO), '--out', out, '--backend', 'cpu'], { stdio: 'pipe' });
    const native = JSON.parse(await readFile(join(out, 'result.json'), 'utf8')).blocks.nonlocal.query_independence.js_bits;
    assert.equal(pageBits?.length, 1, 'one head for Non-local');
    assert.ok(Math.abs(pageBits[0] - native[0]) <= 1e-4, `page ${pageBits[0]} bits, render ${native[0]} bits`);
    await page.locator('attention-playground').screenshot({ path: join(SHOTS, 'query-independence.png') });
    // An opened network's Non-local block too.
    assert.equal((await loadFixture(page, 'resnet50_nl')).error, undefined);
    await page.evaluate(() => document.querySelector('attention-playground').setAttribute('view', 'nonlocal'));
    const networkBits = await measure();
    assert.ok(networkBits?.length === 1 && networkBits[0] >= 0 && networkBits[0] <= 1, `${networkBits}`);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('bad checkpoints each give their message and the element keeps its network', async () => {
    const { page, problems } = await open('cpu', 'controls="full"');
    await runPhoto(page);
    const { error } = await loadFixture(page, 'resnet50_gc');
    assert.equal(error, undefined);
    const bad = {
      'an LFS pointer': [new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 102400000\n'), /LFS/i],
      'a file cut short': [(await readFile(join(NETS, 'seresnet50', 'model.safetensors'))).subarray(0, 5000), /cut short|truncated|ends/i],
      'a PyTorch .pth': [Uint8Array.from([0x50, 0x4b, 0x03, 0x04, ...new TextEncoder().encode('archive/data.pkl'), ...new Array(64).fill(0)]), /PyTorch|safetensors/],
      'an HTML page': [new TextEncoder().encode('<!doctype html><title>404</title>'), /web page|HTML/i],
      'one SE block': [await readFile(join(ROOT, 'tests/fixtures/se_timm/weights.safetensors')).catch(() => null), /supported|looks like/i],
      'a text file': [new TextEncoder().encode('notes on the run\nlr 3e-4, 90 epochs\n'), /a text file, not weights/],
      'a ByobNet without its arch': [await readFile(join(NETS, 'gcresnext26ts', 'model.safetensors')), /timm ByobNet, .*Pick it from the list/],
      'an EfficientNet without its arch': [await readFile(join(NETS, 'efficientnet_b0', 'model.safetensors')), /Pick it from the list/],
    };
    for (const [what, [bytes, pattern]] of Object.entries(bad)) {
      if (!bytes) continue;
      const outcome = await page.evaluate(async (b64) => {
        const el = document.querySelector('attention-playground');
        const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        try {
          await el.loadModel(new File([data], 'weights.safetensors'));
          return { ok: true };
        } catch (e) {
          const pick = el.shadowRoot.querySelector('.arch-pick');
          return { error: e.message, shown: el.shadowRoot.querySelector('.message').textContent, arch: el.result?.network?.arch, archPick: !pick.hidden, choices: [...pick.options].map((o) => o.value) };
        }
      }, Buffer.from(bytes).toString('base64'));
      assert.ok(outcome.error, `${what}: refused`);
      assert.match(outcome.error, pattern, `${what}: ${outcome.error}`);
      assert.equal(outcome.shown, outcome.error, `${what}: shown in the element`);
      assert.doesNotMatch(outcome.error, /JsValue|panicked|RuntimeError|undefined|\[object/, `${what}: no internals`);
      assert.equal(outcome.arch, 'resnet', `${what}: the network that was open stays`);
      if (what.includes('without its arch')) assert.ok(outcome.archPick, `${what}: a list to pick the architecture from`);
      // The list offers the family the message names.
      if (what.includes('ByobNet')) assert.ok(outcome.choices.includes('gcresnext26ts') && !outcome.choices.includes('efficientnet_b0'), `${what}: ${outcome.choices}`);
      if (what.includes('EfficientNet')) assert.ok(outcome.choices.includes('efficientnet_b0') && !outcome.choices.includes('gcresnext26ts'), `${what}: ${outcome.choices}`);
    }
    // A pick that does not fit the weights says so, and the list stays for another pick.
    const wrong = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      const pick = el.shadowRoot.querySelector('.arch-pick');
      const failed = new Promise((r) => el.addEventListener('attention-error', (e) => r(e.detail.message), { once: true }));
      pick.value = 'mobilenetv3_large_100';
      pick.dispatchEvent(new Event('change'));
      return { message: await failed, listed: !pick.hidden };
    });
    assert.match(wrong.message, /is not a mobilenetv3_large_100: .*Pick another architecture from the list/);
    assert.ok(wrong.listed, 'the list stays after a wrong pick');
    // Picking the architecture opens it.
    const picked = await resultAfter(page, (el) => {
      const pick = el.shadowRoot.querySelector('.arch-pick');
      pick.value = 'efficientnet_b0';
      pick.dispatchEvent(new Event('change'));
    });
    assert.equal(picked.network.arch, 'efficientnet_b0');
    // The element still runs photos, and a 404 model is named.
    await runPhoto(page);
    const missing = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      return el.loadModel('/nets/nothing-here.safetensors').then(() => 'loaded', (e) => e.message);
    });
    assert.match(missing, /404/);
    assert.match(missing, /model address/);
    const off = await page.evaluate(async () => {
      const el = document.querySelector('attention-playground');
      el.setAttribute('off', 'layer9');
      return new Promise((r) => el.addEventListener('attention-error', (e) => r(e.detail.message), { once: true }));
    });
    assert.match(off, /off: `layer9` names no attention block of this network/);
    assert.deepEqual(problems.filter((p) => !/404/.test(p)), []);
    await page.close();
  });
});

test('the page\'s address changed to one that names no network goes back to the bundled network', async () => {
  const { page, problems } = await openPage(browsers.cpu, `${origin}/#backend=cpu&view=network&model=${encodeURIComponent('/nets/resnet50_nl/model.safetensors')}&arch=resnet50`);
  await page.waitForFunction(() => document.querySelector('attention-playground')?.result?.network, null, { timeout: 60_000 });
  await page.evaluate(() => { location.hash = '#backend=cpu&view=channel'; });
  await page.waitForFunction(() => {
    const el = document.querySelector('attention-playground');
    return el.result && !el.result.network && !el._network;
  }, null, { timeout: 60_000 });
  const shown = await page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    return { view: el.view, model: el.getAttribute('model'), arch: el.getAttribute('arch'), code: el.embedCode() };
  });
  assert.equal(shown.view, 'channel');
  assert.equal(shown.model, null);
  assert.equal(shown.arch, null);
  assert.doesNotMatch(shown.code, /model=/, 'the embed code names no network either');
  assert.deepEqual(problems, []);
  await page.close();
});
