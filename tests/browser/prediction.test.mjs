// The line beside the bundled network's prediction: with every block on it gives the prediction with
// every block off; with blocks switched off it says what switching them off changed against every
// block on ("without SE, ECA: square 61 % → disc 34 %"), from the engine's run of the same photo with
// every block on; in English and Chinese.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstResult, openPage, servedPlayground } from './support.mjs';

const site = servedPlayground({ cpu: {} });

const line = (page) => page.evaluate(() => document.querySelector('attention-playground').shadowRoot.querySelector('.prediction .right')?.textContent ?? '');
const top = (p) => [...p.probabilities.keys()].sort((a, b) => p.probabilities[b] - p.probabilities[a])[0];

test('with blocks off, the line compares with every block on; with none off, with every block off', async () => {
  const { page, problems } = await openPage(site.browsers.cpu, `${site.origin}/#backend=cpu&image=astronaut.jpg`);
  const all = await firstResult(page);
  assert.equal(all.reference, undefined, 'nothing to compare with when every block is on');
  assert.match(await line(page), /^with every block off: /);
  // Switch four blocks off: the result carries the all-on prediction of the same photo.
  const partial = await page.evaluate(async () => {
    const el = document.querySelector('attention-playground');
    const next = new Promise((r) => el.addEventListener('attention-result', (e) => r(e.detail), { once: true }));
    el.setAttribute('blocks', 'cbam nonlocal');
    const result = await next;
    return { reference: { probabilities: Array.from(result.reference.probabilities), classes: result.reference.classes }, prediction: { probabilities: Array.from(result.prediction.probabilities), classes: result.prediction.classes } };
  });
  partial.reference.probabilities.forEach((p, i) => assert.ok(Math.abs(p - all.prediction.probabilities[i]) < 1e-6, `class ${i}: ${p} against the all-on run's ${all.prediction.probabilities[i]}`));
  const was = top(partial.reference);
  const now = top(partial.prediction);
  const text = await line(page);
  assert.ok(text.startsWith('without SE, ECA, GC, MHSA: '), text);
  assert.ok(text.includes(`${partial.reference.classes[was]} ${Math.round(partial.reference.probabilities[was] * 100)} %`), text);
  if (now !== was) assert.ok(text.includes(`→ ${partial.prediction.classes[now]} `), text);
  else assert.match(text, /→ [0-9.<]/);
  // In Chinese.
  await page.evaluate(() => document.querySelector('attention-playground').setAttribute('lang', 'zh'));
  assert.match(await line(page), /^去掉 SE, ECA, GC, MHSA：/);
  assert.deepEqual(problems, []);
  await page.close();
});
