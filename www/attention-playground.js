// <attention-playground>: the whole playground as one custom element. The embed is
//   <script type="module" src=".../attention-playground.js"></script>
//   <attention-playground></attention-playground>
// Attributes: image, blocks, view, backend, controls (see the README). JS API: el.ready,
// el.run(source), el.attentionAt(x, y), el.result, and the `attention-result` event.
import { Engine } from './engine.js';
import { loadImage } from './image-input.js';
import { stylesheet } from './styles.js';
import { drawChannelView, drawFeaturesView, drawOverlayView, predictionLine, timingLine } from './views.js';

// In the order the network runs them: three on the 16 named stem channels (1/4 size), then
// three after the first convolution (32 channels, 1/8 size). See src/model/mod.rs.
const BLOCKS = [
  { name: 'se', label: 'SE', title: 'Squeeze-and-Excitation: one gate per channel from the global average (on the 16 named channels)' },
  { name: 'eca', label: 'ECA', title: 'Efficient Channel Attention: a 1-D conv across channels (on the 16 named channels)' },
  { name: 'gc', label: 'GC', title: 'Global Context: one attention-pooled context, then a channel transform (on the 16 named channels)' },
  { name: 'cbam', label: 'CBAM', title: 'CBAM: a channel gate, then a spatial gate from a 7x7 conv (after the first convolution)' },
  { name: 'nonlocal', label: 'Non-local', title: 'Non-local block: every position attends to every other (after the first convolution)' },
  { name: 'mhsa', label: 'MHSA', title: 'Multi-head self-attention over the positions, as x + MHSA(x) (after the first convolution)' },
];
// Views are laid out for at least this many CSS pixels; a narrower column shows them scaled.
const MIN_DRAW_WIDTH = 280;
const BLOCK_LABEL = Object.fromEntries(BLOCKS.map((b) => [b.name, b.label]));

// The options a person can change, with the CLI's words (src/blocks/options.rs).
const OPTIONS = {
  cbam: [{ key: 'spatial_order', label: 'pooling order', values: ['mean-max', 'max-mean'] }],
  nonlocal: [
    // The Gaussian and concatenation forms need other weights than the trained block has.
    { key: 'pairwise', label: 'pairwise', values: ['embedded-gaussian', 'dot-product'] },
    { key: 'subsample', label: 'subsample keys', values: [false, true] },
  ],
  eca: [{ key: 'padding', label: 'padding', values: ['zero', 'circular'] }],
  // GC's "add" fusion needs an mlp_add the trained network does not have, so GC has no options here.
  // The engine has no default head count, so MHSA's is always sent.
  mhsa: [{ key: 'heads', label: 'heads', values: [4, 1, 2, 8], alwaysSent: true }],
};

const VIEWS = [
  { name: 'channel', label: 'Channel weights', blocks: ['se', 'cbam', 'eca', 'gc'] },
  { name: 'spatial', label: 'Spatial map', blocks: ['cbam', 'gc'] },
  { name: 'nonlocal', label: 'Attention', blocks: ['nonlocal', 'mhsa'] },
  { name: 'features', label: 'Features', blocks: BLOCKS.map((b) => b.name) },
];
// The network was trained with every block; switching one off shows what it contributes.
const DEFAULT_BLOCKS = BLOCKS.map((b) => b.name);
const SAMPLES = [
  { file: 'cat.jpg', label: 'Cat (CC0)' },
  { file: 'astronaut.jpg', label: 'Astronaut (public domain)' },
  { file: 'rocket.jpg', label: 'Rocket (public domain)' },
];
const sampleUrl = (file) => new URL(`./samples/${file}`, import.meta.url).href;

// Which map of a block each overlay view shows.
const SPATIAL_MAP = { cbam: ['spatial', 'CBAM spatial gate', 'gate'], gc: ['context', 'GC context weights (softmax over positions)', 'weight'] };

export class AttentionPlayground extends HTMLElement {
  static observedAttributes = ['image', 'blocks', 'view', 'backend', 'controls', 'wasm'];

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.ready = new Promise((resolve, reject) => {
      this._resolveReady = resolve;
      this._rejectReady = reject;
    });
    this.ready.catch(() => {}); // shown in the element; callers who await it still see the rejection
    this.result = null;
    this._state = { opacity: 0.6, sorted: true, head: 0, hoverChannel: null, inspect: {}, options: {}, attention: null };
    this._photo = null;
    // The newest request wins: every photo run takes a ticket, every computation a generation;
    // whatever finishes after a newer one started is dropped (see _refresh).
    this._photoTicket = 0;
    this._generation = 0;
    this._waiters = [];
    this._busyCount = 0;
    this._ownWeights = {}; // block -> { bytes, prefix } while the user's own weights replace the trained ones
    this._started = false;
  }

  // ---- attributes ---------------------------------------------------------------------------

  get blocks() {
    const words = (this.getAttribute('blocks') ?? DEFAULT_BLOCKS.join(' ')).split(/\s+/).filter(Boolean);
    return BLOCKS.map((b) => b.name).filter((n) => words.includes(n));
  }

  get view() {
    const v = this.getAttribute('view');
    return VIEWS.some((x) => x.name === v) ? v : 'spatial';
  }

  get backend() {
    const b = this.getAttribute('backend');
    return ['auto', 'webgpu', 'cpu'].includes(b) ? b : 'auto';
  }

  // Which build of the wasm engine: auto (SIMD where the browser has it), simd or scalar.
  get wasm() {
    const w = this.getAttribute('wasm');
    return ['simd', 'scalar'].includes(w) ? w : 'auto';
  }

  get controls() {
    const c = this.getAttribute('controls');
    return ['full', 'minimal', 'none'].includes(c) ? c : 'full';
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (!this._built || oldValue === newValue) return;
    if (name === 'controls') this._build();
    else if (name === 'backend') this._restartBackend();
    else if (name === 'wasm') {
      this._engine?.switchBuild(this.wasm);
      this._restartBackend();
    }
    else if (name === 'blocks') this._rerun();
    else if (name === 'view') {
      this._syncControls();
      this._render();
    }
    else if (name === 'image' && newValue) this.run(newValue).catch(() => {});
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  connectedCallback() {
    if (!this._built) this._build();
    // Start the engine when the element comes near the viewport, not before.
    this._observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        this._observer.disconnect();
        this._start();
      }
    }, { rootMargin: '300px' });
    this._observer.observe(this);
    this._resize = new ResizeObserver(() => this._render());
    this._resize.observe(this);
  }

  disconnectedCallback() {
    this._observer?.disconnect();
    this._resize?.disconnect();
  }

  _start() {
    if (this._started) return this.ready;
    this._started = true;
    this._engine = new Engine({ wasm: this.wasm });
    (async () => {
      try {
        await this._initBackend();
        this._resolveReady();
      } catch (e) {
        this._showError(e);
        this._rejectReady(e);
        return;
      }
      // The starting photo: the `image` attribute, or the first sample.
      if (!this._photo) this.run(this.getAttribute('image') || this._sampleImage(0) || sampleUrl(SAMPLES[0].file)).catch(() => {});
    })();
    return this.ready;
  }

  async _initBackend() {
    this._info = await this._engine.call('init', { backend: this.backend });
    // A new engine (another backend, or a restart) starts from the trained weights: send the
    // user's own again.
    for (const [block, { bytes, prefix }] of Object.entries(this._ownWeights)) {
      const copy = bytes.slice(0);
      await this._engine.call('loadWeights', { block, bytes: copy, prefix }, [copy]);
    }
    this._configured = null;
    this._engine.needsInit = false;
    this._updateBadge();
  }

  async _restartBackend() {
    if (!this._started) return;
    // `ready` follows the newest start: one that failed (say `backend="webgpu"` without WebGPU)
    // is over once another works, and a caller who awaits it meanwhile waits for the new one.
    this._generation++; // what the old backend still computes is dropped
    const starting = this._initBackend();
    this.ready = starting.then(() => undefined);
    this.ready.catch(() => {});
    try {
      await starting;
      this._hideError();
      this._syncControls();
      if (this._photo) await this._refresh();
      else await this.run(this.getAttribute('image') || this._sampleImage(0));
    } catch (e) {
      this._settle('reject', e); // runs that waited for this backend learn why it is not there
      this._showError(e);
    }
  }

  // ---- public API ---------------------------------------------------------------------------

  /**
   * Runs the blocks on `source` (File/Blob, ImageBitmap, <img>, canvas, URL string); resolves to
   * the result. The photo chosen last wins: a run overtaken by a newer one rejects with an
   * AbortError (and shows nothing).
   */
  async run(source) {
    this._start();
    const ticket = ++this._photoTicket;
    const done = this._busy();
    try {
      await this.ready;
      const t0 = performance.now();
      const photo = await loadImage(source, this._engine);
      if (ticket !== this._photoTicket) {
        photo.display.close();
        throw superseded();
      }
      this._setPhoto(photo);
      this._state.attention = null;
      const result = await this._refresh({ decode_ms: performance.now() - t0 });
      if (ticket !== this._photoTicket) throw superseded();
      return result;
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      // Only the newest photo's failure is the person's business.
      if (error.name !== 'AbortError' && ticket === this._photoTicket) this._showError(error);
      throw error;
    } finally {
      done();
    }
  }

  /**
   * The attention row of the query at image coordinates (x, y) of the last result (its
   * `width x height`): `{ width, height, data }` for Non-local; for `block = 'mhsa'` also
   * `heads`, with the heads' rows one after another in `data`.
   */
  async attentionAt(x, y, block) {
    await this.ready;
    if (!this.result) throw new Error('Run an image first: attentionAt() reads the last result.');
    block ??= this.result.blocks.nonlocal ? 'nonlocal' : 'mhsa';
    if (!this.result.blocks[block]) throw new Error(`Block ${block} is not switched on; switch it on to see its attention.`);
    const { width, height } = this.result;
    const features = this.result.blocks[block].grid; // the grid this block attends over
    if (!(x >= 0 && y >= 0 && x < width && y < height)) throw new Error(`(${x}, ${y}) is outside the ${width} x ${height} image; pass coordinates inside it.`);
    const fx = Math.min(features.width - 1, Math.floor((x / width) * features.width));
    const fy = Math.min(features.height - 1, Math.floor((y / height) * features.height));
    const asked = this.result;
    const row = await this._engine.call('attentionAt', { block, fx, fy });
    const answer = Array.isArray(row)
      ? { width: row[0].width, height: row[0].height, heads: row.length, data: concat(row.map((r) => r.data)), perHead: row }
      : row;
    // A new result since the question: the answer belongs to the old one, so it is not drawn.
    if (asked === this.result) {
      this._state.attention = { block, fx, fy, row: answer };
      this._render();
    }
    return answer;
  }

  /**
   * Uses your own weights for `block`: a safetensors file (File, Blob, ArrayBuffer or bytes;
   * float32, float16 or bfloat16) with timm's names or those of a port the engine knows
   * (AlexHex7's or mmcv's Non-local, the official CBAM), optionally under `prefix` (e.g.
   * `layer3.0.se.`). They must fit the channels the block sees here (16 for SE/ECA/GC, 32 for
   * CBAM/Non-local/MHSA). Resolves to the line saying whose names were assumed ('' for timm's),
   * which the element also shows. `source = null` goes back to the trained weights.
   */
  async loadWeights(block, source, prefix = '') {
    await this.ready;
    if (!BLOCK_LABEL[block]) throw new Error(`Unknown block ${block}; use one of ${BLOCKS.map((b) => b.name).join(', ')}.`);
    const bytes = source == null ? new ArrayBuffer(0)
      : source instanceof ArrayBuffer ? source.slice(0)
      : ArrayBuffer.isView(source) ? source.slice().buffer
      : await source.arrayBuffer();
    const copy = bytes.slice(0);
    let note;
    try {
      note = await this._engine.call('loadWeights', { block, bytes: copy, prefix }, [copy]);
    } catch (e) {
      // The library says "weights: ..."; the block's name takes that word's place, once. Where the
      // library names no next step (a shape that does not fit), the page adds what would fit.
      const problem = String(e.message ?? e).replace(/^weights:\s*/, '');
      const channels = ['se', 'eca', 'gc'].includes(block) ? 16 : 32;
      const remedy = /\b(pass|convert|run|download|use|save|choose|give)\b/i.test(problem) ? ''
        : `${/[.!?]$/.test(problem) ? '' : '.'} Choose a safetensors file of one ${BLOCK_LABEL[block]} block with timm's names, for the ${channels} channels it sees here.`;
      const error = new Error(`${BLOCK_LABEL[block]} weights: ${problem}${remedy}`);
      this._showError(error);
      throw error;
    }
    if (source == null) delete this._ownWeights[block];
    else this._ownWeights[block] = { bytes, prefix };
    this._note.textContent = note ? `${BLOCK_LABEL[block]} weights: ${note}` : '';
    this._note.hidden = !note;
    this._configured = null;
    if (this._photo) await this._rerun();
    return note;
  }

  // ---- the newest request wins ----------------------------------------------------------------

  _setPhoto(photo) {
    this._photo?.display?.close?.(); // the old photo's bitmap is freed now, not at some later GC
    this._photo = photo;
  }

  _busy() {
    this._busyCount++;
    this._setBusy(true);
    let once = false;
    return () => {
      if (once) return;
      once = true;
      this._busyCount--;
      if (this._busyCount === 0) this._setBusy(false);
    };
  }

  // Runs the current photo with the current blocks and options. A computation that a newer one
  // overtakes (another photo, a block toggled, a backend switch) neither draws nor dispatches;
  // it resolves with what the newest one gives.
  _refresh(extraTimings = {}) {
    const generation = ++this._generation;
    return this._compute(generation, extraTimings);
  }

  _following() {
    return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
  }

  _settle(outcome, value) {
    for (const waiter of this._waiters.splice(0)) waiter[outcome](value);
  }

  // ---- computing ----------------------------------------------------------------------------

  _config() {
    const blocks = {};
    for (const name of this.blocks) {
      const chosen = {};
      for (const opt of OPTIONS[name] ?? []) {
        const v = this._state.options[`${name}.${opt.key}`] ?? opt.values[0];
        // Defaults stay unset, so the engine applies timm's defaults.
        if (v !== opt.values[0] || opt.alwaysSent) chosen[opt.key] = v;
      }
      blocks[name] = chosen;
    }
    return { blocks };
  }

  async _compute(generation, extraTimings) {
    const stale = () => generation !== this._generation;
    try {
      if (this._engine.needsInit) await this._initBackend();
      const config = this._config();
      const key = JSON.stringify(config);
      if (this._configured !== key) {
        await this._engine.call('configure', config);
        this._configured = key;
      }
      if (stale()) return this._following(); // overtaken while it waited: never sent
      const photo = this._photo;
      const { rgba, width, height } = photo;
      // A copy is transferred: the photo stays here for the next run.
      const pixels = new Uint8Array(rgba).buffer;
      const result = await this._engine.call('run', { rgba: pixels, width, height }, [pixels]);
      if (stale() || photo !== this._photo) return this._following();
      result.timings = { ...extraTimings, ...result.timings };
      for (const name of ['nonlocal', 'mhsa']) {
        const entry = result.blocks[name];
        if (!entry) continue;
        const f = entry.grid;
        // The query in image coordinates, at the centre of its feature cell.
        entry.queryCell = entry.query;
        entry.query = { x: ((entry.query.x + 0.5) * width) / f.width, y: ((entry.query.y + 0.5) * height) / f.height };
      }
      this.result = result;
      this._hideError();
      this._syncControls();
      this._updateBadge();
      this._render();
      this.dispatchEvent(new CustomEvent('attention-result', { detail: result, bubbles: true, composed: true }));
      this._settle('resolve', result);
      return result;
    } catch (e) {
      if (stale()) return this._following();
      this._settle('reject', e);
      throw e;
    }
  }

  // Re-runs the current photo after a change of blocks, options or weights.
  async _rerun() {
    this._syncControls();
    if (!this._photo || !this._started) return;
    const done = this._busy();
    try {
      this._state.attention = null;
      await this._refresh();
    } catch (e) {
      this._showError(e);
    } finally {
      done();
    }
  }

  // ---- DOM ----------------------------------------------------------------------------------

  _build() {
    this._built = true;
    const controls = this.controls;
    const full = controls === 'full';
    const root = this.shadowRoot;
    // A constructed stylesheet, not a <style> element: a strict Content-Security-Policy
    // (style-src without 'unsafe-inline') allows it.
    root.adoptedStyleSheets = [stylesheet()];
    root.innerHTML = `
      <div class="card" part="card">
        ${full ? `
        <div class="bar input">
          <button class="primary pick" title="Your photo stays in this browser: nothing is uploaded">Choose a photo</button>
          <input class="file" type="file" accept="image/*" hidden>
          <span class="gallery">${SAMPLES.map((s, i) => `<button data-sample="${i}" title="${s.label}"><img alt="${s.label}" crossorigin="anonymous" src="${sampleUrl(s.file)}"></button>`).join('')}</span>
          <span class="hint">or drop or paste a photo · it stays on your machine</span>
        </div>
        <div class="bar blocks">${BLOCKS.map((b) => `<label class="chip" title="${b.title}"><input type="checkbox" value="${b.name}">${b.label}</label>`).join('')}</div>
        <div class="bar options"></div>` : ''}
        ${controls !== 'none' ? `
        <div class="bar views">
          <span class="tabs" role="tablist">${VIEWS.map((v) => `<button class="tab" role="tab" data-view="${v.name}">${v.label}</button>`).join('')}</span>
          <select class="inspect" aria-label="block to inspect"></select>
          <label class="muted sorted-box"><input type="checkbox" class="sorted" checked> sorted</label>
          <label class="muted opacity-box">opacity <input type="range" class="opacity" min="0" max="1" step="0.05" value="${this._state.opacity}"></label>
          <select class="head" aria-label="attention head"></select>
          ${full ? `<span class="right"><button class="own-weights" title="Use your own trained weights (safetensors, timm names) for the block shown">Own weights…</button>
          <input class="weights-file" type="file" accept=".safetensors" hidden></span>` : ''}
        </div>
        <div class="bar prediction" aria-live="polite"></div>` : ''}
        <div class="message" role="alert" hidden></div>
        <div class="note" hidden></div>
        <div class="stage"><canvas part="canvas"></canvas><div class="placeholder">Loading the attention engine…</div></div>
        ${controls !== 'none' ? `
        <div class="bar status">
          <span class="badge" title=""><b class="backend-name">…</b><span class="timings"></span></span>
          ${full ? `<span class="right">
            <select class="backend" aria-label="backend"><option value="auto">auto</option><option value="webgpu">WebGPU</option><option value="cpu">CPU</option></select>
            <button class="export-png">Export PNG</button><button class="export-json">Export JSON</button>
          </span>` : ''}
        </div>` : ''}
      </div>`;
    const $ = (s) => root.querySelector(s);
    this._canvas = $('canvas');
    this._placeholder = $('.placeholder');
    this._message = $('.message');
    this._note = $('.note');
    this._stage = $('.stage');

    root.querySelectorAll('.tab').forEach((tab) => tab.addEventListener('click', () => this.setAttribute('view', tab.dataset.view)));
    $('.inspect')?.addEventListener('change', (e) => {
      this._state.inspect[this.view] = e.target.value;
      this._state.attention = null;
      this._syncControls();
      this._render();
    });
    $('.sorted')?.addEventListener('change', (e) => { this._state.sorted = e.target.checked; this._render(); });
    $('.opacity')?.addEventListener('input', (e) => { this._state.opacity = Number(e.target.value); this._render(); });
    $('.head')?.addEventListener('change', (e) => { this._state.head = Number(e.target.value); this._render(); });
    if (full) {
      const file = $('.file');
      $('.pick').addEventListener('click', () => file.click());
      const weightsFile = $('.weights-file');
      $('.own-weights').addEventListener('click', () => weightsFile.click());
      weightsFile.addEventListener('change', () => {
        if (weightsFile.files[0]) this.loadWeights(this._inspected(), weightsFile.files[0]).catch(() => {});
        weightsFile.value = '';
      });
      file.addEventListener('change', () => {
        if (file.files[0]) this.run(file.files[0]).catch(() => {});
        file.value = '';
      });
      root.querySelectorAll('[data-sample]').forEach((b) => b.addEventListener('click', () => {
        this.run(this._sampleImage(Number(b.dataset.sample))).catch(() => {});
      }));
      root.querySelectorAll('.blocks input').forEach((box) => box.addEventListener('change', () => {
        const on = new Set(this.blocks);
        if (box.checked) on.add(box.value);
        else on.delete(box.value);
        this.setAttribute('blocks', BLOCKS.map((b) => b.name).filter((n) => on.has(n)).join(' '));
      }));
      $('.backend').addEventListener('change', (e) => this.setAttribute('backend', e.target.value));
      $('.export-png').addEventListener('click', () => this._exportPng());
      $('.export-json').addEventListener('click', () => this._exportJson());
      this._bindDrop();
    }
    this._bindPointer();
    this._syncControls();
    this._render();
  }

  // A gallery photo as the <img> already on the page: choosing it makes no network request.
  _sampleImage(index) {
    return this.shadowRoot.querySelector(`[data-sample="${index}"] img`) ?? sampleUrl(SAMPLES[index].file);
  }

  _bindDrop() {
    const card = this.shadowRoot.querySelector('.card');
    const take = (file) => file && this.run(file).catch(() => {});
    this.addEventListener('dragover', (e) => {
      e.preventDefault();
      card.classList.add('drop');
    });
    this.addEventListener('dragleave', () => card.classList.remove('drop'));
    this.addEventListener('drop', (e) => {
      e.preventDefault();
      card.classList.remove('drop');
      take(e.dataTransfer?.files?.[0]);
    });
    // Paste anywhere on the page goes to the playground the person used last (or the only one).
    this.addEventListener('pointerdown', () => { AttentionPlayground.active = this; });
    if (!AttentionPlayground.pasteBound) {
      AttentionPlayground.pasteBound = true;
      document.addEventListener('paste', (e) => {
        const target = AttentionPlayground.active?.isConnected ? AttentionPlayground.active : document.querySelector('attention-playground[controls="full"], attention-playground:not([controls])');
        const file = [...(e.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
        if (target && file) {
          e.preventDefault();
          target.run(file).catch(() => {});
        }
      });
    }
  }

  _bindPointer() {
    let pending = false;
    let next = null;
    const query = async (event) => {
      const hit = this._hitPhoto(event);
      if (!hit || this.view !== 'nonlocal' || !this.result) return;
      next = hit;
      if (pending) return; // the latest position is asked for once the current one answers
      pending = true;
      try {
        while (next) {
          const { x, y } = next;
          next = null;
          await this.attentionAt(x, y, this._inspected('nonlocal'));
        }
      } catch (e) {
        this._showError(e);
      } finally {
        pending = false;
      }
    };
    this._canvas.addEventListener('click', query);
    this._canvas.addEventListener('pointermove', (event) => {
      if (this.view === 'nonlocal') query(event); // hover follows the pointer; requests coalesce
      if (this.view === 'channel') this._hoverBar(event);
      if (this.view === 'nonlocal') this._hoverHead(event, false);
    });
    this._canvas.addEventListener('pointerdown', (event) => {
      if (this.view === 'nonlocal') this._hoverHead(event, true);
    });
    this._canvas.addEventListener('pointerleave', () => {
      if (this._state.hoverChannel != null) {
        this._state.hoverChannel = null;
        this._render();
      }
    });
  }

  // The pointer in the drawing's coordinates: the canvas is drawn at least MIN_DRAW_WIDTH wide and
  // scaled to its column, so at any width the pointer maps to what is drawn under it.
  _point(event) {
    const r = this._canvas.getBoundingClientRect();
    const sx = (this._drawn?.width ?? r.width) / (r.width || 1);
    const sy = (this._drawn?.height ?? r.height) / (r.height || 1);
    return { x: (event.clientX - r.left) * sx, y: (event.clientY - r.top) * sy };
  }

  // Image coordinates (of the result's width x height) under the pointer, if it is over the photo.
  _hitPhoto(event) {
    const rect = this._layout?.photoRect;
    if (!rect) return null;
    const p = this._point(event);
    const u = (p.x - rect.x) / rect.width;
    const v = (p.y - rect.y) / rect.height;
    if (u < 0 || v < 0 || u >= 1 || v >= 1) return null;
    return { x: u * this.result.width, y: v * this.result.height };
  }

  _hoverBar(event) {
    const p = this._point(event);
    const bar = this._layout?.bars?.find((b) => p.x >= b.x && p.x < b.x + b.width && p.y >= b.y && p.y < b.y + b.height);
    const channel = bar ? bar.index : null;
    if (channel !== this._state.hoverChannel) {
      this._state.hoverChannel = channel;
      this._render();
    }
  }

  _hoverHead(event, select) {
    const p = this._point(event);
    const region = this._layout?.regions?.find((r) => p.x >= r.x && p.x < r.x + r.width && p.y >= r.y && p.y < r.y + r.height);
    this._canvas.style.cursor = region || this._hitPhoto(event) ? 'pointer' : '';
    if (region && select) {
      this._state.head = region.index;
      this._syncControls();
      this._render();
    }
  }

  // The block the current view shows: the person's pick if it is on, else the first that fits.
  _inspected(view = this.view) {
    const fits = VIEWS.find((v) => v.name === view).blocks.filter((b) => this.blocks.includes(b));
    const chosen = this._state.inspect[view];
    return fits.includes(chosen) ? chosen : fits[0];
  }

  _syncControls() {
    const root = this.shadowRoot;
    const view = this.view;
    root.querySelectorAll('.tab').forEach((t) => t.setAttribute('aria-selected', String(t.dataset.view === view)));
    root.querySelectorAll('.blocks input').forEach((box) => {
      box.checked = this.blocks.includes(box.value);
      box.parentElement.classList.toggle('on', box.checked);
    });
    const inspect = root.querySelector('.inspect');
    if (inspect) {
      const fits = VIEWS.find((v) => v.name === view).blocks.filter((b) => this.blocks.includes(b));
      inspect.innerHTML = fits.map((b) => `<option value="${b}">${BLOCK_LABEL[b]}</option>`).join('');
      inspect.value = this._inspected() ?? '';
      inspect.hidden = fits.length < 2;
    }
    const show = (sel, on) => { const el = root.querySelector(sel); if (el) el.hidden = !on; };
    show('.sorted-box', view === 'channel');
    show('.opacity-box', view === 'spatial' || view === 'nonlocal');
    const head = root.querySelector('.head');
    if (head) {
      const heads = this.result?.blocks.mhsa?.heads ?? 0;
      const onMhsa = view === 'nonlocal' && this._inspected() === 'mhsa' && heads > 0;
      head.hidden = !onMhsa;
      if (onMhsa) {
        this._state.head = Math.min(this._state.head, heads - 1);
        head.innerHTML = Array.from({ length: heads }, (_, i) => `<option value="${i}">head ${i + 1} of ${heads}</option>`).join('');
        head.value = String(this._state.head);
      }
    }
    const options = root.querySelector('.options');
    if (options) {
      options.innerHTML = this.blocks
        .filter((b) => OPTIONS[b])
        .map((b) => `<span class="group"><b>${BLOCK_LABEL[b]}</b>${OPTIONS[b]
          .map((o) => {
            const current = this._state.options[`${b}.${o.key}`] ?? o.values[0];
            if (typeof o.values[0] === 'boolean') return `<label><input type="checkbox" data-option="${b}.${o.key}" ${current ? 'checked' : ''}>${o.label}</label>`;
            return `<label>${o.label} <select data-option="${b}.${o.key}">${o.values.map((v) => `<option ${v === current ? 'selected' : ''}>${v}</option>`).join('')}</select></label>`;
          })
          .join('')}</span>`)
        .join('');
      options.querySelectorAll('[data-option]').forEach((input) => input.addEventListener('change', () => {
        const [block, key] = input.dataset.option.split('.');
        const spec = OPTIONS[block].find((o) => o.key === key);
        this._state.options[input.dataset.option] = input.type === 'checkbox' ? input.checked : typeof spec.values[0] === 'number' ? Number(input.value) : input.value;
        this._rerun();
      }));
    }
    const backend = root.querySelector('select.backend');
    if (backend) backend.value = this.backend;
  }

  _updateBadge() {
    const name = this.shadowRoot.querySelector('.backend-name');
    if (!name) return;
    const backend = this.result?.backend ?? this._info?.backend;
    const cpuWord = this._info?.wasm === 'scalar' ? 'CPU · wasm' : 'CPU · wasm SIMD';
    name.textContent = backend === 'webgpu' ? 'WebGPU' : backend === 'cpu' ? cpuWord : '…';
    name.classList.toggle('cpu', backend === 'cpu');
    const detail = this.result?.fallback ?? this._info?.detail ?? '';
    const kernels = this._info?.kernels ? ` (${this._info.kernels} kernels)` : '';
    name.parentElement.title = backend === 'webgpu' ? `WebGPU adapter: ${detail}` : `CPU path${kernels}: ${detail}`;
    this.shadowRoot.querySelector('.timings').textContent = this.result ? timingLine(this.result.timings) : '';
    const prediction = this.shadowRoot.querySelector('.prediction');
    if (prediction) prediction.innerHTML = this.result ? predictionLine(this.result) : '';
  }

  _setBusy(busy) {
    this._stage?.classList.toggle('busy', busy);
  }

  _showError(error) {
    const message = String(error?.message ?? error);
    this._message.textContent = message;
    this._message.hidden = false;
    if (!this.result) {
      this._placeholder.hidden = false;
      this._placeholder.textContent = 'Choose a photo to start.';
    }
    this.dispatchEvent(new CustomEvent('attention-error', { detail: { message }, bubbles: true, composed: true }));
  }

  _hideError() {
    this._message.hidden = true;
  }

  // ---- drawing ------------------------------------------------------------------------------

  _render() {
    if (!this._canvas) return;
    const width = Math.max(MIN_DRAW_WIDTH, Math.floor(this._stage.clientWidth || 640));
    if (!this.result || !this._photo) {
      this._canvas.height = 0;
      return;
    }
    this._placeholder.hidden = true;
    const dpr = window.devicePixelRatio || 1;
    // Draw on a tall scratch canvas, then keep only the height the view used.
    const scratch = document.createElement('canvas');
    scratch.width = Math.round(width * dpr);
    scratch.height = Math.round(900 * dpr);
    const ctx = scratch.getContext('2d');
    ctx.scale(dpr, dpr);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, 900);
    this._layout = this._draw(ctx, width);
    const height = Math.min(900, Math.ceil(this._layout.height));
    this._canvas.width = scratch.width;
    this._canvas.height = Math.round(height * dpr);
    this._drawn = { width, height };
    this._canvas.getContext('2d').drawImage(scratch, 0, 0);
    scratch.width = scratch.height = 0; // freed now, not at the next GC
  }

  _draw(ctx, width) {
    const result = this.result;
    const block = this._inspected();
    const photo = this._photo.display;
    const say = (text) => {
      ctx.font = '14px system-ui, sans-serif';
      ctx.fillStyle = '#6b6b76';
      ctx.fillText(text, 0, 30);
      return { height: 60 };
    };
    const entry = block && result.blocks[block];
    switch (this.view) {
      case 'channel': {
        if (!entry) return say('Switch on SE, CBAM, ECA or GC to see channel weights.');
        const weights = entry.channel;
        if (!weights) return say(`${BLOCK_LABEL[block]} with "add" fusion has no channel gate; switch fusion to "scale".`);
        const { before, after } = entry.features;
        const heading = `${BLOCK_LABEL[block]}: ${weights.length} channel weights (σ gates; 1 keeps a channel, 0 silences it)`;
        return drawChannelView(ctx, width, { weights, names: entry.channel_names, sorted: this._state.sorted, hover: this._state.hoverChannel, before, after, heading });
      }
      case 'spatial': {
        if (!entry) return say('Switch on CBAM or GC to see a spatial map.');
        const [key, heading, label] = SPATIAL_MAP[block];
        return drawOverlayView(ctx, width, photo, { map: entry[key], label, opacity: this._state.opacity }, `${heading}, ${entry[key].width} x ${entry[key].height}`);
      }
      case 'nonlocal': {
        if (!entry) return say('Switch on Non-local or MHSA, then click the photo to see where a position attends.');
        const chosen = this._state.attention?.block === block ? this._state.attention : null;
        const cell = chosen ? { x: chosen.fx, y: chosen.fy } : entry.queryCell;
        const { grid } = entry;
        if (block === 'mhsa') {
          const perHead = chosen ? chosen.row.perHead : entry.attention;
          const head = Math.min(this._state.head, perHead.length - 1);
          const uniform = formatUniform(perHead[head]);
          const extras = perHead.map((map, i) => ({ map, label: `head ${i + 1}`, selected: i === head }));
          return drawOverlayView(ctx, width, photo, { map: perHead[head], label: 'attention', opacity: this._state.opacity, query: cell, queryGrid: grid },
            `MHSA head ${head + 1} of ${perHead.length}: where the marked position attends (hover or click the photo; uniform ${uniform})`, extras);
        }
        const map = chosen ? chosen.row : entry.attention;
        const keys = map.width === grid.width ? '' : ` (keys subsampled to ${map.width} x ${map.height})`;
        return drawOverlayView(ctx, width, photo, { map, label: 'attention', opacity: this._state.opacity, query: cell, queryGrid: grid },
          `Non-local: where the marked position attends${keys} (hover or click the photo; uniform ${formatUniform(map)})`);
      }
      default: {
        if (!entry) return say('Switch on a block to compare its input and output features.');
        const { before, after } = entry.features;
        return drawFeaturesView(ctx, width, { before, after, heading: `${BLOCK_LABEL[block]}: the ${before.channels} feature maps before and after the block`, highlight: mostChanged(before, after, 4) });
      }
    }
  }

  // ---- export -------------------------------------------------------------------------------

  _download(blob, name) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  _baseName() {
    return `attention-${(this._photo?.name ?? 'image').replace(/\.[^.]*$/, '').replace(/[^\w-]+/g, '_')}-${this.view}`;
  }

  _exportPng() {
    this._canvas.toBlob((blob) => blob && this._download(blob, `${this._baseName()}.png`), 'image/png');
  }

  /** The last result's weights and maps as plain JSON; of the feature tensors only their sizes. */
  exportJson() {
    if (!this.result) return null;
    const plain = (v) => (v instanceof Float32Array ? Array.from(v) : Array.isArray(v) ? v.map(plain)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !SKIPPED_IN_JSON.has(k)).map(([k, x]) => [k, plain(x)])) : v);
    const { channels, width, height } = this.result.features;
    return { image: this._photo?.name, ...plain(this.result), features: { channels, width, height } };
  }

  _exportJson() {
    const json = this.exportJson();
    if (json) this._download(new Blob([JSON.stringify(json, null, 1)], { type: 'application/json' }), `${this._baseName()}.json`);
  }
}

function superseded() {
  return new DOMException('A newer photo was chosen before this one finished; its result was dropped.', 'AbortError');
}

// Feature tensors (a few MB) and internal fields stay out of the exported JSON.
const SKIPPED_IN_JSON = new Set(['features', 'output', 'queryCell']);

// The weight every key would get if a query attended evenly: 1 / number of keys.
function formatUniform(map) {
  return `1/${map.width * map.height} = ${(1 / (map.width * map.height)).toExponential(2)}`;
}

function concat(arrays) {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

// The `count` channels whose maps changed most (relative L1), to outline in the features view.
function mostChanged(before, after, count) {
  const plane = before.width * before.height;
  const change = [];
  for (let c = 0; c < before.channels; c++) {
    let diff = 0;
    let size = 0;
    for (let i = c * plane; i < (c + 1) * plane; i++) {
      diff += Math.abs(after.data[i] - before.data[i]);
      size += Math.abs(before.data[i]);
    }
    change.push([diff / (size || 1), c]);
  }
  return change.sort((a, b) => b[0] - a[0]).slice(0, count).map(([, c]) => c);
}

if (!customElements.get('attention-playground')) customElements.define('attention-playground', AttentionPlayground);
