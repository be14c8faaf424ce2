// Drawing the figure: the current view on a kept scratch canvas at the device's pixel ratio, then
// the height it used copied to the canvas shown; what a view draws from (the scene); and what a
// writer takes away: PNG at 2x, SVG, JSON and the embed code.
import { MUTED, PAPER, setPalette } from './drawing.js';
import { bitmapCanvas, embedCode, figurePng, figureSvg } from './embed-code.js';
import { figureLabel } from './keyboard.js';
import { BLOCK_LABEL } from './bundled.js';
import { viewNamed } from './views/index.js';

// Views lay themselves out for the column's width, down to this many CSS pixels (a 280-px phone
// column less the page's and the card's padding); a narrower one shows them scaled.
const MIN_DRAW_WIDTH = 200;

export function renderFigure(el) {
  if (!el._canvas) return;
  const width = Math.max(MIN_DRAW_WIDTH, Math.floor(el._stage.clientWidth || 640));
  if (!el.result || !el._photo) {
    el._canvas.height = 0;
    el._stage.classList.add('empty');
    return;
  }
  el._stage.classList.remove('empty');
  el._placeholder.hidden = true;
  const dpr = window.devicePixelRatio || 1;
  // Draw on a tall scratch canvas, then keep only the height the view used.
  const maxHeight = viewNamed(el.view).maxHeight ?? 900;
  // One scratch canvas, kept: allocating a screen-sized canvas on every redraw costs more than
  // the drawing of most views.
  const scratch = (el._scratch ??= document.createElement('canvas'));
  if (scratch.width !== Math.round(width * dpr) || scratch.height !== Math.round(maxHeight * dpr)) {
    scratch.width = Math.round(width * dpr);
    scratch.height = Math.round(maxHeight * dpr);
  }
  const ctx = scratch.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  setPalette(el._dark());
  ctx.fillStyle = PAPER;
  ctx.fillRect(0, 0, width, maxHeight);
  const view = viewNamed(el.view);
  const scene = sceneOf(el);
  const html = el.shadowRoot.querySelector('.view-html');
  if (html) {
    html.hidden = !view.html;
    const markup = view.html?.(scene) ?? '';
    if (html._markup !== markup) {
      html.innerHTML = markup;
      html._markup = markup;
    }
  }
  el._layout = view.draw(ctx, width, scene);
  const height = Math.min(maxHeight, Math.ceil(el._layout.height));
  el._canvas.width = scratch.width;
  el._canvas.height = Math.round(height * dpr);
  el._drawn = { width, height };
  el._canvas.getContext('2d').drawImage(scratch, 0, 0);
  el._canvas.setAttribute('aria-label', figureLabel(el));
}

// What a view draws from: the result, the block it shows and its name, the photo (and, for a
// network, the centre crop of it that the network saw), the element's view state.
export function sceneOf(el) {
  const block = el._inspected();
  const result = el.result;
  const entry = block && result.blocks?.[block];
  const photo = el._photo.display;
  const crop = el._network ? el._cropOf(result, photo.width / result.width) : null;
  const label = el._network ? block : BLOCK_LABEL[block];
  const features = el._state.features?.key === block ? el._state.features : null;
  const channelFeatures = el._state.channelFeatures?.key?.startsWith(`${block}#`) ? el._state.channelFeatures : null;
  return {
    result, block, entry, label, photo, crop, state: el._state, selected: el._state.selected, network: Boolean(el._network), t: el._t,
    independence: block && el._state.independence?.block === block && el._state.independence.result === result ? el._state.independence : null,
    blockFeatures: features, channelFeatures: channelFeatures && (el._state.hoverChannel == null || channelFeatures.channel === el._state.hoverChannel) ? channelFeatures : null,
  };
}

function download(el, blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function baseName(el) {
  return `attention-${(el._photo?.name ?? 'image').replace(/\.[^.]*$/, '').replace(/[^\w-]+/g, '_')}-${el.view}`;
}

// What both exports draw: the current view again on another context, in the element's palette
// (set before its colours are read: another element on the page may have drawn last), with the
// caption saying what it shows. `photo` replaces the scene's photo (the SVG needs a canvas).
function redraw(el, photo = null) {
  const view = viewNamed(el.view);
  const scene = sceneOf(el);
  if (photo) scene.photo = photo(scene.photo);
  const dark = el._dark();
  setPalette(dark);
  const draw = (ctx) => {
    setPalette(dark);
    view.draw(ctx, el._drawn.width, scene);
  };
  return { draw, line: caption(el, scene), colours: { paper: PAPER, ink: MUTED } };
}

// The figure at twice the screen's resolution (or the screen's, where that is more).
export async function exportPng(el) {
  if (!el._drawn || !el.result) return;
  const { draw, line, colours } = redraw(el);
  const blob = await figurePng(el._drawn, draw, line, colours, Math.max(2, window.devicePixelRatio || 1));
  if (blob) download(el, blob, `${baseName(el)}.png`);
}

// The figure as SVG: the view drawn again on an SVG context, the photo embedded once.
export async function exportSvg(el) {
  if (!el._drawn || !el.result) return;
  const { draw, line, colours } = redraw(el, bitmapCanvas);
  try {
    download(el, await figureSvg(el._drawn, draw, line, colours), `${baseName(el)}.svg`);
  } catch (e) {
    el._showError(e);
  }
}

// What an exported figure says under it: the view, the block, the photo.
function caption(el, scene) {
  return `${el._t(`view.${el.view}`)}${scene.label ? ` · ${scene.label}` : ''} · ${el._photo?.name ?? ''} · attention-playground`;
}

// "Copy embed code": to the clipboard, and said in the note (with the code itself where the
// clipboard is not allowed, to copy by hand).
export async function copyEmbed(el) {
  const { code, photoKept } = embedCode(el);
  let copied = true;
  try {
    await navigator.clipboard.writeText(code);
  } catch {
    copied = false;
  }
  el._note.textContent = `${el._t(copied ? 'embed.copied' : 'embed.manual')}${photoKept ? '' : ` ${el._t('embed.ownPhoto')}`}${copied ? '' : `\n${code}`}`;
  el._note.hidden = false;
  el._note.dataset.kind = 'embed';
  el._note.style.whiteSpace = copied ? '' : 'pre-wrap';
}

export function exportJson(el) {
  const json = el.exportJson();
  if (json) download(el, new Blob([JSON.stringify(json, null, 1)], { type: 'application/json' }), `${baseName(el)}.json`);
}
