// The browser half of ./build.sh bench, in the page: one case at a time, our wasm SIMD build
// (BlockBench, on this build's CPU kernels) and onnxruntime-web's wasm backend, one thread each,
// on the same weights and input, after checking that both give the same output.
import init, { BlockBench, NetBench } from '/pkg/attention_playground.js';
import * as ort from '/ort/ort.wasm.min.mjs';

// Both float32 with different summation orders: the tolerance of the native table.
const ABS_TOL = 1e-4;
const REL_TOL = 1e-3;
// Each timed sample repeats the call until it lasts this long, so that the timer's resolution
// (5 us when cross-origin isolated, 100 us otherwise) stays far below what is measured.
const SAMPLE_MS = 5;

ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = '/ort/';
await init();

const bytes = async (path) => {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} (run tools/bench/side_by_side.py first)`);
  return new Uint8Array(await response.arrayBuffer());
};

/** Median and minimum milliseconds per call of `call` over `iters` samples. */
async function time(call, iters) {
  // Warm up for at least 10 calls and 100 ms (the first calls compile and allocate), then size
  // the samples from 5 more.
  for (let i = 0, start = performance.now(); i < 10 || performance.now() - start < 100; i++) await call();
  const estimateStart = performance.now();
  for (let i = 0; i < 5; i++) await call();
  const estimate = Math.max((performance.now() - estimateStart) / 5, 1e-3);
  const reps = Math.max(1, Math.ceil(SAMPLE_MS / estimate));
  const samples = [];
  for (let i = 0; i < iters; i++) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) await call();
    samples.push((performance.now() - start) / reps);
  }
  samples.sort((a, b) => a - b);
  const mid = samples.length >> 1;
  const median = samples.length % 2 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
  return { median_ms: median, min_ms: samples[0], reps };
}

window.benchCase = async ({ name, block, options }, iters) => {
  const folder = `/cases/${name}`;
  const ours = new BlockBench(block, await bytes(`${folder}/weights.safetensors`), await bytes(`${folder}/input.safetensors`), options);
  const session = await ort.InferenceSession.create(await bytes(`${folder}/block.onnx`), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', ours.input(), Array.from(ours.shape)) };
    const output = session.outputNames[0];
    const theirsY = (await session.run(feeds))[output].data;
    const oursY = ours.output();
    if (oursY.length !== theirsY.length) throw new Error(`${name}: ${oursY.length} outputs from us, ${theirsY.length} from onnxruntime-web`);
    let maxDiff = 0;
    for (let i = 0; i < oursY.length; i++) {
      const diff = Math.abs(oursY[i] - theirsY[i]);
      if (!(diff <= ABS_TOL + REL_TOL * Math.abs(theirsY[i]))) {
        throw new Error(`${name}: our output differs from onnxruntime-web's at ${i} (${oursY[i]} against ${theirsY[i]}); the graphs disagree`);
      }
      maxDiff = Math.max(maxDiff, diff);
    }
    const mine = await time(() => ours.run(), iters);
    const theirs = await time(() => session.run(feeds), iters);
    return { kernels: ours.kernels, ours: mine, ort: theirs, max_abs_diff: maxDiff, isolated: self.crossOriginIsolated };
  } finally {
    ours.free();
    await session.release();
  }
};
window.benchReady = true;

// Whole networks (nets.py wrote them): our NetBench (the network on this build's CPU kernels) and
// onnxruntime-web on the same ONNX export, after checking both give PyTorch's logits.
window.benchNet = async ({ arch }, iters) => {
  const folder = `/nets/${arch}`;
  const ours = new NetBench(await bytes(`${folder}/model.safetensors`), arch, await bytes(`${folder}/input.safetensors`));
  const session = await ort.InferenceSession.create(await bytes(`${folder}/model.onnx`), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  try {
    const feeds = { x: new ort.Tensor('float32', ours.input(), Array.from(ours.shape)) };
    const theirs = (await session.run(feeds)).logits.data;
    const mine = await ours.logits();
    let maxDiff = 0;
    for (let i = 0; i < mine.length; i++) {
      const diff = Math.abs(mine[i] - theirs[i]);
      if (!(diff <= 1e-3 + 1e-3 * Math.abs(theirs[i]))) throw new Error(`${arch}: our logit ${i} is ${mine[i]}, onnxruntime-web's ${theirs[i]}`);
      maxDiff = Math.max(maxDiff, diff);
    }
    const oursTime = await time(() => ours.run(), iters);
    const theirsTime = await time(() => session.run(feeds), iters);
    return { kernels: ours.kernels, ours: oursTime, ort: theirsTime, max_abs_diff: maxDiff, wasm_memory_mib: ours.memory / 2 ** 20 };
  } finally {
    ours.free();
    await session.release();
  }
};
