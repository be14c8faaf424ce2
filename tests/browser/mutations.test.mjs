// No checkpoint traps the engine in the page: the mutated checkpoints tests/mutations.rs writes
// (target/test-mutations/: a rank changed, a zero-sized or short tensor, a non-square kernel, a
// dropped key, a NaN or an infinity, in three fixture networks) opened one after another in one
// element. Each gives a network or a one-line message; none is answered by a trapped worker
// (a panic in wasm, reported as an internal error or as memory running out), and the element
// keeps working. A NaN weight's logits are NaN, and the prediction line says where the NaN is
// instead of ranking them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve } from '../../tools/serve.mjs';
import { launch, openPage } from './support.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const MUTATIONS = join(ROOT, 'target/test-mutations');
const TRAP = /internal error|did not fit in this tab's memory|unreachable|RuntimeError|panicked/i;

let server;
let origin;
let browser;

before(async () => {
  assert.ok(existsSync(join(MUTATIONS, 'index.json')), 'cargo test (tests/mutations.rs) writes target/test-mutations/ before the browser tests');
  server = await serve({ '/': join(ROOT, 'dist'), '/mutations/': MUTATIONS, '/pages/': join(ROOT, 'tests/browser/pages'), '/hubfix/': join(ROOT, 'tests/fixtures/hub') }, 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('no mutated checkpoint traps the engine; a NaN weight is named instead of a prediction', async () => {
  const index = JSON.parse(await readFile(join(MUTATIONS, 'index.json'), 'utf8'));
  const { page, problems } = await openPage(browser, `${origin}/pages/blank.html`);
  const outcomes = await page.evaluate(async ({ index, origin }) => {
    await import(`${origin}/attention-playground.js`);
    document.body.insertAdjacentHTML('beforeend', '<attention-playground></attention-playground>');
    const el = document.querySelector('attention-playground');
    await el.ready;
    await el.run(await (await fetch(`${origin}/hubfix/photo.png`)).blob());
    const out = [];
    for (const { file, arch, what } of index) {
      try {
        await el.loadModel(`${origin}/mutations/${file}`, { arch });
        out.push({ file, what, opened: true, nonFinite: el.result?.non_finite ?? null, logits: Array.from(el.result?.full_logits ?? []), line: el.shadowRoot.querySelector('.prediction').textContent });
      } catch (e) {
        out.push({ file, what, opened: false, message: e.message });
      }
    }
    // Still working: the bundled network runs the photo again.
    await el.closeModel();
    const result = await el.run(await (await fetch(`${origin}/hubfix/photo.png`)).blob());
    out.push({ file: 'bundled', opened: Boolean(result?.prediction) });
    return out;
  }, { index, origin });
  const trapped = outcomes.filter((o) => o.message && TRAP.test(o.message));
  assert.deepEqual(trapped, [], 'a mutated checkpoint trapped the engine');
  for (const o of outcomes.filter((o) => !o.opened && o.file !== 'bundled')) {
    assert.ok(o.message.length > 10 && !o.message.includes('\n'), `${o.file}: one line: ${o.message}`);
  }
  const nans = outcomes.filter((o) => o.what === 'NaN' && o.opened);
  assert.ok(nans.length >= 3, `NaN checkpoints that open: ${nans.length}`);
  for (const o of nans) {
    assert.ok(o.logits.some(Number.isNaN), `${o.file}: the NaN reaches the logits, as in PyTorch`);
    assert.match(o.nonFinite ?? '', /^the logits hold NaN, as PyTorch's do for these weights: the checkpoint's `[^`]+` holds NaN at index \d+$/, o.file);
    assert.match(o.line, /the logits hold NaN/, `${o.file}: the prediction line says it`);
  }
  assert.ok(outcomes.at(-1).opened, 'the element keeps working');
  assert.deepEqual(problems, []);
  await page.close();
});
