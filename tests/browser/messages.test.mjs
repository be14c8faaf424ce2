// The element's messages in Chinese (www/messages.js): every template of the table translates a
// message made from it; and in the page with lang="zh", the messages a user meets (a bad network
// checkpoint, a bad block's weights, a photo that cannot be read, no WebGPU, a URL that answers 404)
// are shown in Chinese with no English sentence left, only the names, keys and commands they quote,
// while the API's Error keeps the English and the element keeps working.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve } from '../../tools/serve.mjs';
import { MESSAGES_ZH, translateMessage } from '../../www/messages.js';
import { launch, openPage } from './support.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const NETS = join(ROOT, 'tests/fixtures/nets');
const FIXTURES = join(ROOT, 'tests/fixtures');

let server;
let origin;
const browsers = {};

before(async () => {
  server = await serve({ '/': join(ROOT, 'dist'), '/nets/': NETS }, 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  browsers.cpu = await launch();
});

after(async () => {
  await browsers.cpu?.close();
  server?.close();
});

// What is left of a shown message once what it quotes is taken out: code in backticks, quoted
// names and commands, addresses, file names, numbers.
function prose(text) {
  return text
    .replace(/`[^`]*`/g, ' ')
    .replace(/python -c "[^"]*"/g, ' ')
    .replace(/"[^"]*"|“[^”]*”|'[^']*'/g, ' ')
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\S+\.(safetensors|pth|png|jpg)\b/g, ' ');
}
// Four English words in a row: a sentence the table missed.
const ENGLISH = /\b[A-Za-z][a-z]+(?:[ ,;:]+[A-Za-z][a-z]+){3,}/;

test('every template of the table translates a message made from it', () => {
  for (const [en, zh] of MESSAGES_ZH) {
    // Each hole filled with a plain word, or left empty where a word would not be a message.
    for (const fill of ['x1', '']) {
      const sample = en.replace(/\{[a-z_]+\}/g, fill);
      const out = translateMessage(sample);
      if (fill === '' || out !== null) {
        assert.notEqual(out, null, `${en} (holes "${fill}")`);
        assert.match(out, /[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]|^$|[A-Z]{3}/, `${en}: ${out}`);
        break;
      }
    }
    assert.ok(zh.length > 0);
  }
  assert.equal(translateMessage('an unheard-of problem'), null, 'a message no template makes stays English');
  assert.equal(translateMessage('weights.safetensors: something new happened'), null, 'a known prefix does not make an unknown message translated');
});

test('every family the engine can say a checkpoint looks like (src/net/checkpoint.rs describe) is in the table', async () => {
  const source = await readFile(join(ROOT, 'src/net/checkpoint.rs'), 'utf8');
  const start = source.indexOf('pub fn describe(');
  assert.ok(start > 0, 'describe() in src/net/checkpoint.rs');
  const body = source.slice(start, source.indexOf('\n}\n', start)).replace(/\\\n\s*/g, '');
  const said = [...body.matchAll(/^\s*"((?:[^"\\]|\\.)+)"\s*$/gm)].map((m) => m[1]);
  assert.ok(said.length >= 15, `${said.length} descriptions found`);
  const untranslated = said.filter((text) => {
    const zh = translateMessage(text);
    return zh === null || ENGLISH.test(prose(zh).replace(/timm|ResNet|\w*Net\w*|ConvNeXt|ByobNet|BAT|Selective Kernel|Split Attention/g, ' '));
  });
  assert.deepEqual(untranslated, [], 'descriptions with no Chinese template');
});

test('with lang="zh" the messages a user meets are Chinese, the API keeps the English, and the element keeps working', async () => {
  const { page, problems } = await openPage(browsers.cpu, `${origin}/#backend=cpu&lang=zh`);
  await page.evaluate(async () => { await document.querySelector('attention-playground').ready; });
  const te = (s) => new TextEncoder().encode(s);
  const shown = [];
  const attempt = (op, b64, extra) => page.evaluate(async ({ op, b64, extra }) => {
    const el = document.querySelector('attention-playground');
    const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    try {
      if (op === 'model') await el.loadModel(new File([data], 'weights.safetensors'), extra);
      if (op === 'weights') await el.loadWeights(extra, new File([data], 'w.safetensors'));
      if (op === 'photo') await el.run(new File([data], 'photo.png', { type: 'image/png' }));
      return { ok: true };
    } catch (e) {
      return { error: e.message, shown: el.shadowRoot.querySelector('.message').textContent };
    }
  }, { op, b64: Buffer.from(b64).toString('base64'), extra });
  const cases = [
    ['model', te('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 102400000\n')],
    ['model', (await readFile(join(NETS, 'seresnet50', 'model.safetensors'))).subarray(0, 5000)],
    ['model', te('<!doctype html><title>404</title>')],
    ['model', await readFile(join(FIXTURES, 'se_timm/weights.safetensors'))],
    ['model', te('notes on the run\nlr 3e-4, 90 epochs\n')],
    ['model', await readFile(join(NETS, 'efficientnet_b0', 'model.safetensors'))],
    ['model', await readFile(join(NETS, 'efficientnet_b0', 'model.safetensors')), { arch: 'mobilenetv3_large_100' }],
    ['model', new Uint8Array(0)],
    ['model', te('{"error": "not found"}')],
    ['model', Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3])],
    ['model', await readFile(join(FIXTURES, 'cases', 'se_weights.pth')).catch(() => Uint8Array.from([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]))],
    ['weights', await readFile(join(FIXTURES, 'se_timm/weights.safetensors')), 'cbam'],
    ['weights', await readFile(join(FIXTURES, 'cbam_timm/weights.safetensors')), 'se'],
    ['weights', te('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1408\n'), 'se'],
    ['photo', te('\x89PNG\r\n\x1a\nxxxx')],
  ];
  for (const [op, bytes, extra] of cases) {
    const outcome = await attempt(op, bytes, extra);
    assert.ok(outcome.error, `${op}: refused`);
    shown.push(outcome);
  }
  // A network address that answers 404.
  shown.push(await page.evaluate(async () => {
    const el = document.querySelector('attention-playground');
    try { await el.loadModel('/nets/not-there.safetensors'); return {}; } catch (e) { return { error: e.message, shown: el.shadowRoot.querySelector('.message').textContent }; }
  }));
  for (const { error, shown: text } of shown) {
    assert.ok(/[\u4e00-\u9fff]/.test(text), `shown in Chinese: ${text}`);
    assert.doesNotMatch(prose(text), ENGLISH, `no English sentence left in: ${text}`);
    assert.ok(!/[\u4e00-\u9fff]/.test(error), `the API's Error stays English: ${error}`);
  }
  // The element still runs a photo after all that.
  const works = await page.evaluate(async () => {
    const el = document.querySelector('attention-playground');
    await el.closeModel?.();
    const c = document.createElement('canvas');
    c.width = 64; c.height = 48;
    c.getContext('2d').fillRect(10, 10, 20, 20);
    const r = await el.run(c);
    return Boolean(r?.prediction ?? r);
  });
  assert.ok(works);
  // The 404 the browser logs for the address that was not there is the one expected problem.
  assert.deepEqual(problems.filter((p) => !p.includes('status of 404')), []);
  await page.close();
});

test('with lang="zh" a WebGPU backend that is not there says so in Chinese', async () => {
  const { page } = await openPage(browsers.cpu, `${origin}/#backend=webgpu&lang=zh`);
  const text = await page.waitForFunction(() => {
    const m = document.querySelector('attention-playground')?.shadowRoot?.querySelector('.message');
    return m && !m.hidden && m.textContent;
  }, null, { timeout: 60000 }).then((h) => h.jsonValue());
  assert.match(text, /GPU 后端不可用/);
  assert.doesNotMatch(prose(text), ENGLISH, text);
  await page.close();
});
