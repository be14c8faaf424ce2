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

async function load() {
  loaded ??= (async () => {
    wasm = await import(build === 'simd' ? './pkg/attention_playground.js' : './pkg-scalar/attention_playground.js');
    await wasm.default();
  })();
  await loaded;
}

// Every Float32Array in the result moves to the page without a copy.
function transferables(value, out = []) {
  if (value instanceof Float32Array) out.push(value.buffer);
  else if (Array.isArray(value)) value.forEach((v) => transferables(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => transferables(v, out));
  return out;
}

const ops = {
  async init({ backend }) {
    await load();
    engine?.free();
    engine = null;
    engine = await wasm.Playground.create(backend);
    return { backend: engine.backend, detail: engine.detail, kernels: engine.kernels, wasm: build };
  },
  async configure({ blocks }) {
    engine.configure({ blocks });
    return true;
  },
  async workingSize({ width, height }) {
    await load();
    const [w, h] = wasm.workingSize(width, height);
    return { width: w, height: h };
  },
  async run({ rgba, width, height }) {
    return engine.run(new Uint8Array(rgba), width, height);
  },
  async loadWeights({ block, bytes, prefix }) {
    engine.loadWeights(block, new Uint8Array(bytes), prefix ?? '');
    return true;
  },
  async attentionAt({ block, fx, fy }) {
    return engine.attentionAt(block, fx, fy);
  },
};

self.onmessage = async ({ data: { id, op, ...args } }) => {
  try {
    if (!ops[op]) throw new Error(`unknown operation ${op}`);
    if (op !== 'init' && op !== 'workingSize' && !engine) throw new Error('the engine is not started');
    const value = await ops[op](args);
    self.postMessage({ id, ok: true, value }, transferables(value));
  } catch (e) {
    const fatal = e instanceof WebAssembly.RuntimeError;
    const error = fatal ? `the engine stopped on an internal error (${e.message}); it restarts for the next image` : String(e?.message ?? e);
    self.postMessage({ id, ok: false, error, fatal });
  }
};
