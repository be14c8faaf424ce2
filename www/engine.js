// The page's side of the worker: promises for requests, one request at a time, and a fresh
// worker after a fatal error (the caller re-initialises it through `onRestart`).

// A Content-Security-Policy that blocks the worker reports it on the document; the directive it
// names goes into the message (the worker's own error event says nothing useful).
let blockedDirective = null;
if (typeof document !== 'undefined') {
  document.addEventListener('securitypolicyviolation', (e) => {
    if (/worker-src|script-src|child-src|default-src/.test(e.effectiveDirective) && /worker\.js|^blob/.test(e.blockedURI + '')) {
      blockedDirective = e.effectiveDirective;
    }
  });
}

function cspMessage(directive, crossOrigin) {
  return `This page's Content-Security-Policy (${directive}) blocks the engine's worker. Allow ${crossOrigin ? "blob: and the script's origin" : "'self'"} in worker-src (or script-src).`;
}

function spawnWorker(wasm) {
  const url = new URL('./worker.js', import.meta.url);
  if (wasm === 'simd' || wasm === 'scalar') url.searchParams.set('wasm', wasm);
  const crossOrigin = typeof location !== 'undefined' && url.origin !== location.origin;
  try {
    if (!crossOrigin) return { worker: new Worker(url, { type: 'module' }), crossOrigin };
  } catch (e) {
    if (e?.name !== 'SecurityError') throw e;
    throw new Error(cspMessage('worker-src', false));
  }
  // The script came from another origin (a CDN): a same-origin blob worker imports it instead.
  const blob = new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' });
  const blobUrl = URL.createObjectURL(blob);
  try {
    return { worker: new Worker(blobUrl, { type: 'module' }), crossOrigin };
  } catch (e) {
    if (e?.name === 'SecurityError') throw new Error(cspMessage('worker-src', true));
    throw e;
  } finally {
    // The worker has its URL; revoking it once the worker started keeps nothing alive.
    setTimeout(() => URL.revokeObjectURL(blobUrl), 10000);
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
    let crossOrigin = false;
    try {
      ({ worker: this.worker, crossOrigin } = spawnWorker(this.wasm));
    } catch (e) {
      // No worker: every call fails with why.
      this.startError = e;
      this.worker = { postMessage() {}, terminate() {} };
      return;
    }
    this.startError = null;
    this.worker.onmessage = ({ data }) => {
      this.heardFrom = true;
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
      const message = blockedDirective
        ? cspMessage(blockedDirective, crossOrigin)
        : `The engine could not start: ${event.message || "its worker script failed to load"}. Serve the playground over http(s) (not file://), with Access-Control-Allow-Origin: * when the script is on another origin.`;
      // Before the worker's first answer an error means it never loaded; later ones are its own.
      if (!this.heardFrom) this.startError = new Error(message);
      for (const request of this.pending.values()) request.reject(new Error(message));
      this.pending.clear();
    };
  }

  restart() {
    this.worker.terminate();
    this.heardFrom = false;
    for (const request of this.pending.values()) request.reject(new Error('the engine restarted'));
    this.pending.clear();
    this.start();
    this.needsInit = true;
  }

  // Requests run one after another; a failed one does not block the next.
  call(op, args = {}, transfer = []) {
    const send = () =>
      new Promise((resolve, reject) => {
        if (this.startError) throw this.startError;
        const id = this.nextId++;
        this.pending.set(id, { resolve, reject });
        try {
          this.worker.postMessage({ id, op, ...args }, transfer);
        } catch (e) {
          // Something that cannot cross to the worker (a cross-origin ImageBitmap).
          this.pending.delete(id);
          throw e;
        }
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
