// What the views draw with, onto one canvas (so "Export PNG" saves exactly what is on screen).
// Each draw function takes the 2-D context, the canvas width in CSS pixels and what to show, and
// returns the canvas height it used plus the regions the pointer can hit.
import { VIRIDIS, viridis, diverging } from './colormap.js';

const FONT = '13px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const SMALL = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
// The figure's colours: a light and a dark palette (setPalette, before each drawing, follows the
// card's colour scheme). The views import these bindings, which follow the palette set.
const LIGHT = { INK: '#1d1d1f', MUTED: '#6b6b76', ACCENT: '#5b4bdb', PAPER: '#ffffff', LINE: '#c9c9d2', GRID: '#e3e3e8', SOFT: '#f3f3f7', TINT: '#efeefe' };
const DARK = { INK: '#ececf1', MUTED: '#a3a3b0', ACCENT: '#8f83ff', PAPER: '#1c1c21', LINE: '#4a4a55', GRID: '#34343d', SOFT: '#2a2a31', TINT: '#312d57' };
export let INK = LIGHT.INK;
export let MUTED = LIGHT.MUTED;
export let ACCENT = LIGHT.ACCENT;
export let PAPER = LIGHT.PAPER;
export let LINE = LIGHT.LINE;
export let GRID = LIGHT.GRID;
export let SOFT = LIGHT.SOFT;
export let TINT = LIGHT.TINT;
/** Text on a coloured cell (viridis, the diverging map): dark in either palette. */
export const ON_COLOUR = '#1d1d1f';

/** Chooses the light or the dark palette for what is drawn next. */
export function setPalette(dark) {
  ({ INK, MUTED, ACCENT, PAPER, LINE, GRID, SOFT, TINT } = dark ? DARK : LIGHT);
}
const LEGEND_WIDTH = 110;

export function range(data) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return { lo, hi };
}

// Maps already coloured, per map object: a redraw (a hover, a resize, a toggle's other blocks)
// colours again only the maps that changed.
const coloured = new WeakMap();

// A map as a small canvas of its own size, coloured by viridis over [lo, hi].
export function mapCanvas(map, lo, hi, alpha = 255) {
  const kept = coloured.get(map);
  if (kept && kept.lo === lo && kept.hi === hi && kept.alpha === alpha && kept.length === map.data.length) return kept.canvas;
  const canvas = colourMap(map, lo, hi, alpha);
  coloured.set(map, { lo, hi, alpha, length: map.data.length, canvas });
  return canvas;
}

function colourMap(map, lo, hi, alpha) {
  const canvas = document.createElement('canvas');
  canvas.width = map.width;
  canvas.height = map.height;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(map.width, map.height);
  const span = hi - lo || 1;
  for (let i = 0; i < map.data.length; i++) {
    const k = Math.max(0, Math.min(255, Math.round(((map.data[i] - lo) / span) * 255))) * 3;
    img.data.set([VIRIDIS[k], VIRIDIS[k + 1], VIRIDIS[k + 2], alpha], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

// Channels already coloured, per features object: `channel/scale` -> canvas.
const planes = new WeakMap();

// One channel of a `{ channels, width, height, data }` tensor, signed values on a diverging map.
export function channelCanvas(features, channel, scale) {
  let kept = planes.get(features);
  if (!kept) planes.set(features, (kept = new Map()));
  const key = `${channel}/${scale}`;
  if (!kept.has(key)) kept.set(key, colourPlane(features, channel, scale));
  return kept.get(key);
}

function colourPlane(features, channel, scale) {
  const { width, height } = features;
  const plane = features.data.subarray(channel * width * height, (channel + 1) * width * height);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < plane.length; i++) {
    const [r, g, b] = diverging(plane[i] / (scale || 1));
    img.data.set([r, g, b, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

export function maxAbs(data, from = 0, to = data.length) {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(data[i]));
  return m;
}

/** A map's thumbnail in a `side x side` cell, its aspect ratio kept: `{ width, height }`. */
export function thumbOf(map, side) {
  return map.width >= map.height
    ? { width: side, height: Math.max(1, Math.round((side * map.height) / map.width)) }
    : { width: Math.max(1, Math.round((side * map.width) / map.height)), height: side };
}

export function fit(srcW, srcH, maxW, maxH) {
  const s = Math.min(maxW / srcW, maxH / srcH);
  return { width: Math.round(srcW * s), height: Math.round(srcH * s) };
}

// Enough digits to tell apart values `step` apart (legend ticks of a nearly flat map).
// Decimals as `format` writes them (an exponent only below 0.001, as everywhere else in the
// figure), with as many as the step needs (up to 7).
function formatStep(v, step) {
  const digits = Math.max(0, Math.ceil(-Math.log10(Math.abs(step) || 1)) + 1);
  if (v !== 0 && Math.abs(v) < 0.001) return v.toExponential(Math.max(2, Math.min(6, digits + Math.floor(Math.log10(Math.abs(v))))));
  return fixed(v, Math.min(7, digits));
}

/** `v` with `digits` decimals, without the minus of a value that rounds to zero ("-0.00"). */
export function fixed(v, digits) {
  const text = v.toFixed(digits);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

export function format(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.001 || a >= 10000)) return v.toExponential(2);
  return v.toFixed(a < 0.1 ? 4 : 3);
}

// Where a line may end: at a space, or beside a CJK character (Chinese has no spaces), but not
// before closing punctuation nor after opening punctuation (the rules of line breaking in
// Chinese text, 避头尾).
const CJK = /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]/;
const NO_START = /[，。、；：？！）」』》〉】,.;:?!)\]%]/;
const NO_END = /[（「『《〈【(\[]/;
function breakable(text, i) {
  if (i <= 0 || i >= text.length) return true;
  const [a, b] = [text[i - 1], text[i]];
  if (NO_START.test(b) || NO_END.test(a)) return false;
  return /\s/.test(a) || /\s/.test(b) || CJK.test(a) || CJK.test(b);
}

/** `text` broken into lines no wider than `width` in the context's current font, at the places
 *  `breakable` allows; a word longer than the width is broken inside. */
export function wrapLines(ctx, text, width) {
  const lines = [];
  let rest = String(text).trim();
  while (rest) {
    // The longest prefix that fits, then back to the last place a line may end.
    let lo = 1;
    let hi = rest.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (ctx.measureText(rest.slice(0, mid).trimEnd()).width <= width) lo = mid;
      else hi = mid - 1;
    }
    let end = lo;
    if (end < rest.length) {
      let back = end;
      while (back > 0 && !breakable(rest, back)) back--;
      if (back > 0) end = back;
    }
    lines.push(rest.slice(0, end).trimEnd());
    rest = rest.slice(end).trimStart();
  }
  return lines;
}

// The room from `x` to the drawing's right edge (the context is scaled by the device pixel ratio).
const roomFrom = (ctx, x) => ctx.canvas.width / ctx.getTransform().a - x - 4;

/** A heading, wrapped to `width` (by default the room to the drawing's right edge), 18 px a line
 *  from `y`; returns the height used. */
export function title(ctx, text, x, y, width = roomFrom(ctx, x)) {
  ctx.font = FONT;
  ctx.fillStyle = INK;
  ctx.textBaseline = 'top';
  const lines = wrapLines(ctx, text, width);
  lines.forEach((line, i) => ctx.fillText(line, x, y + 2 + i * 18));
  return lines.length * 18;
}

export function note(ctx, text, x, y, color = MUTED) {
  ctx.font = SMALL;
  ctx.fillStyle = color;
  ctx.textBaseline = 'top';
  ctx.fillText(text, x, y);
}

/** The width of `text` in the small font (the one `note` and `paragraph` draw with). */
export function smallWidth(ctx, text) {
  ctx.font = SMALL;
  return ctx.measureText(text).width;
}

/** `text`, or its end after an ellipsis, no wider than `width` in the small font (a block's path,
 *  whose end says which block it is). */
export function fitStart(ctx, text, width) {
  if (smallWidth(ctx, text) <= width) return text;
  let rest = text;
  while (rest.length > 2 && smallWidth(ctx, `…${rest}`) > width) rest = rest.slice(1);
  return `…${rest}`;
}

/** The height `paragraph` would use for `text` in `width`, drawing nothing. */
export function paragraphHeight(ctx, text, width) {
  ctx.font = SMALL;
  return wrapLines(ctx, text, width).length * 16;
}

/** `text` in the small font, wrapped to `width` (by default the room to the drawing's right
 *  edge), 16 px a line from `y`; returns the height used. */
export function paragraph(ctx, text, x, y, width = roomFrom(ctx, x), color = MUTED) {
  note(ctx, '', x, y, color); // sets the font the measuring below uses
  const lines = wrapLines(ctx, text, width);
  lines.forEach((line, i) => note(ctx, line, x, y + 2 + i * 16, color));
  return lines.length * 16;
}

/** The legend's words for a flat or nearly flat map, in the page's language. */
export function legendWords(t) {
  return { flat: t('legend.flat'), narrow: (p) => t('legend.narrow', { p }) };
}

// A vertical colour bar with five labelled values, its label above it, in `room` px of width;
// returns the y under everything it drew. A map that is the same everywhere gets one label (and
// no colour scale to read into); one whose values differ by under 2 % of their size gets a note
// under the bar, since the colours then stretch a tiny range over the whole scale.
function drawLegend(ctx, x, y, height, lo, hi, label, words, room = LEGEND_WIDTH) {
  const labelHeight = paragraph(ctx, label, x, y - 4, room, INK);
  y += labelHeight;
  const size = Math.max(Math.abs(lo), Math.abs(hi));
  if (words && hi - lo <= 1e-6 * size) {
    ctx.fillStyle = `rgb(${viridis(0.5).join(',')})`;
    ctx.fillRect(x, y, 14, height);
    note(ctx, format(hi), x + 21, y + height / 2 - 6, INK);
    return y + height + 6 + paragraph(ctx, words.flat, x, y + height + 4, room);
  }
  let bottom = y + height + 6;
  if (words && size > 0 && (hi - lo) / 2 < 0.02 * size) {
    const p = ((100 * (hi - lo)) / 2 / ((Math.abs(hi) + Math.abs(lo)) / 2)).toPrecision(2);
    for (const line of words.narrow(p).split('\n')) bottom += paragraph(ctx, line, x, bottom, room);
  }
  const barW = 14;
  for (let i = 0; i < height; i++) {
    const [r, g, b] = viridis(1 - i / (height - 1));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, y + i, barW, 1);
  }
  ctx.strokeStyle = LINE;
  ctx.strokeRect(x + 0.5, y + 0.5, barW, height - 1);
  for (let k = 0; k <= 4; k++) {
    const ty = y + ((height - 1) * k) / 4;
    ctx.fillStyle = INK;
    ctx.fillRect(x + barW, ty, 4, 1);
    note(ctx, formatStep(hi - ((hi - lo) * k) / 4, (hi - lo) / 4), x + barW + 7, ty - 6, INK);
  }
  return bottom;
}

/** The query marker at (x, y): a ring of `radius` (white under red), with cross hairs if `hairs`. */
export function drawQuery(ctx, x, y, radius, hairs = false) {
  ctx.lineWidth = 2;
  ctx.strokeStyle = '#fff';
  ctx.beginPath();
  ctx.arc(x, y, radius, 0, Math.PI * 2);
  ctx.stroke();
  ctx.strokeStyle = '#e5484d';
  ctx.lineWidth = 1.5;
  if (hairs) {
    ctx.beginPath();
    ctx.moveTo(x - 12, y); ctx.lineTo(x - 4, y); ctx.moveTo(x + 4, y); ctx.lineTo(x + 12, y);
    ctx.moveTo(x, y - 12); ctx.lineTo(x, y - 4); ctx.moveTo(x, y + 4); ctx.lineTo(x, y + 12);
  }
  ctx.stroke();
}

// The photo's part `src` scaled to `width x height` CSS pixels (at the context's pixel ratio),
// kept per photo: a redraw (a toggle, a hover, a new query) draws it without resampling it again.
const scaled = new WeakMap();
function scaledPhoto(photo, src, width, height, ctx) {
  // An SVG context (the export) embeds the photo itself.
  if (!(ctx instanceof CanvasRenderingContext2D)) return photo;
  const ratio = ctx.getTransform().a || 1;
  const key = `${src.x},${src.y},${src.width},${src.height}/${width}x${height}@${ratio}`;
  const kept = scaled.get(photo);
  if (kept?.key === key) return kept.canvas;
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(width * ratio));
  canvas.height = Math.max(1, Math.round(height * ratio));
  const c = canvas.getContext('2d');
  c.imageSmoothingEnabled = true;
  c.imageSmoothingQuality = 'high';
  c.drawImage(photo, src.x, src.y, src.width, src.height, 0, 0, canvas.width, canvas.height);
  scaled.set(photo, { key, canvas });
  return canvas;
}

/**
 * The photo with a map laid over it (a spatial gate, a context map, an attention row).
 * `overlay`: { map, label, lo?, hi?, opacity, query?: {x, y} (map cells of the query map), queryGrid?: {width, height} }
 * or null (the photo alone); `extras`: small multiples beside it; `crop`: the part of the photo
 * the maps cover.
 */
export function drawOverlayView(ctx, width, photo, overlay, heading, extras = [], crop = null) {
  const top = 8 + title(ctx, heading, 0, 4);
  // A network's maps cover the centre crop it saw (`crop`, in the photo's pixels).
  const src = crop ?? { x: 0, y: 0, width: photo.width, height: photo.height };
  // In a narrow column (a phone) the photo takes the whole width and the legend goes under it.
  const narrow = width < 440;
  const box = fit(src.width, src.height, narrow ? width : Math.max(160, width - LEGEND_WIDTH - 24), 420);
  const photoRect = { x: 0, y: top, width: box.width, height: box.height };
  ctx.drawImage(scaledPhoto(photo, src, photoRect.width, photoRect.height, ctx), photoRect.x, photoRect.y, photoRect.width, photoRect.height);
  let { lo, hi } = overlay ? range(overlay.map.data) : { lo: 0, hi: 1 };
  const legend = narrow ? { x: 0, y: top + box.height + 14, height: 100 } : { x: photoRect.width + 20, y: top + 4, height: Math.min(220, box.height - 30) };
  let bottom = top + box.height;
  if (overlay) {
    lo = overlay.lo ?? lo;
    hi = overlay.hi ?? hi;
    // The opacity is in the map's own pixels, not the context's globalAlpha, which the SVG export's
    // context does not apply to images.
    ctx.save();
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(mapCanvas(overlay.map, lo, hi, Math.round(overlay.opacity * 255)), photoRect.x, photoRect.y, photoRect.width, photoRect.height);
    ctx.restore();
    bottom = Math.max(bottom, drawLegend(ctx, legend.x, legend.y, legend.height, lo, hi, overlay.label, overlay.words, narrow ? LEGEND_WIDTH : width - legend.x));
  }
  if (overlay?.query) {
    const grid = overlay.queryGrid;
    const qx = photoRect.x + ((overlay.query.x + 0.5) / grid.width) * photoRect.width;
    const qy = photoRect.y + ((overlay.query.y + 0.5) / grid.height) * photoRect.height;
    drawQuery(ctx, qx, qy, 7, true);
  }
  // Small multiples (one per self-attention head): under the legend, or beside it in a narrow column.
  const regions = [];
  const thumb = 44;
  const x0 = narrow ? LEGEND_WIDTH + 10 : legend.x;
  const y0 = narrow ? top + box.height + 14 : bottom + 14;
  const perRow = Math.max(1, Math.min(narrow ? 4 : 2, Math.floor((width - x0 + 8) / (thumb + 8))));
  extras.forEach((extra, i) => {
    const x = x0 + (i % perRow) * (thumb + 8);
    const yy = y0 + Math.floor(i / perRow) * (thumb + 22);
    const r = range(extra.map.data);
    const size = thumbOf(extra.map, thumb);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(mapCanvas(extra.map, r.lo, r.hi), x, yy, size.width, size.height);
    if (extra.selected) {
      ctx.strokeStyle = ACCENT;
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 1, yy - 1, size.width + 2, size.height + 2);
    }
    note(ctx, extra.label, x, yy + thumb + 3);
    regions.push({ x, y: yy, width: thumb, height: thumb + 16, index: i });
    bottom = Math.max(bottom, yy + thumb + 18);
  });
  return { height: bottom + 8, photoRect, regions };
}

/**
 * Channel weights as bars (sorted or in channel order), and the hovered channel's feature map
 * before and after the block. Past MANY_CHANNELS the bars become a curve (one column per
 * share of the channels) with the top and bottom channels named by index. `before`/`after`
 * (`{ channels, width, height, data }`) may hold only the `shown` channel, or be absent.
 */
export function drawChannelView(ctx, width, { weights, names, sorted, hover, before, after, heading, shownChannel, t }) {
  const top = 8 + title(ctx, heading, 0, 4);
  const chartH = 150;
  const order = [...weights.keys()];
  if (sorted) order.sort((a, b) => weights[b] - weights[a]);
  const { lo, hi } = range(weights);
  // Gates live in (0, 1): a fixed axis from 0 to 1 keeps photos comparable. Other weights get their own range.
  const axisLo = lo >= 0 && hi <= 1 ? 0 : Math.min(0, lo);
  const axisHi = lo >= 0 && hi <= 1 ? 1 : hi;
  const left = 40;
  const barW = (width - left - 4) / weights.length;
  ctx.strokeStyle = GRID;
  ctx.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const v = axisLo + ((axisHi - axisLo) * k) / 4;
    const y = top + chartH - ((v - axisLo) / (axisHi - axisLo)) * chartH;
    ctx.beginPath();
    ctx.moveTo(left, Math.round(y) + 0.5);
    ctx.lineTo(width, Math.round(y) + 0.5);
    ctx.stroke();
    note(ctx, format(v), 0, y - 6);
  }
  const bars = [];
  const yOf = (v) => top + chartH - ((v - axisLo) / (axisHi - axisLo)) * chartH;
  const y0 = yOf(0);
  order.forEach((channel, i) => {
    const v = weights[channel];
    const x = left + i * barW;
    const y1 = yOf(v);
    // Coloured on the axis's scale too, so a gate of 0.9 has one colour on every photo.
    const [r, g, b] = viridis((v - axisLo) / (axisHi - axisLo || 1));
    ctx.fillStyle = channel === hover ? '#e5484d' : `rgb(${r},${g},${b})`;
    ctx.fillRect(x + (barW >= 3 ? barW * 0.1 : 0), Math.min(y0, y1), Math.max(barW >= 3 ? 1 : 0.6, barW * (barW >= 3 ? 0.8 : 1)), Math.max(1, Math.abs(y1 - y0)));
    bars.push({ x, y: top, width: barW, height: chartH, index: channel });
  });
  if (hover != null && barW < 3) {
    const i = order.indexOf(hover);
    ctx.fillStyle = '#e5484d';
    ctx.fillRect(left + i * barW - 1, top, 2, chartH);
  }
  const many = weights.length > MANY_CHANNELS;
  let caption = t(sorted ? 'channel.sorted' : 'channel.order');
  if (many && sorted) {
    const named = (list) => list.map((c) => `#${c} ${format(weights[c])}`).join(', ');
    caption += ` · ${t('channel.highest')}: ${named(order.slice(0, 3))} · ${t('channel.lowest')}: ${named(order.slice(-3))}`;
  }
  let y = top + chartH + 4 + paragraph(ctx, caption, left, top + chartH + 2, width - left - 4) + 6;
  const channel = hover ?? shownChannel ?? order[0];
  const name = names?.[channel] ? t('channel.named', { name: t.named(names[channel]), c: channel }) : t('channel.numbered', { c: channel });
  y += title(ctx, `${t('channel.weight', { name, w: format(weights[channel]) })}${hover == null ? t(sorted ? 'channel.largest' : 'channel.first') : ''}`, 0, y) + 4;
  if (!before || !after) {
    note(ctx, t('channel.wait'), 0, y);
    return { height: y + 24, bars };
  }
  // The features hold every channel, or only the one shown.
  const at = before.channels === weights.length ? channel : 0;
  const size = fit(before.width, before.height, (width - 24) / 2, 200);
  const plane = before.width * before.height;
  const scale = Math.max(maxAbs(before.data, at * plane, (at + 1) * plane), maxAbs(after.data, at * plane, (at + 1) * plane));
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(channelCanvas(before, at, scale), 0, y, size.width, size.height);
  ctx.drawImage(channelCanvas(after, at, scale), size.width + 24, y, size.width, size.height);
  let under = y + size.height + 2;
  under += Math.max(paragraph(ctx, t('channel.before'), 0, under, size.width + 16), paragraph(ctx, t('channel.after'), size.width + 24, under, width - size.width - 28));
  // A channel that is 0 everywhere draws as blank paper: say so.
  if (scale === 0) under += paragraph(ctx, t('channel.zero'), 0, under, width - 4, INK);
  return { height: under + 8, bars };
}

// Past this many channels the bars are drawn as a curve and the extremes are named.
export const MANY_CHANNELS = 96;

/** Every channel before and after a block, each pair on one colour scale. */
export function drawFeaturesView(ctx, width, { before, after, heading, highlight, t }) {
  const top = 8 + title(ctx, heading, 0, 4);
  const cols = 8;
  const gap = 3;
  // Before and after side by side, or one above the other in a narrow column (a phone), where
  // side by side each map would be a few pixels wide.
  const stacked = width < 480;
  const half = stacked ? width : (width - 20) / 2;
  const cell = Math.floor((half - gap * (cols - 1)) / cols);
  const cellH = Math.round((cell * before.height) / before.width);
  const rows = Math.ceil(before.channels / cols);
  const block = 18 + rows * (cellH + gap);
  const plane = before.width * before.height;
  ctx.imageSmoothingEnabled = false;
  [before, after].forEach((features, side) => {
    const x0 = stacked ? 0 : side * (half + 20);
    const y0 = stacked ? top + side * (block + 10) : top;
    note(ctx, t(side ? 'features.after' : 'features.before'), x0, y0, INK);
    for (let c = 0; c < features.channels; c++) {
      const scale = Math.max(maxAbs(before.data, c * plane, (c + 1) * plane), maxAbs(after.data, c * plane, (c + 1) * plane));
      const x = x0 + (c % cols) * (cell + gap);
      const y = y0 + 18 + Math.floor(c / cols) * (cellH + gap);
      ctx.drawImage(channelCanvas(features, c, scale), x, y, cell, cellH);
      if (highlight?.includes(c)) {
        ctx.strokeStyle = ACCENT;
        ctx.lineWidth = cell >= 16 ? 2 : 1;
        ctx.strokeRect(x - 1, y - 1, cell + 2, cellH + 2);
      }
    }
  });
  const bottom = top + (stacked ? 2 * block + 10 : block);
  return { height: bottom + 4 + paragraph(ctx, t('features.note'), 0, bottom + 2, width - 4) + 6 };
}
