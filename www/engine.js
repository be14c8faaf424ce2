// The page's side of the worker: promises for requests, one request at a time, and a fresh
// worker after a fatal error (the caller re-initialises it through `onRestart`).

function spawnWorker(wasm) {
  const url = new URL('./worker.js', import.meta.url);
  if (wasm === 'simd' || wasm === 'scalar') url.searchParams.set('wasm', wasm);
  try {
    return new Worker(url, { type: 'module' });
  } catch (e) {
    // The script came from another origin (a CDN): a same-origin blob worker imports it instead.
    if (e?.name !== 'SecurityError') throw e;
    const blob = new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' });
    return new Worker(URL.createObjectURL(blob), { type: 'module' });
  }
}

export class Engine {
  // `wasm`: 'simd' or 'scalar' forces that build of the engine; anything else lets the browser's
  // support for WebAssembly SIMD decide.
  constructor({ wasm } = {}) {
    this.wasm = wasm;
    this.nextId = 1;
    this.pending = new Map();
    this.queue = Promise.resolve();
    this.start();
  }

  start() {
    this.worker = spawnWorker(this.wasm);
    this.worker.onmessage = ({ data }) => {
      const request = this.pending.get(data.id);
      if (!request) return;
      this.pending.delete(data.id);
      if (data.ok) request.resolve(data.value);
      else {
        if (data.fatal) this.restart();
        request.reject(new Error(data.error));
      }
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      const message = `the engine could not start: ${event.message || 'the worker script failed to load'}`;
      for (const request of this.pending.values()) request.reject(new Error(message));
      this.pending.clear();
    };
  }

  restart() {
    this.worker.terminate();
    for (const request of this.pending.values()) request.reject(new Error('the engine restarted'));
    this.pending.clear();
    this.start();
    this.needsInit = true;
  }

  // Requests run one after another; a failed one does not block the next.
  call(op, args = {}, transfer = []) {
    const send = () =>
      new Promise((resolve, reject) => {
        const id = this.nextId++;
        this.pending.set(id, { resolve, reject });
        this.worker.postMessage({ id, op, ...args }, transfer);
      });
    const result = this.queue.then(send, send);
    this.queue = result.catch(() => {});
    return result;
  }

  // A fresh worker on another build; the caller re-initialises it.
  switchBuild(wasm) {
    this.wasm = wasm;
    this.restart();
  }

  terminate() {
    this.worker.terminate();
  }
}
