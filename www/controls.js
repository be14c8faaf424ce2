// The element's controls: the card's markup, the listeners that turn clicks into attributes and
// API calls, and keeping the controls in step with the element's state. The element owns the
// state; nothing here computes.
import { BLOCKS, BLOCK_LABEL, KIND_LABEL, OPTIONS, ROW_KINDS, SAMPLES, optionsText, sampleUrl } from './bundled.js';
import { LANGUAGES } from './i18n.js';
import { isPhotoFile } from './model-source.js';
import { PRETRAINED, cachedNetworks, checkId, clearCache, sizeText } from './hub.js';
import { VIEWS } from './views/index.js';
import { syncTabStops } from './keyboard.js';
import { cancelSweep } from './ablation.js';
import { copyEmbed, exportJson, exportPng, exportSvg } from './figure.js';
import { networkPredictionLine, offLabels, predictionLine, timingLine } from './lines.js';
import { covers, toggleOff } from './network-off.js';

const escapeHtml = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** The card's markup for `controls` (full, minimal, none). */
export function cardHtml(controls, opacity, t) {
  const full = controls === 'full';
  return `
      <div class="card" part="card">
        ${full ? `
        <div class="bar input">
          <button class="primary pick" title="${t('pick.title')}">${t('pick')}</button>
          <input class="file" type="file" accept="image/*" hidden>
          <span class="gallery">${SAMPLES.map((s, i) => `<button data-sample="${i}" title="${t(`sample.${s.file}`)}"><img alt="${t(`sample.${s.file}`)}" crossorigin="anonymous" src="${sampleUrl(s.file)}"></button>`).join('')}</span>
          <button class="open-model" title="${t('open.title')}">${t('open')}</button>
          <input class="model-file" type="file" accept=".safetensors,.pth,.pt,.bin,.json" multiple hidden>
          <span class="hint">${t('hint')}</span>
        </div>
        <div class="bar hub-panel" hidden>
          <button class="model-from-file" title="${t('open.title')}">${t('open.file')}</button>
          <select class="hub-pick" aria-label="${t('hub.pick')}" title="${t('hub.pick.title')}"><option value="">${t('hub.pick')}</option>${PRETRAINED.map((p) => `<option value="${escapeHtml(p.id)}">${escapeHtml(p.id.replace(/^timm\//, ''))} · ${escapeHtml(p.family)} · ${sizeText(p.bytes)}</option>`).join('')}</select>
          <span class="hub-field"><input class="hub-id" placeholder="timm/model.tag" spellcheck="false" aria-label="${t('hub.id')}"><button class="hub-open" title="${t('hub.open.title')}">${t('hub.open')}</button></span>
          <span class="hub-cache muted"></span><button class="hub-clear" hidden>${t('hub.clear')}</button>
        </div>
        <div class="bar network-bar">
          <select class="arch-pick" aria-label="${t('aria.arch')}" hidden></select>
          <progress class="model-progress" max="1" hidden></progress>
          <button class="model-cancel" hidden>${t('hub.cancel')}</button>
          <span class="network-name muted"></span>
          <button class="bundled" hidden title="${t('bundled.title')}">${t('bundled')}</button>
        </div>
        <div class="bar blocks"></div>
        <details class="options-box"><summary>${t('options.summary')}</summary><div class="bar options"></div></details>` : ''}
        ${controls !== 'none' ? `
        <div class="bar views">
          <span class="tabs" role="tablist">${VIEWS.map((v) => `<button class="tab" role="tab" data-view="${v.name}">${t(`view.${v.name}`)}</button>`).join('')}</span>
          <select class="inspect" aria-label="${t('aria.inspect')}"></select>
          <label class="muted sorted-box"><input type="checkbox" class="sorted" checked> ${t('sorted')}</label>
          <label class="muted opacity-box">${t('opacity')} <input type="range" class="opacity" min="0" max="1" step="0.05" value="${opacity}"></label>
          <select class="head" aria-label="${t('aria.head')}"></select>
          <label class="muted tokens-box">${t('tokens.input')} <input class="tokens" maxlength="12" size="10" spellcheck="false"></label>
          <button class="sweep-cancel" hidden>${t('sweep.cancel')}</button>
          <label class="muted token-heads-box">${t('tokens.heads')} <select class="token-heads">${[1, 2, 3, 4].map((h) => `<option>${h}</option>`).join('')}</select></label>
          ${full ? `<span class="right"><button class="trained-weights" hidden title="${t('own.back.title')}">${t('own.back')}</button><button class="own-weights" title="${t('own.title')}">${t('own')}</button>
          <input class="weights-file" type="file" accept=".safetensors" hidden></span>` : ''}
        </div>
        <div class="bar prediction" aria-live="polite"></div>` : ''}
        <div class="message" role="alert" hidden></div>
        <div class="note" hidden></div>
        <div class="view-html" hidden></div>
        <div class="stage empty"><canvas part="canvas"></canvas><div class="placeholder">${t('loading')}</div></div>
        ${controls !== 'none' ? `
        <div class="bar status">
          <span class="badge" part="badge" title=""><b class="backend-name">…</b><span class="why muted" hidden></span><span class="timings"></span></span>
          ${full ? `<span class="right">
            <select class="backend" aria-label="${t('aria.backend')}"><option value="auto">${t('backend.auto')}</option><option value="webgpu">WebGPU</option><option value="cpu">CPU</option></select>
            <select class="lang" aria-label="${t('language')}">${Object.entries(LANGUAGES).map(([k, v]) => `<option value="${k}">${v}</option>`).join('')}</select>
            <button class="copy-embed" title="${t('embed.copy.title')}">${t('embed.copy')}</button><button class="export-png">${t('export.png')}</button><button class="export-svg">${t('export.svg')}</button><button class="export-json">${t('export.json')}</button>
          </span>` : ''}
        </div>` : ''}
      </div>`;
}

/** Binds the controls of `el`'s card to its attributes and API. */
export function bindControls(el) {
  const root = el.shadowRoot;
  const $ = (s) => root.querySelector(s);
  const quietly = (promise) => promise.catch(() => {}); // failures are shown in the element
  root.querySelectorAll('.tab').forEach((tab) => tab.addEventListener('click', () => el.setAttribute('view', tab.dataset.view)));
  $('.inspect')?.addEventListener('change', (e) => el._inspect(e.target.value));
  $('.sorted')?.addEventListener('change', (e) => { el._state.sorted = e.target.checked; el._render(); });
  $('.opacity')?.addEventListener('input', (e) => { el._state.opacity = Number(e.target.value); el._render(); });
  $('.head')?.addEventListener('change', (e) => { el._state.head = Number(e.target.value); el._render(); });
  $('.tokens')?.addEventListener('input', (e) => el.setAttribute('tokens', e.target.value));
  $('.token-heads')?.addEventListener('change', (e) => el.setAttribute('token-heads', e.target.value));
  $('.sweep-cancel')?.addEventListener('click', () => cancelSweep(el));
  if (el.controls !== 'full') return;
  const file = $('.file');
  $('.pick').addEventListener('click', () => file.click());
  file.addEventListener('change', () => {
    if (file.files[0]) {
      el.removeAttribute('image'); // the user's own photo stays on their machine: no address names it
      quietly(el.run(file.files[0]));
    }
    file.value = '';
  });
  $('.trained-weights').addEventListener('click', () => quietly(el.loadWeights(el._inspected(), null)));
  const weightsFile = $('.weights-file');
  $('.own-weights').addEventListener('click', () => weightsFile.click());
  weightsFile.addEventListener('change', () => {
    if (weightsFile.files[0]) quietly(el.loadWeights(el._inspected(), weightsFile.files[0]));
    weightsFile.value = '';
  });
  const modelFile = $('.model-file');
  const panel = $('.hub-panel');
  $('.open-model').addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    $('.open-model').setAttribute('aria-expanded', String(!panel.hidden));
    if (!panel.hidden) showCache(el);
  });
  $('.model-from-file').addEventListener('click', () => modelFile.click());
  const openHub = (id) => {
    try {
      checkId(id);
    } catch (e) {
      el._showError(e);
      return;
    }
    panel.hidden = true;
    quietly(el.loadModel(`hf:${id}`).finally(() => showCache(el)));
  };
  $('.hub-pick').addEventListener('change', (e) => {
    if (e.target.value) openHub(e.target.value);
    e.target.value = '';
  });
  $('.hub-open').addEventListener('click', () => openHub($('.hub-id').value.trim().replace(/^hf(-hub)?:/, '')));
  $('.hub-id').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') openHub(e.target.value.trim().replace(/^hf(-hub)?:/, ''));
  });
  $('.hub-clear').addEventListener('click', () => quietly(clearCache().then(() => showCache(el))));
  $('.model-cancel').addEventListener('click', () => el.cancelModel());
  modelFile.addEventListener('change', () => {
    if (modelFile.files.length) quietly(openFiles(el, [...modelFile.files]));
    modelFile.value = '';
  });
  $('.arch-pick').addEventListener('change', (e) => {
    if (e.target.value && el._pendingModel) quietly(el.loadModel(el._pendingModel, { arch: e.target.value }));
  });
  $('.bundled').addEventListener('click', () => quietly(el.closeModel()));
  root.querySelectorAll('[data-sample]').forEach((b) => b.addEventListener('click', () => {
    const file = SAMPLES[Number(b.dataset.sample)].file;
    if (el.getAttribute('image') === file) quietly(el.run(el._imageNamed(file)));
    else el.setAttribute('image', file); // the attribute runs it, and the page's address keeps it
  }));
  $('.blocks').addEventListener('change', (e) => {
    const box = e.target.closest('input[type=checkbox]');
    if (!box) return;
    if (el._network) toggleOff(el, box.value, !box.checked);
    else {
      const on = new Set(el.blocks);
      if (box.checked) on.add(box.value);
      else on.delete(box.value);
      el.setAttribute('blocks', BLOCKS.map((b) => b.name).filter((n) => on.has(n)).join(' '));
    }
  });
  $('.backend').addEventListener('change', (e) => el.setAttribute('backend', e.target.value));
  $('.lang').addEventListener('change', (e) => el.setAttribute('lang', e.target.value));
  $('.export-png').addEventListener('click', () => exportPng(el));
  $('.copy-embed').addEventListener('click', () => copyEmbed(el));
  $('.export-svg').addEventListener('click', () => exportSvg(el));
  $('.export-json').addEventListener('click', () => exportJson(el));
  bindDrop(el);
}

// A dropped photo runs; a dropped checkpoint opens (told apart by type and name).
function bindDrop(el) {
  const card = el.shadowRoot.querySelector('.card');
  const take = (files) => {
    const file = files[0];
    if (!file) return;
    if (isPhotoFile(file)) {
      el.removeAttribute('image'); // the user's own photo: no address names it
      el.run(file).catch(() => {});
    } else openFiles(el, files).catch(() => {});
  };
  el.addEventListener('dragover', (e) => {
    e.preventDefault();
    card.classList.add('drop');
  });
  el.addEventListener('dragleave', () => card.classList.remove('drop'));
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    card.classList.remove('drop');
    take([...(e.dataTransfer?.files ?? [])]);
  });
  // Paste anywhere on the page goes to the playground the person used last (or the only one).
  const Element = el.constructor;
  el.addEventListener('pointerdown', () => { Element.active = el; });
  if (!Element.pasteBound) {
    Element.pasteBound = true;
    document.addEventListener('paste', (e) => {
      const target = Element.active?.isConnected ? Element.active : document.querySelector('attention-playground[controls="full"], attention-playground:not([controls])');
      const file = [...(e.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
      if (target && file) {
        e.preventDefault();
        target.run(file).catch(() => {});
      }
    });
  }
}

/** The block chips: the bundled network's six, or an opened network's stages and kinds. */
function blockChips(el) {
  const t = el._t;
  if (!el._network) {
    // A block running the reader's own weights says so on its chip.
    const own = (b) => (el._ownWeights[b.name] ? ` <span class="own-mark">${t('own.mark')}</span>` : '');
    return BLOCKS.map((b) => `<label class="chip${el.blocks.includes(b.name) ? ' on' : ''}" title="${escapeHtml(t(`block.${b.name}`))}${el._ownWeights[b.name] ? ` · ${escapeHtml(t('own.mark.title'))}` : ''}"><input type="checkbox" value="${b.name}" ${el.blocks.includes(b.name) ? 'checked' : ''}>${b.label}${own(b)}</label>`).join('');
  }
  const blocks = el._network.description.blocks;
  if (!blocks.length) return `<span class="muted">${t('chips.none')}</span>`;
  const stages = [...new Set(blocks.map((b) => b.stage))];
  const kinds = [...new Set(blocks.map((b) => b.kind))];
  const chip = (word, label, title) => {
    const on = !covers(el, word);
    return `<label class="chip${on ? ' on' : ''}" title="${escapeHtml(title)}"><input type="checkbox" value="${escapeHtml(word)}" ${on ? 'checked' : ''}>${escapeHtml(label)}</label>`;
  };
  const byStage = stages.map((s) => chip(s, s, t('chips.stage', { stage: s, paths: blocks.filter((b) => b.stage === s).map((b) => b.path).join(', ') })));
  const byKind = kinds.length > 1 ? kinds.map((k) => chip(k, t('chips.all', { kind: KIND_LABEL[k] ?? k }), t('chips.kind', { kind: KIND_LABEL[k] ?? k }))) : [];
  return `<span class="muted">${t('chips.on')}</span>${[...byStage, ...byKind].join('')}`;
}

/** What was found, in the element's language: "timm resnet seresnet50, 16 SE blocks, 1000 ImageNet classes". */
function describe({ family, arch, classes, blocks }, t, source = null) {
  const counts = {};
  for (const b of blocks) counts[b.kind] = (counts[b.kind] ?? 0) + 1;
  const kinds = Object.entries(counts).map(([k, n]) => t(n === 1 ? 'found.block' : 'found.blocks', { n, kind: KIND_LABEL[k] ?? k })).join(', ') || t('found.none');
  // A network from the Hub by its id (timm/seresnet50.a1_in1k), which says its tag too.
  const name = source?.startsWith('hf:') ? source.slice(3) : family.endsWith(arch) ? family : `${family} ${arch}`;
  return t(classes === 1000 ? 'found.imagenet' : classes === 1 ? 'found.binary' : 'found', { name, kinds, classes });
}

/** Brings every control of `el` in step with its state. */
export function syncControls(el) {
  const root = el.shadowRoot;
  const view = el.view;
  const network = Boolean(el._network);
  root.querySelectorAll('.tab').forEach((t) => {
    t.setAttribute('aria-selected', String(t.dataset.view === view));
    t.hidden = !el._offers(t.dataset.view);
  });
  syncTabStops(el);
  // One view offered (views="nonlocal"): no tab list at all.
  const list = root.querySelector('.tabs');
  if (list) list.hidden = [...list.querySelectorAll('.tab')].filter((t) => !t.hidden).length < 2;
  const chips = root.querySelector('.blocks');
  const markup = chips && blockChips(el);
  if (chips && chips._markup !== markup) {
    // Rebuilt only when it changed, and the chip that had the focus (a toggle by Space) keeps it.
    const focused = chips.contains(root.activeElement) ? root.activeElement.value : null;
    chips.innerHTML = markup;
    chips._markup = markup;
    if (focused != null) [...chips.querySelectorAll('input')].find((i) => i.value === focused)?.focus();
  }
  const inspect = root.querySelector('.inspect');
  if (inspect) {
    const fits = el._fitting(view);
    // A network's block by its path and kind: timm names any block's attention `se` (a Non-local
    // one is `layer1.0.se`), so the path alone misnames it.
    const label = (b) => (network ? `${b} · ${KIND_LABEL[el.result?.blocks?.[b]?.kind] ?? el.result?.blocks?.[b]?.kind ?? ''}` : BLOCK_LABEL[b]);
    inspect.innerHTML = fits.map((b) => `<option value="${escapeHtml(b)}">${escapeHtml(label(b))}</option>`).join('');
    inspect.value = el._inspected() ?? '';
    inspect.hidden = fits.length < 2 || view === 'network';
  }
  const current = VIEWS.find((v) => v.name === view);
  const show = (sel, on) => { const e = root.querySelector(sel); if (e) e.hidden = !on; };
  show('.tokens-box', current.controls.includes('tokens'));
  show('.token-heads-box', current.controls.includes('tokens'));
  const tokens = root.querySelector('input.tokens');
  if (tokens && tokens.value !== el.tokens && root.activeElement !== tokens) tokens.value = el.tokens;
  const tokenHeads = root.querySelector('select.token-heads');
  if (tokenHeads) tokenHeads.value = String(el.tokenHeads);
  show('.sorted-box', current.controls.includes('sorted'));
  show('.sweep-cancel', current.controls.includes('sweep') && Boolean(el._state.sweep?.running));
  // The opacity slider only where there is a map to lay over the photo: a spatial gate or context
  // map for the spatial view, an attention map for the attention view (none with every block off).
  const blocks = Object.values(el.result?.blocks ?? {});
  const maps = view === 'spatial' ? blocks.some((b) => b.spatial || b.context)
    : blocks.some((b) => b.spatial || b.context || b.attention || ROW_KINDS.includes(b.kind));
  show('.opacity-box', current.controls.includes('opacity') && maps);
  show('.own-weights', !network);
  // Own weights: the line of the block inspected (not of the last one loaded), and the way back.
  const own = network ? null : el._ownWeights[el._inspected()];
  const note = root.querySelector('.note');
  if (own?.note) {
    note.textContent = own.note;
    note.hidden = false;
    note.dataset.kind = 'own';
  } else if (note?.dataset.kind === 'own') {
    note.hidden = true;
    note.dataset.kind = '';
  }
  show('.trained-weights', Boolean(own));
  show('.options-box', !network);
  const head = root.querySelector('.head');
  if (head) {
    // The bundled network's MHSA, or an opened network's BoTNet block once a query was asked.
    const inspected = el._inspected();
    const asked = el._state.attention && el._state.attention.block === inspected ? el._state.attention.row : null;
    const heads = network ? asked?.heads ?? 0 : el.result?.blocks?.mhsa?.heads ?? 0;
    const onMhsa = view === 'nonlocal' && (network || inspected === 'mhsa') && heads > 0;
    head.hidden = !onMhsa;
    if (onMhsa) {
      el._state.head = Math.min(el._state.head, heads - 1);
      head.innerHTML = Array.from({ length: heads }, (_, i) => `<option value="${i}">${el._t('head', { i: i + 1, n: heads })}</option>`).join('');
      head.value = String(el._state.head);
    }
  }
  const options = root.querySelector('.options');
  if (options && !network) {
    options.innerHTML = el.blocks
      .filter((b) => OPTIONS[b])
      .map((b) => `<span class="group"><b>${BLOCK_LABEL[b]}</b>${OPTIONS[b]
        .map((o) => {
          const value = el.options[`${b}.${o.key}`] ?? o.values[0];
          const label = el._t(`option.${o.key}`);
          if (typeof o.values[0] === 'boolean') return `<label><input type="checkbox" data-option="${b}.${o.key}" ${value ? 'checked' : ''}>${label}</label>`;
          return `<label>${label} <select data-option="${b}.${o.key}">${o.values.map((v) => `<option ${v === value ? 'selected' : ''}>${v}</option>`).join('')}</select></label>`;
        })
        .join('')}</span>`)
      .join('');
    options.querySelectorAll('[data-option]').forEach((input) => input.addEventListener('change', () => {
      const [block, key] = input.dataset.option.split('.');
      const spec = OPTIONS[block].find((o) => o.key === key);
      const options = { ...el.options, [input.dataset.option]: input.type === 'checkbox' ? input.checked : typeof spec.values[0] === 'number' ? Number(input.value) : input.value };
      el.setAttribute('options', optionsText(options));
    }));
  }
  const name = root.querySelector('.network-name');
  const picking = !root.querySelector('.arch-pick')?.hidden;
  if (name && !busyOpening(el) && !picking) name.textContent = network ? describe(el._network.description, el._t, el._network.source) : '';
  show('.bundled', network);
  showNetworkBar(el);
  const backend = root.querySelector('select.backend');
  if (backend) backend.value = el.backend;
  const lang = root.querySelector('select.lang');
  if (lang) lang.value = el.language;
}

// The network bar shows while a network is open, read, or waits for its architecture.
function busyOpening(el) {
  const bar = el.shadowRoot.querySelector('.model-progress');
  return bar && !bar.hidden;
}

function showNetworkBar(el) {
  const bar = el.shadowRoot.querySelector('.network-bar');
  if (!bar) return;
  const pick = el.shadowRoot.querySelector('.arch-pick');
  bar.classList.toggle('active', Boolean(el._network) || busyOpening(el) || !pick.hidden);
}

/** Opens a checkpoint picked or dropped with its config.json beside it (timm's Hub layout: the
 *  config's transform, class names and architecture apply), or alone. A config.json alone is
 *  named for what it is. */
export async function openFiles(el, files) {
  const isConfig = (f) => /\.json$/i.test(f.name ?? '');
  const checkpoint = files.find((f) => !isConfig(f));
  const config = files.find(isConfig);
  if (!checkpoint) {
    const e = new Error(`${config?.name ?? 'The file'} is a checkpoint's config.json, not its weights: pick it together with the checkpoint (both files at once).`);
    el._showError(e);
    throw e;
  }
  return el.loadModel(checkpoint, config ? { config: await config.text() } : {});
}

/** What the browser keeps of networks opened from the Hub, with their sizes, in the Hub panel. */
export async function showCache(el) {
  const line = el.shadowRoot.querySelector('.hub-cache');
  if (!line) return;
  const { networks, total } = await cachedNetworks().catch(() => ({ networks: [], total: 0 }));
  line.textContent = networks.length
    ? el._t(networks.length === 1 ? 'hub.cached.one' : 'hub.cached', { n: networks.length, size: sizeText(total), names: networks.map((n) => `${n.id.replace(/^timm\//, '')} (${sizeText(n.bytes)})`).join(', ') })
    : el._t('hub.none');
  el.shadowRoot.querySelector('.hub-clear').hidden = !networks.length;
}

/** The progress of reading a checkpoint: `fraction` in [0, 1], null while parsing, or hidden;
 *  `cancellable` shows the Cancel button beside it (a download or a read in progress). */
export function showProgress(el, fraction, hidden = false, cancellable = false) {
  const bar = el.shadowRoot.querySelector('.model-progress');
  const name = el.shadowRoot.querySelector('.network-name');
  if (!bar) return;
  bar.hidden = hidden;
  const cancel = el.shadowRoot.querySelector('.model-cancel');
  if (cancel) cancel.hidden = hidden || !cancellable;
  if (fraction == null) bar.removeAttribute('value');
  else bar.value = fraction;
  if (!hidden && name) name.textContent = fraction == null ? el._t('building') : el._t('reading', { p: Math.round(fraction * 100) });
  showNetworkBar(el);
}

/** Offers the architectures to pick from (the engine could not tell), or hides the list. */
export function offerArchitectures(el, choices) {
  const pick = el.shadowRoot.querySelector('.arch-pick');
  if (!pick) return;
  pick.hidden = !choices;
  if (choices) pick.innerHTML = `<option value="">${el._t('arch.pick')}</option>${choices.map((c) => `<option>${c}</option>`).join('')}`;
  // Beside the list, the file it is for, not the network still open.
  const name = el.shadowRoot.querySelector('.network-name');
  if (name && choices) name.textContent = el._t('arch.for', { name: el._pendingModel?.name ?? el._t('own.file') });
  showNetworkBar(el);
}

/** The badge (where it ran, and why the CPU path where WebGPU was not asked for), the timings
 *  and the prediction line, after a run or a backend's start. */
export function updateBadge(el) {
  const name = el.shadowRoot.querySelector('.backend-name');
  if (!name) return;
  const backend = el.result?.backend ?? el._info?.backend;
  const cpuWord = el._info?.wasm === 'scalar' ? 'CPU · wasm' : 'CPU · wasm SIMD';
  name.textContent = backend === 'webgpu' ? 'WebGPU' : backend === 'cpu' ? cpuWord : el._engineFailed ? el._t('badge.failed') : '…';
  name.classList.toggle('cpu', backend === 'cpu');
  const detail = el.result?.fallback ?? el._info?.detail ?? '';
  const t = el._t;
  const kernels = el._info?.kernels ? t('badge.kernels', { kernels: el._info.kernels }) : '';
  // On WebGPU every layer and block runs on the device but the bundled network's fixed stem.
  const layers = backend !== 'webgpu' ? '' : t(el.result?.network ? 'badge.layers.network' : 'badge.layers.bundled');
  const said = t.message(detail);
  const adapter = /^webgpu/i.test(detail) ? said : t('badge.adapter', { detail: said });
  name.parentElement.title = (backend === 'webgpu' ? adapter : t('badge.cpu', { kernels, detail: said })) + layers;
  // Why the CPU path runs where WebGPU was not asked for: in words on the badge, not only its tooltip.
  const why = el.shadowRoot.querySelector('.badge .why');
  const reason = backend !== 'cpu' || el.backend === 'cpu' ? '' : el._info?.skipped === 'software' ? t('badge.software') : /WebGPU adapter|no GPU/i.test(detail) ? t('badge.nowebgpu') : '';
  why.textContent = reason;
  why.hidden = !reason;
  const timings = el.shadowRoot.querySelector('.timings');
  timings.textContent = el.result ? timingLine(el.result.timings, el._t) : '';
  timings.title = el.result && !el.result.network ? el._t('timing.title') : '';
  const prediction = el.shadowRoot.querySelector('.prediction');
  if (prediction) prediction.innerHTML = !el.result ? '' : el.result.network ? networkPredictionLine(el.result, el._t) : predictionLine(el.result, el._t, offLabels(el.blocks));
}
