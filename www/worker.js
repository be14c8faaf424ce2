// The Web Worker that owns the wasm engine, so the page never freezes while a model runs.
// Protocol: the page posts { id, op, ...args }; the worker answers { id, ok: true, value } or
// { id, ok: false, error, fatal }. `fatal` means the wasm instance trapped (a bug, not bad input):
// the page then replaces this worker with a fresh one.
import init, { Playground, workingSize } from './pkg/attention_playground.js';

let engine = null; // Playground: one backend, one model, the last run
let loaded = null;

async function load() {
  loaded ??= init();
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
    engine = await Playground.create(backend);
    return { backend: engine.backend, detail: engine.detail };
  },
  async configure({ blocks }) {
    engine.configure({ blocks });
    return true;
  },
  async workingSize({ width, height }) {
    await load();
    const [w, h] = workingSize(width, height);
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
