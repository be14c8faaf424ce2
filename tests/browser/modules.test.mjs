// The front end's module graph (www/ and www/views/): every relative import resolves to a file,
// and the graph has no cycle, so each module can be read after the ones it imports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, normalize, relative } from 'node:path';

const WWW = new URL('../../www/', import.meta.url).pathname;

test('the www/ modules import each other without a cycle', async () => {
  const files = [...(await readdir(WWW)).filter((f) => f.endsWith('.js')), ...(await readdir(join(WWW, 'views'))).filter((f) => f.endsWith('.js')).map((f) => `views/${f}`)];
  const graph = new Map();
  for (const file of files) {
    const text = await readFile(join(WWW, file), 'utf8');
    const targets = [...text.matchAll(/^import\s[^'"]*['"](\.[^'"]+)['"]/gm), ...text.matchAll(/^export\s[^'"]*from\s+['"](\.[^'"]+)['"]/gm)]
      .map((m) => relative(WWW, normalize(join(WWW, dirname(file), m[1]))));
    graph.set(file, targets);
  }
  // Only the wasm package (built into dist/pkg) and svgcanvas (dist/vendor) are not in www/.
  const missing = [...graph].flatMap(([from, to]) => to.filter((t) => !graph.has(t) && !/^(pkg|pkg-scalar|vendor)\//.test(t)).map((t) => `${from} -> ${t}`));
  assert.deepEqual(missing, [], 'imports that name no module');
  assert.ok(graph.size > 20, `the modules were read (${graph.size})`);
  const state = new Map();
  const cycles = [];
  const visit = (file, path) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(cycles, [], 'import cycles');
});
