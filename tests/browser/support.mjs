// What the browser test files share: Debian's Chromium launched by playwright-core, with the flags
// a root user on a closed network needs.
import { execFileSync } from 'node:child_process';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';
import { serve } from '../../tools/serve.mjs';

export const chromiumPath = () => process.env.CHROMIUM ?? execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser']).toString().trim();

// As root Chromium needs --no-sandbox; the network flags keep it from calling out of a closed network.
export const BASE_ARGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];

/** A headless Chromium; `webgpu` adds --enable-unsafe-webgpu (SwiftShader). */
export function launch({ webgpu = false, args = [] } = {}) {
  return chromium.launch({ executablePath: chromiumPath(), args: [...BASE_ARGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : []), ...args] });
}

/** Opens `url` in a new page of `browser`, collecting console errors, page errors and every http request. */
export async function openPage(browser, url, viewport = { width: 1100, height: 1000 }) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  const requests = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => r.url().startsWith('http') && requests.push(r.url()));
  await page.goto(url);
  return { page, problems, requests };
}

/** The first result of the element `selector`, which runs its starting photo by itself. */
export function firstResult(page, selector = 'attention-playground') {
  return page.evaluate(async (sel) => {
    const el = document.querySelector(sel);
    await el.ready;
    if (!el.result) await new Promise((resolve) => el.addEventListener('attention-result', resolve, { once: true }));
    return el.exportJson();
  }, selector);
}

/**
 * For a test file: dist/ served on a free port and one headless Chromium per entry of `kinds`
 * (`launch`'s options, e.g. `{ cpu: {}, webgpu: { webgpu: true } }`), started before the file's
 * tests and closed after them. Returns `{ origin, browsers }`, filled in once the tests run.
 */
export function servedPlayground(kinds = { cpu: {} }) {
  const site = { origin: '', browsers: {} };
  let server;
  before(async () => {
    server = await serve(new URL('../../dist/', import.meta.url).pathname, 0);
    site.origin = `http://127.0.0.1:${server.address().port}`;
    for (const [name, options] of Object.entries(kinds)) site.browsers[name] = await launch(options);
  });
  after(async () => {
    for (const browser of Object.values(site.browsers)) await browser?.close();
    server?.close();
  });
  return site;
}
