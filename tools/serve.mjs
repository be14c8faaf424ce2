// A static file server for dist/, with the MIME types ES modules and wasm streaming need.
// Used by `./build.sh serve` and by the browser tests (which pass port 0 and read the port back).
// `root` is a folder, or `{ '/': folder, '/cases/': other }` (the longest matching prefix wins);
// `headers` go with every file (the benchmark page asks for cross-origin isolation).
//   node tools/serve.mjs [--cors] [root=dist] [port=8080]
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.md': 'text/markdown; charset=utf-8',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.gif': 'image/gif', '.svg': 'image/svg+xml', '.webp': 'image/webp',
  '.safetensors': 'application/octet-stream',
};

export function serve(root, port = 8080, host = '127.0.0.1', headers = {}) {
  const mounts = Object.entries(typeof root === 'string' ? { '/': root } : root)
    .map(([prefix, folder]) => [prefix, resolve(folder)])
    .sort(([a], [b]) => b.length - a.length);
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      const [prefix, base] = mounts.find(([prefix]) => path.startsWith(prefix)) ?? [];
      if (!base) throw Object.assign(new Error('no such mount'), { code: 'ENOENT' });
      let file = normalize(join(base, path.slice(prefix.length)));
      if (!file.startsWith(base)) throw Object.assign(new Error('outside the root'), { code: 'ENOENT' });
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache', ...headers });
      res.end(body);
    } catch (e) {
      res.writeHead(e.code === 'ENOENT' ? 404 : 500, { 'content-type': 'text/plain' });
      res.end(e.code === 'ENOENT' ? 'not found' : 'server error');
    }
  });
  return new Promise((resolveServer, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolveServer(server));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `--cors` adds Access-Control-Allow-Origin: * to every file, as a CDN must send it, so that a
  // page on another origin (another port) can embed the element from this server.
  const args = process.argv.slice(2);
  const cors = args.includes('--cors');
  const [root = 'dist', port = '8080'] = args.filter((a) => a !== '--cors');
  serve(root, Number(port), '127.0.0.1', cors ? { 'access-control-allow-origin': '*' } : {})
    .then((server) => console.log(`attention-playground: serving ${root}/ at http://127.0.0.1:${server.address().port}/${cors ? ' with Access-Control-Allow-Origin: * (a page on another origin can embed it)' : ''} (Ctrl-C stops)`))
    .catch((e) => {
      const taken = e.code === 'EADDRINUSE' ? ` (another program has it: PORT=${Number(port) + 1} ./build.sh serve uses another port)` : '';
      console.error(`attention-playground: cannot serve on port ${port}: ${e.message}${taken}`);
      process.exit(1);
    });
}
