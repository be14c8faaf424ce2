// The element's JavaScript API, as a mixin over the element class: run a photo, ask where a
// position attends, use your own weights for a block, open your own network, export the result.
// Every failure rejects with an Error whose message names the problem and the next step, and is
// shown in the element.
import { BLOCK_LABEL, BLOCKS, OPTIONS, ROW_KINDS, headsOf, inPageWords, optionsText } from './bundled.js';
import { loadImage } from './image-input.js';
import { archChoices, modelName, pickMessage, readModel } from './model-source.js';
import { offerArchitectures, showProgress, updateBadge } from './controls.js';
import { hubId, openFromHub } from './hub.js';

function superseded(what = 'photo') {
  return new DOMException(`A newer ${what} was chosen before this one finished; its result was dropped.`, 'AbortError');
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

// Feature tensors (a few MB) and internal fields stay out of the exported JSON.
const SKIPPED_IN_JSON = new Set(['features', 'output', 'queryCell']);

export const PlaygroundApi = (Base) => class extends Base {
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
   * `width x height`): `{ width, height, data }` for Non-local; for `block = 'mhsa'` and a
   * network's BoTNet self-attention also `heads` and `perHead`, with the heads' rows one after
   * another in `data`. With a network open, `block` is a Non-local or BoTNet block's path and
   * (x, y) must lie in the centre crop the network saw.
   */
  async attentionAt(x, y, block) {
    await this.ready;
    if (!this.result) throw new Error('Run an image first: attentionAt() reads the last result.');
    const network = Boolean(this.result.network);
    block ??= network ? this.result.network.order.find((p) => ROW_KINDS.includes(this.result.blocks[p].kind)) : this.result.blocks.nonlocal ? 'nonlocal' : 'mhsa';
    const entry = block && this.result.blocks[block];
    if (!entry || (network && !ROW_KINDS.includes(entry.kind))) {
      throw new Error(network ? `${block ?? 'This network'} has no Non-local or self-attention block to ask; pick one of those blocks.`
        : `Block ${block} is not switched on; switch it on to see its attention.`);
    }
    const { width, height } = this.result;
    if (!(x >= 0 && y >= 0 && x < width && y < height)) throw new Error(`(${x}, ${y}) is outside the ${width} x ${height} image; pass coordinates inside it.`);
    const crop = this._cropOf(this.result);
    const u = (x - crop.x) / crop.width;
    const v = (y - crop.y) / crop.height;
    if (!(u >= 0 && v >= 0 && u < 1 && v < 1)) throw new Error(`(${x}, ${y}) is outside the centre crop the network saw; pass a point inside it.`);
    const features = entry.grid; // the grid this block attends over
    const fx = Math.min(features.width - 1, Math.floor(u * features.width));
    const fy = Math.min(features.height - 1, Math.floor(v * features.height));
    const asked = this.result;
    // The query asked last, before its answer comes: the keyboard steps on from it, and only its
    // answer is drawn (two quick presses do not lose one, nor does an older answer win).
    const question = { block, fx, fy, result: asked };
    this._state.asked = question;
    let answer;
    if (network) {
      answer = await this._engine.call('networkAttentionAt', { path: block, fx, fy });
      if (answer.heads) answer = { ...answer, perHead: headsOf(answer) };
    } else {
      const row = await this._engine.call('attentionAt', { block, fx, fy });
      answer = Array.isArray(row)
        ? { width: row[0].width, height: row[0].height, heads: row.length, data: concat(row.map((r) => r.data)), perHead: row }
        : row;
    }
    // A new result since the question: the answer belongs to the old one, so it is not drawn.
    if (asked === this.result) {
      if (this._state.asked === question) this._state.attention = { block, fx, fy, row: answer };
      if (network) this._state.rows[block] = { ...answer, query: { fx, fy } };
      this._render();
    }
    return answer;
  }

  /**
   * Uses your own weights for `block` of the bundled network: a safetensors file (File, Blob,
   * ArrayBuffer or bytes; float32, float16 or bfloat16) with timm's names or those of a port the
   * engine knows (AlexHex7's or mmcv's Non-local, the official CBAM), optionally under `prefix`
   * (e.g. `layer3.0.se.`). They must fit the channels the block sees here (16 for SE/ECA/GC, 32
   * for CBAM/Non-local/MHSA). Resolves to the line saying where the block was found and whose
   * names were assumed ('' for a timm block at the top level), which the element also shows. The
   * options that code implies (the official CBAM's max-mean order, AlexHex7's unscaled logits)
   * become the block's options, shown in its controls. `source = null` goes back to the trained
   * weights (and drops the options they implied).
   */
  async loadWeights(block, source, prefix = '') {
    await this.ready;
    if (!BLOCK_LABEL[block]) throw new Error(`Unknown block ${block}; use one of ${BLOCKS.map((b) => b.name).join(', ')}.`);
    const bytes = source == null ? new ArrayBuffer(0)
      : source instanceof ArrayBuffer ? source.slice(0)
      : ArrayBuffer.isView(source) ? source.slice().buffer
      : await source.arrayBuffer();
    const copy = bytes.slice(0);
    // A File's name goes into the messages (and the Python line that converts a .pth).
    const name = typeof source?.name === 'string' ? source.name : '';
    let note;
    let implied;
    try {
      ({ note, options: implied } = await this._engine.call('loadWeights', { block, bytes: copy, prefix, name }, [copy]));
    } catch (e) {
      // The library says "weights: ..." (or the file's name); the block's name takes that word's
      // place, once. Where the library names no next step (a shape that does not fit), the page
      // adds what would fit.
      const problem = inPageWords(String(e.message ?? e).replace(/^(option )?weights:\s*/, ''), block, (key) => this._t(`option.${key}`));
      const channels = ['se', 'eca', 'gc'].includes(block) ? 16 : 32;
      const remedy = /\b(pass|convert|run|download|use|save|choose|give)\b/i.test(problem) ? ''
        : `${/[.!?]$/.test(problem) ? '' : '.'} Choose a safetensors file of one ${BLOCK_LABEL[block]} block with timm's names, for the ${channels} channels it sees here.`;
      const error = new Error(`${BLOCK_LABEL[block]} weights: ${problem}${remedy}`);
      this._showError(error);
      throw error;
    }
    // The options the weights' code implies become the block's own, so that the controls show
    // what is computed (and the page sends them explicitly while own weights are in: _config).
    // Only what the controls offer: a form they lack (Non-local's Gaussian or concatenation) stays
    // the weights' own, never overridden by the page.
    const offered = Object.entries(implied ?? {}).filter(([key, value]) => OPTIONS[block]?.some((o) => o.key === key && o.values.includes(value)));
    const options = { ...this.options };
    for (const key of this._ownWeights[block]?.implied ?? []) delete options[`${block}.${key}`];
    for (const [key, value] of offered) options[`${block}.${key}`] = value;
    if (source == null) delete this._ownWeights[block];
    else this._ownWeights[block] = { bytes, prefix, name, implied: offered.map(([key]) => key) };
    const text = optionsText(options);
    if (text !== (this.getAttribute('options') ?? '')) this.setAttribute('options', text);
    note = inPageWords(note, block, (key) => this._t(`option.${key}`));
    // The line stays with the block: shown while it is the one inspected (controls.js).
    const said = note ? this._t.message(`${BLOCK_LABEL[block]} weights: ${note}`)
      : source == null ? '' : this._t('own.running', { label: BLOCK_LABEL[block], name: name || this._t('own.file') });
    if (this._ownWeights[block]) this._ownWeights[block].note = said;
    this._note.textContent = said;
    this._note.hidden = !said;
    this._note.dataset.kind = 'own';
    this._configured = null;
    if (this._photo) await this._rerun();
    return note;
  }

  /**
   * Opens a network: `hf:<org>/<model>.<tag>` from the Hugging Face Hub (its config.json applied,
   * kept in the browser), or a timm or torchvision checkpoint of your own (File, Blob,
   * ArrayBuffer, bytes, or a URL, fetched once) in safetensors (float32, float16 or bfloat16) or
   * a PyTorch .pth/.pt/.bin (torch.save's ZIP, read without running its code). `arch`: timm's
   * model name or `torchvision.NAME`, where the weights do not tell it (EfficientNet,
   * MobileNetV3); `labels`: the class names, one per line (a string, or a URL of a text file);
   * `config`: timm's config.json for it (text or object: architecture, label_names and the
   * pretrained_cfg its photos are transformed with). ImageNet's names are used for a 1000-way
   * head. Resolves to `{ family, arch, classes, summary, blocks, input }` once the photo has run
   * on it. On failure the element keeps the network it had; `cancelModel()` stops a download.
   */
  async loadModel(source, { arch = '', labels = '', config: configText = '', fromAttribute = false } = {}) {
    this._start();
    this._modelAbort?.abort(); // a download still running for an earlier pick stops
    const abort = new AbortController();
    this._modelAbort = abort;
    const ticket = ++this._modelTicket;
    const done = this._busy();
    const id = hubId(source);
    const name = id ?? modelName(source);
    try {
      await this.ready;
      this._hideError(); // a refusal of the last network is not this one's
      const picked = Boolean(arch) && source === this._pendingModel;
      if (!picked) offerArchitectures(this, null);
      showProgress(this, 0, false, true);
      const progress = (loaded, total) => {
        if (ticket === this._modelTicket) showProgress(this, total ? loaded / total : null, false, true);
      };
      // A checkpoint's config.json (timm's Hub format) for a file or URL: its transform, class
      // names and architecture; a Hub id brings its own.
      let bytes, blob, config = typeof configText === 'string' ? configText : JSON.stringify(configText);
      if (id) {
        // From the Hub (or the cache): config.json first, so an architecture the engine does not
        // run is refused before the weights are downloaded.
        const checkArchitecture = async (cfg, text) => {
          // The config as the engine will apply it (a transform it cannot apply is refused now).
          await this._engine.call('checkConfig', { config: text, name: id });
          const name = cfg?.architecture;
          if (typeof name !== 'string' || arch) return;
          if (!(await this._engine.call('runsArchitecture', { arch: name }))) {
            // The engine's list in the page's words (the CLI's flag named as a pick).
            const supported = (await this._engine.call('supportedArchitectures')).replace(/\(with --arch[^)]*\)/g, '(with their architecture named)');
            throw new Error(`${id} is a ${name}, which this engine does not run yet; it runs ${supported}.`);
          }
        };
        ({ bytes, config } = await openFromHub(id, { hub: this.getAttribute('hub') || undefined, signal: abort.signal, onProgress: progress, checkArchitecture }));
        blob = new Blob([bytes]);
      } else {
        ({ bytes, blob } = await readModel(source, progress));
      }
      let labelsText = labels;
      if (labels && /^(https?:|\.{0,2}\/)|\.txt$/i.test(labels.trim()) && !labels.includes('\n')) {
        const response = await fetch(new URL(labels, document.baseURI)).catch(() => null);
        if (!response?.ok) throw new Error(`The labels at ${labels} could not be fetched; give one class name per line, or a reachable URL of such a file.`);
        labelsText = await response.text();
      }
      if (ticket !== this._modelTicket) throw superseded('network');
      showProgress(this, null);
      if (this._engine.needsInit) await this._initBackend();
      let description;
      try {
        description = await this._engine.call('openNetwork', { bytes, name, arch, labels: labelsText, config }, [bytes]);
      } catch (e) {
        // A restart (memory ran out) left a fresh engine: it opens what the element had before.
        if (this._engine.needsInit) await this._initBackend().catch(() => {});
        const choices = archChoices(e.message);
        if (choices) {
          this._pendingModel = blob;
          offerArchitectures(this, choices);
          throw new Error(pickMessage(e.message));
        }
        if (picked) {
          // A pick that does not fit the weights: the list stays for another.
          throw new Error(`${name} is not a ${arch}: ${e.message.replace(/^[^:]*: /, '')} Pick another architecture from the list.`);
        }
        throw e;
      }
      if (ticket !== this._modelTicket) throw superseded('network');
      this._pendingModel = null;
      offerArchitectures(this, null);
      this._state.inspect = {};
      this._state.selected = null;
      this.result = null;
      // A network opened here starts with every block on and shows its blocks; the embed's
      // own `off` and `view` attributes apply to the network its `model` names. The old network
      // is closed first, so that clearing its `off` does not run it (or the new one) once more.
      if (!fromAttribute) {
        this._network = null;
        this.removeAttribute('off');
      }
      this._network = { description, blob, name, arch: description.arch, labelsText, config, source: id ? `hf:${id}` : null };
      if (!fromAttribute) {
        this.setAttribute('view', 'network');
        this._reflectModel(id ? `hf:${id}` : null);
      }
      this._syncControls();
      updateBadge(this);
      this._render();
      if (this._photo) await this._refresh();
      return description;
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      if (error.name !== 'AbortError' && ticket === this._modelTicket) this._showError(error);
      throw error;
    } finally {
      if (ticket === this._modelTicket) showProgress(this, 0, true);
      if (this._modelAbort === abort) this._modelAbort = null;
      this._syncControls();
      done();
    }
  }

  /** Stops the network being downloaded or read (the Cancel button); the open one stays. */
  cancelModel() {
    this._modelAbort?.abort();
    this._modelTicket++;
    showProgress(this, 0, true);
  }

  /** Closes an opened network: the element goes back to the bundled one. */
  async closeModel() {
    this._modelTicket++;
    if (!this._network) return;
    this._network = null;
    if (this.hasAttribute('model')) this._reflectModel(null);
    this.result = null;
    this.removeAttribute('off');
    this._state.inspect = {};
    offerArchitectures(this, null);
    await this._engine?.call('closeNetwork').catch(() => {});
    await this._rerun();
  }

  /** The last result's weights and maps as plain JSON; of the feature tensors only their sizes. */
  exportJson() {
    if (!this.result) return null;
    const plain = (v) => (v instanceof Float32Array ? Array.from(v) : Array.isArray(v) ? v.map(plain)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !SKIPPED_IN_JSON.has(k)).map(([k, x]) => [k, plain(x)])) : v);
    const out = { image: this._photo?.name, ...plain(this.result) };
    if (this.result.features) {
      const { channels, width, height } = this.result.features;
      out.features = { channels, width, height };
    }
    return out;
  }
};
