// Networks from the Hugging Face Hub by name, for the page: `hf:timm/<model>.<tag>` opens the
// repository's `config.json` (timm's architecture, label_names and pretrained_cfg) and
// `model.safetensors` from `<hub>/<id>/resolve/main/<file>` (the Hub redirects the weights to its
// file host, which sends CORS headers), with progress and cancel. Each file fetched is kept in the
// browser's Cache Storage under its Hub address, so a second open and a reload make no request and
// work offline. Every failure is an Error that names the problem and what to do.

import { MAX_MODEL_BYTES, readStream } from './model-source.js';

/** The Hub the page asks by default; the element's `hub` attribute points elsewhere (a mirror). */
export const DEFAULT_HUB = 'https://huggingface.co';
/** The Cache Storage bucket that keeps opened checkpoints. */
export const CACHE_NAME = 'attention-playground-hub-v1';

/**
 * Pretrained timm checkpoints the engine runs, checked against timm 1.0.31's pretrained tags
 * (`timm.list_pretrained()`; each a timm ResNet, SKNet, ResNeSt, ByobNet, BoTNet, RegNetZ,
 * EfficientNet, MobileNetV3 or RegNet, whose
 * real-sized state dict the engine opens): `bytes` is the size of the repository's
 * model.safetensors (float32, what a pick downloads), computed from timm's own state dict.
 */
export const PRETRAINED = [
  { id: 'timm/mobilenetv3_small_100.lamb_in1k', bytes: 10_238_648, family: 'MobileNetV3 (SE)' },
  { id: 'timm/mobilenetv3_large_100.ra_in1k', bytes: 22_053_576, family: 'MobileNetV3 (SE)' },
  { id: 'timm/efficientnet_b0.ra_in1k', bytes: 21_350_632, family: 'EfficientNet (SE)' },
  { id: 'timm/tf_efficientnet_b0.ns_jft_in1k', bytes: 21_350_632, family: 'EfficientNet (SE)' },
  { id: 'timm/regnety_008.pycls_in1k', bytes: 25_198_832, family: 'RegNetY (SE)' },
  { id: 'timm/regnety_016.tv2_in1k', bytes: 45_069_776, family: 'RegNetY (SE)' },
  { id: 'timm/regnetz_b16.ra3_in1k', bytes: 39_103_960, family: 'RegNetZ (SE)' },
  { id: 'timm/eca_resnext26ts.ch_in1k', bytes: 41_332_192, family: 'ECA-ResNeXt (ByobNet)' },
  { id: 'timm/gcresnext26ts.ch_in1k', bytes: 42_052_368, family: 'GC-ResNeXt (ByobNet)' },
  { id: 'timm/resnest14d.gluon_in1k', bytes: 42_547_904, family: 'ResNeSt (Split Attention)' },
  { id: 'timm/eca_botnext26ts_256.c1_in1k', bytes: 42_513_764, family: 'BoTNet (self-attention)' },
  { id: 'timm/skresnet18.ra_in1k', bytes: 47_906_792, family: 'SKNet (Selective Kernel)' },
  { id: 'timm/botnet26t_256.c1_in1k', bytes: 50_094_816, family: 'BoTNet (self-attention)' },
  { id: 'timm/ecaresnet26t.ra2_in1k', bytes: 64_186_328, family: 'ECA-ResNet' },
  { id: 'timm/seresnext26d_32x4d.bt_in1k', bytes: 67_409_744, family: 'SE-ResNeXt' },
  { id: 'timm/ecaresnet50d.miil_in1k', bytes: 102_544_848, family: 'ECA-ResNet' },
  { id: 'timm/seresnet50.a1_in1k', bytes: 112_594_696, family: 'SE-ResNet' },
];

const ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** The Hub id a model source names (`hf:timm/x.y` or `hf-hub:timm/x.y`), or null. */
export function hubId(source) {
  if (typeof source !== 'string') return null;
  const m = /^hf(?:-hub)?:(.+)$/.exec(source.trim());
  return m ? m[1].trim() : null;
}

/** Checks an id the user typed, `timm/<model>.<tag>`; throws with the form it takes. */
export function checkId(id) {
  if (!ID.test(id) || id.includes('..')) {
    throw new Error(`"${id}" is not a Hub model id: give it as organisation/name, e.g. timm/mobilenetv3_large_100.ra_in1k`);
  }
  return id;
}

/** The address of `file` in repository `id` on `hub`. */
export function fileUrl(hub, id, file) {
  return `${(hub || DEFAULT_HUB).replace(/\/+$/, '')}/${id}/resolve/main/${file}`;
}

// Sizes as the Hub shows them (decimal megabytes); the page's limit in the binary MB of
// model-source.js's messages.
const mb = (n) => `${(n / 2 ** 20).toFixed(n < 10 * 2 ** 20 ? 1 : 0)} MB`;
const decimalMb = (n) => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;

async function openCache() {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(CACHE_NAME);
  } catch {
    return null; // storage blocked (a sandboxed frame, private mode): nothing is kept
  }
}

function cancelled(id) {
  return Object.assign(new Error(`Opening ${id} was cancelled.`), { name: 'AbortError', cancelled: true });
}

// Reads `response`'s body (model-source.js's readStream), refusing what is over the page's limit
// as soon as it is known; a read the signal aborted is a cancel.
async function readBody(response, { id, file, signal, onProgress }) {
  const total = Number(response.headers.get('content-length')) || 0;
  const tooLarge = (n) => new Error(`${id}: ${file} is ${mb(n)}; the page reads networks up to ${mb(MAX_MODEL_BYTES)} (the command line, attention-playground net, reads up to 2 GB). Pick a smaller network.`);
  if (total > MAX_MODEL_BYTES) throw tooLarge(total);
  try {
    return new Uint8Array(await readStream(response.body, total, onProgress, tooLarge));
  } catch (e) {
    if (signal?.aborted) throw cancelled(id);
    throw e;
  }
}

/**
 * One file of repository `id`: from the cache when it was fetched before, else from the Hub (then
 * kept). Resolves to `{ bytes: Uint8Array, cached: boolean }`.
 */
export async function hubFile(id, file, { hub, signal, onProgress } = {}) {
  const url = fileUrl(hub, id, file);
  const cache = await openCache();
  const kept = await cache?.match(url).catch(() => null);
  if (kept) {
    const bytes = await readBody(kept, { id, file, signal, onProgress });
    return { bytes, cached: true };
  }
  if (signal?.aborted) throw cancelled(id);
  let response;
  try {
    response = await fetch(url, { signal, mode: 'cors', credentials: 'omit' });
  } catch (e) {
    if (signal?.aborted) throw cancelled(id);
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    throw new Error(offline
      ? `${id} could not be fetched: this browser is offline. A network opened once is kept in this browser and opens offline; open ${id} again when you are online.`
      : `${id} could not be fetched from ${new URL(url).origin}: the Hub did not answer or did not let this page read the file (CORS). Check your connection; for a mirror, set the hub attribute to its address.`);
  }
  if (response.status === 401 || response.status === 403) {
    throw new Error(`${id} is gated or private on the Hub (it answered ${response.status}): this page cannot sign in for you. Accept its terms on the Hub, download its model.safetensors and config.json, and open both at once with Open a network… → From a file…`);
  }
  if (response.status === 404) {
    throw new Error(file === 'config.json'
      ? `${id} is not on the Hub at ${new URL(url).origin} (404): check its name, organisation/model.tag, e.g. timm/mobilenetv3_large_100.ra_in1k.`
      : `${id} has no ${file} on the Hub (404): the page opens safetensors checkpoints; pick a timm repository that has one.`);
  }
  if (!response.ok) {
    throw new Error(`${id} could not be fetched: the Hub answered ${response.status} ${response.statusText || ''}`.trimEnd() + '. Try again later.');
  }
  const bytes = await readBody(response, { id, file, signal, onProgress });
  // Kept under the Hub address (not the redirected file host's), with its size for the list.
  await cache?.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) } })).catch(() => {});
  return { bytes, cached: false };
}

/**
 * Opens repository `id`: its config.json first (`checkArchitecture(config)` may refuse it before
 * the weights are downloaded), then model.safetensors with `onProgress(loaded, total)`.
 * Resolves to `{ bytes: ArrayBuffer, config: string, name, cached }`.
 */
export async function openFromHub(id, { hub, signal, onProgress, checkArchitecture } = {}) {
  checkId(id);
  const { bytes: configBytes } = await hubFile(id, 'config.json', { hub, signal });
  const config = new TextDecoder().decode(configBytes);
  let parsed;
  try {
    parsed = JSON.parse(config);
  } catch {
    throw new Error(`${id}: its config.json is not JSON; it is not a timm repository the page can open.`);
  }
  let weights;
  try {
    await checkArchitecture?.(parsed, config);
    weights = await hubFile(id, 'model.safetensors', { hub, signal, onProgress });
  } catch (e) {
    // Refused, cancelled or failed: its config.json alone is not kept either.
    const cache = await openCache();
    await cache?.delete(fileUrl(hub, id, 'config.json')).catch(() => {});
    throw e;
  }
  const { bytes, cached } = weights;
  return { bytes: bytes.buffer, config, name: id, cached };
}

/** What the cache holds: `[{ id, bytes }]`, one entry per repository whose weights are kept (a
 *  config.json alone, from a download cancelled or refused, opens nothing offline), and the total. */
export async function cachedNetworks() {
  const cache = await openCache();
  if (!cache) return { networks: [], total: 0 };
  const byId = new Map();
  for (const request of await cache.keys()) {
    const m = /^(.*)\/([^/]+\/[^/]+)\/resolve\/main\/([^/]+)$/.exec(request.url);
    if (!m) continue;
    const response = await cache.match(request);
    const size = Number(response?.headers.get('content-length')) || 0;
    const entry = byId.get(m[2]) ?? { bytes: 0, weights: false };
    byId.set(m[2], { bytes: entry.bytes + size, weights: entry.weights || m[3] === 'model.safetensors' });
  }
  const shown = (id) => id.replace(/^timm\//, '');
  const networks = [...byId].filter(([, e]) => e.weights).map(([id, e]) => ({ id, bytes: e.bytes })).sort((a, b) => shown(a.id).localeCompare(shown(b.id)));
  return { networks, total: networks.reduce((s, n) => s + n.bytes, 0) };
}

/** Removes every kept checkpoint (or those of repository `id`). */
export async function clearCache(id = null) {
  if (typeof caches === 'undefined') return;
  if (!id) {
    await caches.delete(CACHE_NAME);
    return;
  }
  const cache = await openCache();
  for (const request of (await cache?.keys()) ?? []) if (request.url.includes(`/${id}/resolve/`)) await cache.delete(request);
}

/** A download's size in the page's words (decimal MB, as the Hub shows sizes). */
export const sizeText = decimalMb;
