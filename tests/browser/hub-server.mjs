// A stand-in for the Hugging Face Hub on this machine, with the Hub's URL layout and manners, so
// the page's Hub path is tested without a network: `GET /<org>/<name>/resolve/main/<file>` on the
// Hub's origin answers 302 to the file on a second origin (the Hub's file host), both with
// `Access-Control-Allow-Origin: *`; a repository under `gated/` answers 401 (as a gated or
// private repository does to a page without a login), an unknown one 404. Every request is
// counted, so a test can tell that a second open made none. Files come from tests/fixtures/hub/.
//   const hub = await startHub(); ... hub.origin, hub.requests, await hub.close()
// Routes for failures: `slow/<name>` streams its model.safetensors over seconds (cancel);
// `huge/<name>` announces a 3 GB model.safetensors (too large for the tab).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';

const FIXTURES = new URL('../fixtures/hub/', import.meta.url).pathname;
const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'content-length, location' };

function listen(handler) {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Starts the Hub and its file host; `extra` maps `org/name/file` to bytes served as they are. */
export async function startHub(extra = {}) {
  const requests = [];
  // The file host: `/files/<org>/<name>/<file>` from the fixtures (slow/ and huge/ stand for
  // fixture repositories under timm/).
  const files = await listen(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    requests.push({ host: 'files', path });
    const m = /^\/files\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (!m) return res.writeHead(404, CORS).end('not found');
    const [, org, name, file] = m;
    if (org === 'huge' && file === 'model.safetensors') {
      res.writeHead(200, { ...CORS, 'content-type': 'application/octet-stream', 'content-length': String(3 * 2 ** 30) });
      res.write(Buffer.alloc(1024));
      return setTimeout(() => res.destroy(), 2000);
    }
    let body = extra[`${org}/${name}/${file}`];
    if (!body) {
      const local = normalize(join(FIXTURES, ['slow', 'huge'].includes(org) ? 'timm' : org, name, file));
      if (!local.startsWith(FIXTURES)) return res.writeHead(404, CORS).end('not found');
      body = await readFile(local).catch(() => null);
    }
    if (!body) return res.writeHead(404, CORS).end('Entry not found');
    res.writeHead(200, { ...CORS, 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    if (org !== 'slow' || file !== 'model.safetensors') return res.end(body);
    // A slow download: a twentieth of the file every 250 ms.
    const step = Math.ceil(body.length / 20);
    let at = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(body.subarray(at, at + step));
      at += step;
      if (at >= body.length) {
        clearInterval(timer);
        res.end();
      }
    }, 250);
    res.on('close', () => clearInterval(timer));
  });
  const filesOrigin = `http://localhost:${files.address().port}`; // another origin than the Hub's
  const hub = await listen(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    requests.push({ host: 'hub', path });
    if (req.method === 'OPTIONS') return res.writeHead(204, { ...CORS, 'access-control-allow-headers': '*' }).end();
    const m = /^\/([^/]+)\/([^/]+)\/resolve\/main\/([^/]+)$/.exec(path);
    if (!m) return res.writeHead(404, CORS).end('not found');
    const [, org, name, file] = m;
    if (org === 'gated') return res.writeHead(401, CORS).end('Access to model is restricted');
    const known = extra[`${org}/${name}/${file}`]
      || ['slow', 'huge'].includes(org)
      || (await readFile(join(FIXTURES, org, name, file)).then(() => true, () => false));
    if (!known) return res.writeHead(404, CORS).end('Repository not found');
    res.writeHead(302, { ...CORS, location: `${filesOrigin}/files/${org}/${name}/${file}` }).end();
  });
  return {
    origin: `http://127.0.0.1:${hub.address().port}`,
    requests,
    close: () => Promise.all([hub, files].map((s) => new Promise((resolve) => { s.closeAllConnections?.(); s.close(resolve); }))),
  };
}
