// The element in English and Chinese (www/i18n.js): both tables have every key, every key the
// code asks for is in them, and with lang="zh" the element shows no English word of its own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { STRINGS } from '../../www/i18n.js';
import { serve } from '../../tools/serve.mjs';
import { launch } from './support.mjs';

const WWW = new URL('../../www/', import.meta.url).pathname;

test('both languages have every key, and every key the code uses is there', async () => {
  const en = Object.keys(STRINGS.en).sort();
  const zh = Object.keys(STRINGS.zh).sort();
  assert.deepEqual(zh.filter((k) => !en.includes(k)), [], 'keys only in Chinese');
  assert.deepEqual(en.filter((k) => !zh.includes(k)), [], 'keys not translated into Chinese');
  const files = [...(await readdir(WWW)).filter((f) => f.endsWith('.js')), ...(await readdir(join(WWW, 'views'))).map((f) => `views/${f}`)];
  const used = new Set();
  for (const file of files) {
    const text = await readFile(join(WWW, file), 'utf8');
    for (const m of text.matchAll(/\bt\(\s*'([\w.]+)'/g)) used.add(m[1]);
    for (const m of text.matchAll(/t\(\s*(\w+) \? '([\w.]+)' : '([\w.]+)'/g)) used.add(m[2]).add(m[3]);
  }
  assert.ok(used.size > 50, `the keys the code uses were found (${used.size})`);
  assert.deepEqual([...used].filter((k) => !(k in STRINGS.en)).sort(), [], 'keys the code uses that no table has');
  // Placeholders agree between the two.
  for (const key of en) {
    const names = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(names(STRINGS.zh[key]), names(STRINGS.en[key]), `placeholders of ${key}`);
  }
});

let server;
let browser;
before(async () => {
  server = await serve({
    '/': new URL('../../dist/', import.meta.url).pathname,
    '/pages/': new URL('./pages/', import.meta.url).pathname,
    '/nets/': new URL('../fixtures/nets/', import.meta.url).pathname,
  }, 0);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.close();
});

test('with lang="zh" the controls and every view speak Chinese, and the switch turns them back to English', async () => {
  const origin = `http://127.0.0.1:${server.address().port}`;
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${origin}/pages/blank.html`);
  const english = new Set(Object.values(STRINGS.en).filter((v) => !Object.values(STRINGS.zh).includes(v) && !/\{/.test(v)));
  const seen = await page.evaluate(async (origin) => {
    await import(`${origin}/attention-playground.js`);
    document.body.insertAdjacentHTML('beforeend', '<attention-playground lang="zh"></attention-playground>');
    const el = document.querySelector('attention-playground');
    await el.ready;
    if (!el.result) await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
    const texts = [];
    const walk = (node) => {
      for (const child of node.childNodes) {
        if (child.nodeType === 3 && child.textContent.trim() && !child.parentElement.closest('[hidden]')) texts.push(child.textContent.trim());
        else if (child.nodeType === 1) {
          if (child.title) texts.push(child.title);
          walk(child);
        }
      }
    };
    walk(el.shadowRoot);
    const tabs = [...el.shadowRoot.querySelectorAll('.tab')].filter((t) => !t.hidden).map((t) => t.textContent);
    // Every view draws in Chinese (the canvas text is checked through the scene's translator).
    const views = [];
    for (const view of ['channel', 'spatial', 'nonlocal', 'features', 'explain', 'formula', 'tokens']) {
      el.setAttribute('view', view);
      views.push(el._layout?.height > 40);
    }
    el.setAttribute('view', 'channel');
    return { texts, tabs, views };
  }, origin);
  await page.screenshot({ path: new URL('../../test-output/browser/zh.png', import.meta.url).pathname });
  Object.assign(seen, await page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    el.shadowRoot.querySelector('select.lang').value = 'en';
    el.shadowRoot.querySelector('select.lang').dispatchEvent(new Event('change'));
    const after = [...el.shadowRoot.querySelectorAll('.tab')].filter((t) => !t.hidden).map((t) => t.textContent);
    return { after, lang: el.language };
  }));
  assert.deepEqual(seen.tabs, ['通道权重', '空间图', '注意力', '特征', '计算过程', '统一公式', '词元自注意力']);
  assert.ok(seen.texts.some((t) => /^(圆盘|正方形|三角形|十字|圆环|星形)$/.test(t)), 'the predicted shape is named in Chinese');
  assert.deepEqual(seen.texts.filter((t) => english.has(t)), [], 'no English word of the element with lang="zh"');
  assert.ok(seen.views.every(Boolean), 'every view draws');
  assert.deepEqual(seen.after, ['Channel weights', 'Spatial map', 'Attention', 'Features', 'How it works', 'One formula', 'Self-attention on tokens']);
  assert.equal(seen.lang, 'en');
  assert.deepEqual(problems, []);
  await page.close();
});

test('with lang="zh" an opened network\'s prediction line names its classes in Chinese, in the change it sums up too', async () => {
  const origin = `http://127.0.0.1:${server.address().port}`;
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${origin}/pages/blank.html`);
  const line = await page.evaluate(async (origin) => {
    await import(`${origin}/attention-playground.js`);
    document.body.insertAdjacentHTML('beforeend', `<attention-playground lang="zh" view="network" model="${origin}/nets/skresnet18/model.safetensors"></attention-playground>`);
    const el = document.querySelector('attention-playground');
    await el.ready;
    while (!el.result?.network) await new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
    const next = new Promise((r) => el.addEventListener('attention-result', r, { once: true }));
    el.setAttribute('off', 'layer1.0.conv1');
    await next;
    return el.shadowRoot.querySelector('.prediction .change')?.textContent;
  }, origin);
  assert.match(line ?? '', /^去掉 layer1\.0\.conv1：类别 \d+ /, line);
  assert.deepEqual(problems, []);
  await page.close();
});
