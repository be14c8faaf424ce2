// <attention-playground>: the whole playground as one custom element. The embed is
//   <script type="module" src=".../attention-playground.js"></script>
//   <attention-playground></attention-playground>
// Attributes: see the README (image, blocks, view, views, hide, theme, backend, controls, wasm,
// lang, options, query, tokens, and for a network of your own model, arch, labels, off, hub).
// This file holds the element's state and its flow (attributes → a run → the figure). The rest,
// one job a module: what the attributes say (attributes.js), which block a view shows
// (inspection.js), the JS API (api.js), the controls (controls.js), the pointer (pointer.js),
// the keyboard (keyboard.js), what a view fetches after a run (details.js), drawing and export
// (figure.js), a network's switches (network-off.js), each view a module of views/.
import { Engine } from './engine.js';
import { PlaygroundApi } from './api.js';
import { AttributeReaders } from './attributes.js';
import { Inspection } from './inspection.js';
import { OPTIONS, SAMPLES, parseOptions, sampleUrl } from './bundled.js';
import { bindControls, cardHtml, syncControls, updateBadge } from './controls.js';
import { bindKeyboard } from './keyboard.js';
import { bindPointer } from './pointer.js';
import { fetchDetails } from './details.js';
import { renderFigure } from './figure.js';
import { embedCode } from './embed-code.js';
import { stylesheet } from './styles.js';

export class AttentionPlayground extends PlaygroundApi(Inspection(AttributeReaders(HTMLElement))) {
  static observedAttributes = ['image', 'blocks', 'view', 'views', 'theme', 'backend', 'controls', 'wasm', 'model', 'arch', 'labels', 'off', 'hub', 'lang', 'options', 'query', 'tokens', 'token-heads'];

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.ready = new Promise((resolve, reject) => {
      this._resolveReady = resolve;
      this._rejectReady = reject;
    });
    this.ready.catch(() => {}); // shown in the element; callers who await it still see the rejection
    this.result = null;
    this._state = { opacity: 0.6, sorted: true, head: 0, hoverChannel: null, inspect: {}, attention: null, rows: {} };
    this._photo = null;
    // The newest request wins: every photo run takes a ticket, every computation a generation;
    // whatever finishes after a newer one started is dropped (see _refresh).
    this._photoTicket = 0;
    this._generation = 0;
    this._modelTicket = 0;
    this._waiters = [];
    this._busyCount = 0;
    this._ownWeights = {}; // block -> { bytes, prefix } while the user's own weights replace the trained ones
    this._network = null; // { description, blob, name, arch, labels } while a network of the user's is open
    this._started = false;
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (!this._built || oldValue === newValue) return;
    if (name === 'controls' || name === 'lang') {
      this._build();
      updateBadge(this);
    }
    else if (name === 'backend') this._restartBackend();
    else if (name === 'wasm') {
      this._engine?.switchBuild(this.wasm);
      this._restartBackend();
    } else if (name === 'blocks' || name === 'options') this._rerun();
    else if (name === 'tokens' || name === 'token-heads') {
      this._syncControls();
      this._fetchDetails();
    } else if (name === 'query') {
      if (newValue !== this._queryShown) this._fetchDetails();
    }
    else if (name === 'off') {
      if (this._network) this._rerun();
    } else if (name === 'view' || name === 'views' || name === 'theme') {
      this._syncControls();
      this._render();
      this._fetchDetails();
    } else if (name === 'image' && newValue) this.run(this._imageNamed(newValue)).catch(() => {});
    else if (name === 'model' && this._started && (newValue ?? '') !== (this._modelShown ?? '')) this._loadModelAttribute();
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
        // Nothing can run: the placeholder and the badge say so instead of inviting a photo.
        this._engineFailed = true;
        this._showError(e);
        this._rejectReady(e);
        updateBadge(this);
        return;
      }
      // The starting photo (the `image` attribute, or the first sample), then the network the
      // `model` attribute names: a failure to open it stays on screen.
      if (!this._photo) await this.run(this._imageNamed(this.getAttribute('image'))).catch(() => {});
      if (this.getAttribute('model')) this._loadModelAttribute();
    })();
    return this.ready;
  }

  // Sets the `model` attribute to what the element shows (a Hub pick: `hf:<id>`; a file: none)
  // without opening it again, so the page's address keeps it.
  _reflectModel(value) {
    this._modelShown = value ?? '';
    if (value) this.setAttribute('model', value);
    else this.removeAttribute('model');
  }

  _loadModelAttribute() {
    const model = this.getAttribute('model');
    this._modelShown = model ?? '';
    if (!model) return this.closeModel().catch(() => {});
    return this.loadModel(model, { arch: this.getAttribute('arch') ?? '', labels: this.getAttribute('labels') ?? '', fromAttribute: true }).catch(() => {});
  }

  async _initBackend() {
    this._info = await this._engine.call('init', { backend: this.backend });
    // A new engine (another backend, or a restart) starts from the trained weights: send the
    // user's own again, and open their network again (from the Blob kept, no new download).
    for (const [block, { bytes, prefix, name }] of Object.entries(this._ownWeights)) {
      const copy = bytes.slice(0);
      await this._engine.call('loadWeights', { block, bytes: copy, prefix, name }, [copy]);
    }
    if (this._network) {
      const { blob, name, arch, labelsText, config } = this._network;
      const bytes = await blob.arrayBuffer();
      await this._engine.call('openNetwork', { bytes, name, arch: arch ?? '', labels: labelsText, config: config ?? '' }, [bytes]);
    }
    this._configured = null;
    this._engine.needsInit = false;
    updateBadge(this);
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
      else await this.run(this._imageNamed(this.getAttribute('image')));
    } catch (e) {
      this._settle('reject', e); // runs that waited for this backend learn why it is not there
      this._showError(e);
    }
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
        const v = this.options[`${name}.${opt.key}`] ?? opt.values[0];
        // Defaults stay unset, so the engine applies timm's defaults (or what own weights' code
        // implies); an option that code implies is always sent, so the value shown wins.
        if (v !== opt.values[0] || opt.alwaysSent || this._ownWeights[name]?.implied?.includes(opt.key)) chosen[opt.key] = v;
      }
      blocks[name] = chosen;
    }
    return { blocks };
  }

  async _compute(generation, extraTimings) {
    const stale = () => generation !== this._generation;
    try {
      if (this._engine.needsInit) await this._initBackend();
      const photo = this._photo;
      let result;
      if (this._network) {
        if (stale()) return this._following();
        const { rgba, width, height } = photo.full;
        const pixels = new Uint8Array(rgba).buffer; // a copy: the photo stays here for the next run
        result = await this._engine.call('runNetwork', { rgba: pixels, width, height, off: this.off.join(' ') }, [pixels]);
        if (stale() || photo !== this._photo) return this._following();
        result.timings.decode_ms = extraTimings.decode_ms;
        result.width = photo.full.width;
        result.height = photo.full.height;
        this._state.rows = {};
        this._state.features = null;
      } else {
        const config = this._config();
        const key = JSON.stringify(config);
        if (this._configured !== key) {
          await this._engine.call('configure', config);
          this._configured = key;
        }
        if (stale()) return this._following(); // overtaken while it waited: never sent
        const { rgba, width, height } = photo;
        const pixels = new Uint8Array(rgba).buffer;
        result = await this._engine.call('run', { rgba: pixels, width, height }, [pixels]);
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
      }
      this.result = result;
      this._hideError();
      const problem = parseOptions(this.getAttribute('options')).problem;
      if (problem && !this._network) this._showError(new Error(this._t('options.unknown', problem)));
      // A link to an opened network's view or switches that names no network: say what is shown.
      const orphan = !this._network && !this.getAttribute('model') && (this.getAttribute('view') === 'network' || this.off.length > 0);
      if (orphan && !this._modelTicket) {
        this._note.textContent = this._t('note.noNetwork');
        this._note.hidden = false;
        this._note.dataset.kind = 'link';
      }
      this._syncControls();
      updateBadge(this);
      this._render();
      this._fetchDetails();
      this.dispatchEvent(new CustomEvent('attention-result', { detail: result, bubbles: true, composed: true }));
      this._settle('resolve', result);
      return result;
    } catch (e) {
      if (stale()) return this._following();
      this._settle('reject', e);
      throw e;
    }
  }

  // Re-runs the current photo after a change of blocks, options, weights or network.
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
    const root = this.shadowRoot;
    // A constructed stylesheet, not a <style> element: a strict Content-Security-Policy
    // (style-src without 'unsafe-inline') allows it.
    root.adoptedStyleSheets = [stylesheet()];
    root.innerHTML = cardHtml(this.controls, this._state.opacity, this._t);
    const $ = (s) => root.querySelector(s);
    this._canvas = $('canvas');
    this._placeholder = $('.placeholder');
    this._message = $('.message');
    this._note = $('.note');
    this._stage = $('.stage');
    bindControls(this);
    bindKeyboard(this);
    // The blocks' options start folded (the figure starts higher), unless the `options` attribute
    // (a link's) chose some.
    const optionsBox = $('.options-box');
    if (optionsBox) optionsBox.open = Boolean(this.getAttribute('options'));
    bindPointer(this);
    this._syncControls();
    this._render();
  }

  // A gallery photo as the <img> already on the page: choosing it makes no network request.
  _sampleImage(index) {
    return this.shadowRoot.querySelector(`[data-sample="${index}"] img`) ?? sampleUrl(SAMPLES[index].file);
  }

  // What an `image` attribute names: a sample by its file name (`astronaut.jpg`, as the gallery
  // and the page's address write it), else a URL; none, the first sample.
  _imageNamed(value) {
    const sample = SAMPLES.findIndex((s) => s.file === value);
    return value && sample < 0 ? value : this._sampleImage(Math.max(sample, 0));
  }

  // Sets the `query` attribute for a point the user clicked, without asking for its row again.
  _keepQuery(x, y) {
    if (!this.result) return;
    const at = (t) => String(Math.round(t * 1000) / 1000);
    this._queryShown = `${at(x / this.result.width)},${at(y / this.result.height)}`;
    this.setAttribute('query', this._queryShown);
  }

  _syncControls() {
    syncControls(this);
  }

  _setBusy(busy) {
    this._stage?.classList.toggle('busy', busy);
  }

  _showError(error) {
    const english = String(error?.message ?? error);
    const message = this._t.message(english);
    this._message.textContent = message;
    this._message.hidden = false;
    if (!this.result) {
      this._placeholder.hidden = false;
      this._placeholder.textContent = this._t(this._engineFailed ? 'start.failed' : 'start');
    }
    this.dispatchEvent(new CustomEvent('attention-error', { detail: { message, english }, bubbles: true, composed: true }));
  }

  _hideError() {
    this._message.hidden = true;
  }

  // ---- drawing and details: figure.js, details.js -------------------------------------------------

  _render() {
    renderFigure(this);
  }

  _fetchDetails() {
    return fetchDetails(this);
  }






  /** The `<script>` and `<attention-playground …>` markup of exactly what the element shows. */
  embedCode() {
    return embedCode(this).code;
  }
}

if (!customElements.get('attention-playground')) customElements.define('attention-playground', AttentionPlayground);
