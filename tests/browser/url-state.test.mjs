// The playground page keeps what it shows in its address (www/url-state.js): a link with
// `#view=...&blocks=...` opens that figure, and changing the view or the blocks rewrites the link.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../../tools/serve.mjs';
import { firstResult, launch, openPage } from './support.mjs';

let server;
let origin;
let browser;

before(async () => {
  server = await serve(new URL('../../dist/', import.meta.url).pathname, 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('a link opens the view and blocks it names, and the page rewrites its link as they change', async () => {
  const { page, problems } = await openPage(browser, `${origin}/#view=channel&blocks=se+cbam&backend=cpu`);
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
