// What a writer takes away from the element: the embed code of exactly the figure shown, and the
// figure as a PNG at twice the screen's resolution or as SVG (text as text, lines as lines, maps
// and the photo as embedded images), each with a caption under it. The SVG comes from the same
// drawing code through svgcanvas (MIT, a canvas 2-D context that writes SVG), loaded only when
// asked for.
import { DEFAULT_BLOCKS, SAMPLES } from './bundled.js';

// The line an embed shows until the script defines the element, and keeps where it never loads
// (another origin without CORS, a blocked script): the reader sees why, not a 0 x 0 element.
export const FALLBACK_LINE = {
  en: 'Loading the attention playground… If this line stays, its script did not load: serve it over http(s), and from another origin with Access-Control-Allow-Origin: * (see the README).',
  zh: '正在加载 attention-playground…… 如果这行字一直在，说明它的脚本没有加载成功：请通过 http(s) 提供它，若从另一个源加载，服务器须发送 Access-Control-Allow-Origin: *（见 README）。',
};

// The attributes that say what the element shows, in the order they are written.
const KEPT = ['model', 'arch', 'labels', 'off', 'image', 'blocks', 'options', 'view', 'views', 'query', 'tokens', 'token-heads', 'controls', 'hide', 'theme', 'backend', 'lang', 'hub'];

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/**
 * The `<script>` and `<attention-playground …>` that show what `el` shows now: its view, blocks,
 * options, photo (a sample or a URL; a photo from the reader's disk cannot be linked, and
 * `photoKept` is then false), query, network (a Hub id or URL) and language.
 * Returns `{ code, photoKept }`.
 */
export function embedCode(el) {
  const attributes = {};
  for (const name of KEPT) {
    const value = el.getAttribute(name);
    if (value != null && value !== '') attributes[name] = value;
  }
  attributes.view = el.view;
  if (!el._network) attributes.blocks = el.blocks.join(' ') || 'none';
  if (attributes.blocks === DEFAULT_BLOCKS.join(' ')) delete attributes.blocks;
  // A photo of the reader's own is not at any address: the embed starts on the first sample.
  const photo = el.getAttribute('image');
  const photoKept = Boolean(photo) || !el._photo || SAMPLES.some((s) => el._photo.name === s.file);
  if (!photo && el._photo && SAMPLES.some((s) => el._photo.name === s.file)) attributes.image = el._photo.name;
  if (el._network && !/^(hf:|https?:|\/|\.)/.test(attributes.model ?? '')) delete attributes.model;
  const script = new URL('./attention-playground.js', import.meta.url).href;
  const written = Object.entries(attributes).map(([k, v]) => ` ${k}="${escape(v)}"`).join('');
  const line = FALLBACK_LINE[el.language] ?? FALLBACK_LINE.en;
  return { code: `<script type="module" src="${escape(script)}"></script>\n<attention-playground${written}>\n  ${line}\n</attention-playground>`, photoKept };
}

// The white (or dark) margin around an exported figure, in CSS pixels.
export const MARGIN = 12;

// The figure's page: `paper` with the margin around, the figure drawn by `draw(ctx)` inside it
// and `caption` under it in `ink`. `ctx` is `size(width, height)` CSS pixels.
function framed(ctx, { width, height }, draw, caption, { paper, ink }) {
  const captionHeight = caption ? 28 : 0;
  ctx.fillStyle = paper;
  ctx.fillRect(0, 0, width + 2 * MARGIN, height + captionHeight + 2 * MARGIN);
  ctx.translate(MARGIN, MARGIN);
  draw(ctx);
  if (caption) {
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillStyle = ink;
    ctx.textBaseline = 'top';
    ctx.fillText(caption, 0, height + 8, width);
  }
}

// The page's size in CSS pixels for a figure of `width x height` with a margin and a caption.
const pageSize = ({ width, height }, caption) => ({ width: width + 2 * MARGIN, height: height + (caption ? 28 : 0) + 2 * MARGIN });

/**
 * The figure `drawn` (`{ width, height }` CSS pixels) redrawn by `draw(ctx)` at `scale` device
 * pixels per CSS pixel, with a margin and `caption` under it (`colours`: `{ paper, ink }`);
 * resolves to a PNG Blob.
 */
export async function figurePng(drawn, draw, caption, colours, scale = 2) {
  const page = pageSize(drawn, caption);
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(page.width * scale);
  canvas.height = Math.round(page.height * scale);
  const ctx = canvas.getContext('2d');
  ctx.scale(scale, scale);
  framed(ctx, drawn, draw, caption, colours);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  canvas.width = canvas.height = 0;
  return blob;
}

/**
 * The same on svgcanvas's context (text as text, canvases and images embedded); resolves to an
 * SVG Blob.
 */
export async function figureSvg(drawn, draw, caption, colours) {
  let Context;
  try {
    ({ Context } = await import('./vendor/svgcanvas.js'));
  } catch (e) {
    throw new Error(`The SVG export could not load its library (vendor/svgcanvas.js): ${e.message ?? e}. Export PNG works without it.`);
  }
  const ctx = new Context(pageSize(drawn, caption));
  framed(ctx, drawn, draw, caption, colours);
  // svgcanvas writes text-decoration="undefined" where none was set.
  return new Blob([ctx.getSerializedSvg(true).replaceAll(' text-decoration="undefined"', '')], { type: 'image/svg+xml' });
}

/** A canvas holding `bitmap` (svgcanvas embeds canvases and images, not ImageBitmaps). */
export function bitmapCanvas(bitmap) {
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  return canvas;
}
