// The playground page keeps what it shows in its address (www/url-state.js): a link with
// `#view=...&blocks=...` opens that figure, and changing the view or the blocks rewrites the link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstResult, openPage, servedPlayground } from './support.mjs';

const site = servedPlayground({ cpu: {} });

test('a link opens the view and blocks it names, and the page rewrites its link as they change', async () => {
  const { page, problems } = await openPage(site.browsers.cpu, `${site.origin}/#view=channel&blocks=se+cbam&backend=cpu`);
  const result = await firstResult(page);
  assert.deepEqual(Object.keys(result.blocks).sort(), ['cbam', 'se'], 'the blocks of the link ran');
  const shown = await page.evaluate(() => {
    const el = document.querySelector('attention-playground');
    return { view: el.view, selected: el.shadowRoot.querySelector('.tab[aria-selected="true"]').dataset.view, backend: el.backend };
  });
  assert.deepEqual(shown, { view: 'channel', selected: 'channel', backend: 'cpu' });
  // A tab and a block chip, clicked as a person would: the address follows.
  await page.locator('attention-playground .tab[data-view="features"]').click();
  await page.locator('attention-playground .blocks input[value="eca"]').check();
  await page.waitForFunction(() => location.hash.includes('eca'));
  const params = await page.evaluate(() => Object.fromEntries(new URLSearchParams(location.hash.slice(1))));
  assert.equal(params.view, 'features');
  assert.deepEqual(params.blocks.split(' ').sort(), ['cbam', 'eca', 'se']);
  // Reloading the rewritten link shows the same.
  await page.reload();
  await firstResult(page);
  assert.equal(await page.evaluate(() => document.querySelector('attention-playground').view), 'features');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a link opens the sample photo, the block options and the query it names; choosing them rewrites it', async () => {
  const link = `${site.origin}/#view=nonlocal&blocks=nonlocal+mhsa&options=mhsa.heads%3D2+nonlocal.pairwise%3Ddot-product&image=astronaut.jpg&query=0.25%2C0.5&backend=cpu`;
  const { page, problems } = await openPage(site.browsers.cpu, link);
  const result = await firstResult(page);
  assert.equal(result.blocks.mhsa.heads, 2, 'the heads of the link');
  // The query of the link is asked for once the result is there: the row of the feature cell under
  // (0.25, 0.5) of the photo, inside the centre crop.
  const shown = await page.evaluate(async () => {
    const el = document.querySelector('attention-playground');
    for (let i = 0; i < 100 && !el._state.attention; i++) await new Promise((r) => setTimeout(r, 50));
    const a = el._state.attention;
    const grid = el.result.blocks[a.block].grid;
    return { photo: el._photo.name, options: el.options, block: a.block, fx: a.fx, fy: a.fy, grid, width: el.result.width, height: el.result.height,
      sum: Array.from(a.row.data.slice(0, a.row.width * a.row.height)).reduce((s, v) => s + v, 0), message: el.shadowRoot.querySelector('.message').hidden };
  });
  assert.match(shown.photo, /astronaut/, 'the sample of the link');
  assert.deepEqual(shown.options, { 'mhsa.heads': 2, 'nonlocal.pairwise': 'dot-product' });
  assert.equal(shown.block, 'nonlocal');
  assert.equal(shown.fx, Math.floor(0.25 * shown.grid.width), `the query's column (${JSON.stringify(shown)})`);
  assert.equal(shown.fy, Math.floor(0.5 * shown.grid.height), `the query's row (${JSON.stringify(shown)})`);
  assert.ok(shown.message, 'no message for a link that is all valid');
  // A click on the photo in the attention view, a sample and an option, as a person would: the
  // address follows each.
  const box = await page.locator('attention-playground canvas').boundingBox();
  await page.mouse.click(box.x + box.width * 0.1, box.y + 40);
  await page.waitForFunction(() => !location.hash.includes('query=0.25%2C0.5'));
  await page.locator('attention-playground [data-sample="2"]').click();
  await page.waitForFunction(() => location.hash.includes('image=rocket.jpg'));
  await page.evaluate(() => { document.querySelector('attention-playground').shadowRoot.querySelector('.options-box').open = true; }); // the blocks' options start folded
  await page.locator('attention-playground select[data-option="mhsa.heads"]').selectOption('8');
  await page.waitForFunction(() => location.hash.includes('heads%3D8'));
  const params = await page.evaluate(() => Object.fromEntries(new URLSearchParams(location.hash.slice(1))));
  assert.match(params.query, /^0(\.\d+)?,0(\.\d+)?$/);
  assert.deepEqual(params.options.split(' ').sort(), ['mhsa.heads=8', 'nonlocal.pairwise=dot-product']);
  // The rewritten link opens the same: the rocket, eight heads, the clicked query.
  await page.reload();
  const again = await firstResult(page);
  assert.equal(again.blocks.mhsa.heads, 8);
  assert.match(await page.evaluate(() => document.querySelector('attention-playground')._photo.name), /rocket/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('an option word that names nothing is left out, said in the element, and the rest runs', async () => {
  const { page, problems } = await openPage(site.browsers.cpu, `${site.origin}/#blocks=mhsa&options=mhsa.heads%3D3+mhsa.heads%3D2&backend=cpu`);
  const result = await firstResult(page);
  assert.equal(result.blocks.mhsa.heads, 2, 'the valid word applies');
  const message = await page.evaluate(() => {
    const m = document.querySelector('attention-playground').shadowRoot.querySelector('.message');
    return m.hidden ? '' : m.textContent;
  });
  assert.match(message, /mhsa\.heads=3.*names no option.*mhsa\.heads=4\|1\|2\|8/);
  assert.deepEqual(problems.filter((p) => !/mhsa\.heads=3/.test(p)), []);
  await page.close();
});
