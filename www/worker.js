// The Web Worker that owns the wasm engine, so the page never freezes while a model runs.
// Protocol: the page posts { id, op, ...args }; the worker answers { id, ok: true, value } or
// { id, ok: false, error, fatal }. `fatal` means the wasm instance trapped (a bug, not bad input):
// the page then replaces this worker with a fresh one.
// Two builds of the engine: pkg/ with WebAssembly SIMD (simd128) and pkg-scalar/ for browsers
// without it. The smallest module that uses a v128 value tells which one this browser validates;
// `?wasm=simd|scalar` on this script's URL overrides the choice (the element's `wasm` attribute).
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of that type
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array(16).fill(0), 0x0b, // code: v128.const 0; end
]);
const asked = new URL(import.meta.url).searchParams.get('wasm');
const build = asked === 'simd' || asked === 'scalar' ? asked : WebAssembly.validate(SIMD_PROBE) ? 'simd' : 'scalar';

let engine = null; // Playground: one backend, one model, the last run
let loaded = null;
let wasm = null; // the module of the chosen build
let exports = null; // its instance's exports (the memory, for the benchmark)

// A Content-Security-Policy that forbids WebAssembly says so in the browser's words; ours name
// the directive and the remedy.
function explainLoadFailure(e) {
  const text = String(e?.message ?? e);
  if (/Content.Security.Policy|unsafe-eval/i.test(text)) {
    return new Error("This page's Content-Security-Policy does not allow WebAssembly, which the engine is. " +
      "Add 'wasm-unsafe-eval' to its script-src directive (for example: script-src 'self' 'wasm-unsafe-eval').");
  }
  if (/fetch|NetworkError|Failed to load|import/i.test(text)) {
    return new Error(`The engine's files could not be loaded (${text}). Serve dist/ over http(s), with Access-Control-Allow-Origin when the script is on another origin.`);
  }
  return e;
}

async function load() {
  loaded ??= (async () => {
    try {
      wasm = await import(build === 'simd' ? './pkg/attention_playground.js' : './pkg-scalar/attention_playground.js');
      exports = await wasm.default();
    } catch (e) {
      loaded = null; // a later call tries again
      throw explainLoadFailure(e);
    }
  })();
  await loaded;
}

// The photo contract (src/photo.rs) on the browser's decoder: the header is checked first (size
// limits, EXIF orientation), then the photo is decoded upright, at most PRESCALE_SIDE long, drawn
// over white and scaled to the working size by the engine's own resampler, as `render` does.
const HEADER_BYTES = 256 * 1024;
const DISPLAY_SIDE = 896;
let canvas = null; // one scratch canvas, reused: a long session does not pile them up

function scratch(width, height) {
  canvas ??= new OffscreenCanvas(1, 1);
  canvas.width = width;
  canvas.height = height;
  return canvas.getContext('2d', { willReadFrequently: true });
}

async function decodeBlob(blob, name) {
  const shown = name === 'image' ? 'the image' : `"${name}"`;
  let head = new Uint8Array(await blob.slice(0, HEADER_BYTES).arrayBuffer());
  let header;
  try {
    header = wasm.photoHeader(head, blob.size, shown);
  } catch (e) {
    // A JPEG with more than HEADER_BYTES of metadata before its size: read it all.
    if (blob.size <= head.length || !/cannot be read/.test(e.message)) throw e;
    head = new Uint8Array(await blob.arrayBuffer());
    header = wasm.photoHeader(head, blob.size, shown);
  }
  const [width, height] = wasm.prescaleSize(header.width, header.height);
  // Colour profiles are not applied: PIL, which reads the photos of PyTorch pipelines, ignores
  // them too, and so does `render`.
  const options = { imageOrientation: 'from-image', colorSpaceConversion: 'none' };
  if (width !== header.width || height !== header.height) Object.assign(options, { resizeWidth: width, resizeHeight: height, resizeQuality: 'high' });
  try {
    return { bitmap: await createImageBitmap(blob, options), header };
  } catch {
    if (header.format === 'AVIF/HEIF') {
      throw new Error(`${shown} is an AVIF or HEIC photo this browser does not decode; convert it to JPEG (an iPhone saves JPEG with Settings > Camera > Formats > Most Compatible).`);
    }
    throw new Error(`${shown} could not be read as an image: the file is damaged or cut short. Choose another photo, or open and save it again as JPEG or PNG.`);
  }
}

async function decode({ blob, bitmap, name }) {
  await load();
  let header = null;
  if (blob) ({ bitmap, header } = await decodeBlob(blob, name));
  const originalWidth = header?.width ?? bitmap.width;
  const originalHeight = header?.height ?? bitmap.height;
  try {
    const [width, height] = wasm.prescaleSize(bitmap.width, bitmap.height);
    const ctx = scratch(width, height);
    ctx.fillStyle = '#fff'; // transparent pixels read as white, as they look on a page
    ctx.fillRect(0, 0, width, height);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, width, height);
    let pixels;
    try {
      pixels = ctx.getImageData(0, 0, width, height).data;
    } catch (e) {
      if (e?.name === 'SecurityError') throw new Error('tainted: the image comes from another origin without CORS');
      throw e;
    }
    const working = wasm.toWorkingSize(pixels, width, height);
    // An opened network resizes and crops the photo itself (as timm evaluates), from these.
    const full = { rgba: new Uint8Array(pixels.buffer), width, height };
    const scale = Math.min(1, DISPLAY_SIDE / Math.max(width, height));
    const display = await createImageBitmap(canvas, {
      resizeWidth: Math.max(1, Math.round(width * scale)), resizeHeight: Math.max(1, Math.round(height * scale)), resizeQuality: 'high',
    });
    return { rgba: working.rgba, width: working.width, height: working.height, full, display, originalWidth, originalHeight, name };
  } finally {
    bitmap.close();
    if (canvas) canvas.width = canvas.height = 1; // the pixels are copied out; free them now
  }
}

// Every Float32Array and Uint8Array in the result, and any ImageBitmap, move to the page without
// a copy.
function transferables(value, out = []) {
  if (value instanceof Float32Array || value instanceof Uint8Array) out.push(value.buffer);
  else if (typeof ImageBitmap !== 'undefined' && value instanceof ImageBitmap) out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => transferables(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => transferables(v, out));
  return out;
}

// The name of the adapter `auto` would get when it is a software (fallback) one, else null. The
// spec's `adapter.info.isFallbackAdapter` (older browsers: `adapter.isFallbackAdapter`) says so.
async function softwareAdapter() {
  try {
    const adapter = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return null;
    const info = adapter.info ?? {};
    const fallback = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
    const swiftshader = /swiftshader|llvmpipe|lavapipe|software/i.test(`${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`);
    if (!fallback && !swiftshader) return null;
    return [info.description, info.architecture, info.vendor].find((w) => w) ?? 'a fallback adapter';
  } catch {
    return null; // the engine's own request says what is wrong
  }
}

const ops = {
  async init({ backend }) {
    await load();
    engine?.free();
    engine = null;
    // `auto` takes WebGPU on a hardware adapter only: a software one (SwiftShader, which Chromium
    // offers where it has no GPU it trusts) is many times slower than the wasm CPU path.
    const software = backend === 'auto' ? await softwareAdapter() : null;
    engine = await wasm.Playground.create(software ? 'cpu' : backend);
    const detail = software ? `the only WebGPU adapter, ${software}, is a software one (a fallback adapter); choose WebGPU to use it anyway` : engine.detail;
    return { backend: engine.backend, detail, kernels: engine.kernels, wasm: build, skipped: software ? 'software' : null };
  },
  async configure({ blocks }) {
    engine.configure({ blocks });
    return true;
  },
  decode,
  async run({ rgba, width, height }) {
    return engine.run(new Uint8Array(rgba), width, height);
  },
  async loadWeights({ block, bytes, prefix, name }) {
    // The line saying where in the file the block was found and whose names it uses ('' for a
    // timm block at the top level).
    return engine.loadWeights(block, new Uint8Array(bytes), prefix ?? '', name ?? '');
  },
  async attentionAt({ block, fx, fy }) {
    return engine.attentionAt(block, fx, fy);
  },
  // A network of the user's: opened from a checkpoint's bytes, run on the photo at up to 1024
  // pixels (the engine resizes and crops it as timm does), one block's features or attention.
  async openNetwork({ bytes, name, arch, labels, config }) {
    try {
      return engine.openNetwork(new Uint8Array(bytes), name, arch ?? '', labels ?? '', config ?? '');
    } catch (e) {
      // A trap: memory that ran out, or a panic (`unreachable`), a bug of the engine's. Either
      // way the worker restarts; the message says which, and what was being done.
      if (e instanceof WebAssembly.RuntimeError && !/unreachable/i.test(e.message)) {
        throw new OutOfMemory(`${name} did not fit in this tab's memory for the engine (${(bytes.byteLength / 2 ** 20).toFixed(0)} MB of weights). Close other tabs and try again, or use a smaller network; the command line (attention-playground net) has no such limit.`);
      }
      if (e instanceof WebAssembly.RuntimeError) {
        throw new OutOfMemory(`the engine stopped on an internal error while opening ${name} (${e.message}): a bug, not your file's fault; it restarts. Please report it with the file.`);
      }
      throw e;
    }
  },
  // A config.json checked, and whether the engine runs its architecture, before the weights download.
  async checkConfig({ config, name }) {
    await load();
    wasm.Playground.checkConfig(config, name);
    return true;
  },
  async runsArchitecture({ arch }) {
    await load();
    return wasm.Playground.runsArchitecture(arch);
  },
  async supportedArchitectures() {
    await load();
    return wasm.Playground.supportedArchitectures();
  },
  async closeNetwork() {
    engine.closeNetwork();
    return true;
  },
  async runNetwork({ rgba, width, height, off }) {
    return engine.runNetwork(new Uint8Array(rgba), width, height, off ?? '');
  },
  async networkFeatures({ path, channels }) {
    return engine.networkFeatures(path, Uint32Array.from(channels));
  },
  // A block's steps on the last run's input (the how-it-works view); Non-local and MHSA at the
  // feature cell (fx, fy).
  async trace({ block, fx, fy }) {
    return engine.trace(block, fx ?? 0, fy ?? 0);
  },
  // A loaded network's block's steps (the how-it-works view on a network).
  async networkTrace({ path, fx, fy }) {
    return engine.networkTrace(path, fx ?? 0, fy ?? 0);
  },
  // Self-attention on a few characters, step by step (the token walkthrough view).
  async tokenWalk({ text, heads }) {
    return engine.tokenWalk(text, heads);
  },
  // GCNet's question: the rows of a grid of queries and how much they differ.
  async queryIndependence({ block, side }) {
    return engine.queryIndependence(block, side);
  },
  async networkQueryIndependence({ path, side }) {
    return engine.networkQueryIndependence(path, side);
  },
  // The engine's WebAssembly memory in bytes: it only grows, so this is its peak so far.
  async memory() {
    return exports?.memory?.buffer.byteLength ?? 0;
  },
  async networkAttentionAt({ path, fx, fy }) {
    return engine.networkAttentionAt(path, fx, fy);
  },
};

// A trap while opening a network: the memory ran out. The worker restarts; the message says why.
class OutOfMemory extends Error {}

self.onmessage = async ({ data: { id, op, ...args } }) => {
  try {
    if (!ops[op]) throw new Error(`unknown operation ${op}`);
    if (!['init', 'decode', 'checkConfig', 'runsArchitecture', 'supportedArchitectures'].includes(op) && !engine) throw new Error('the engine is not started');
    const value = await ops[op](args);
    self.postMessage({ id, ok: true, value }, transferables(value));
  } catch (e) {
    const fatal = e instanceof WebAssembly.RuntimeError || e instanceof OutOfMemory;
    const error = e instanceof OutOfMemory ? e.message
      : fatal ? `the engine stopped on an internal error (${e.message}); it restarts for the next image` : String(e?.message ?? e);
    self.postMessage({ id, ok: false, error, fatal });
  }
};
