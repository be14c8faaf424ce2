// How it works: a block's computation step by step, drawn from the engine's trace of it on the
// current photo (MapRequest::trace, held to the reference modules' intermediates by the golden
// tests). Every step is `{ shape, data }` from the engine (src/model/report.rs, trace_value):
// - SE: squeeze → fc1 + ReLU → fc2 → sigmoid → scale; ECA: squeeze → 1-D convolution → sigmoid.
// - CBAM: mean and max of each channel → the shared MLP on each → sum, sigmoid (channel gate);
//   mean and max over the channels → the k x k kernel (drawn as numbers) → BatchNorm → sigmoid.
// - GC: conv_attn logits → softmax (context weights) → context vector → fc1 → LayerNorm + ReLU →
//   fc2 → fusion.
// - Non-local and MHSA, for one query (click a map to move it): the query vector, the scores over
//   the keys, their normalisation, the weighted sum of the values, W_z / BatchNorm / residual or
//   proj.
// Hover a bar to follow its channel through the per-channel steps, or a map to read every map's
// value at that position.
import { ACCENT, INK, LINE, MUTED, ON_COLOUR, drawQuery, fixed, format, mapCanvas, note, paragraph, range, smallWidth, title } from '../drawing.js';
import { viridis, diverging } from '../colormap.js';
import { say } from './say.js';
import { branchName } from './branches.js';

const STRIP = 56; // bar height
const GAP = 30;
const MAP = 168; // the largest side of a drawn map

// One step's values as bars at (x, y) within `width`: signed values on a diverging scale around a
// zero line, gates (0..1) from the bottom. Returns the bars' regions.
function strip(ctx, x, y, width, values, { unit, hover }) {
  const n = values.length;
  const bar = Math.max(1, Math.min(28, Math.floor((width - 60) / n)));
  let scale = 0;
  for (const v of values) scale = Math.max(scale, Math.abs(v));
  const zero = unit ? y + STRIP : y + STRIP / 2;
  const regions = [];
  ctx.strokeStyle = LINE;
  ctx.beginPath();
  ctx.moveTo(x, zero + 0.5);
  ctx.lineTo(x + n * bar, zero + 0.5);
  ctx.stroke();
  values.forEach((v, i) => {
    const h = unit ? v * STRIP : (v / (scale || 1)) * (STRIP / 2);
    const [r, g, b] = unit ? viridis(v) : diverging(v / (scale || 1));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x + i * bar, Math.min(zero, zero - h), bar - (bar > 4 ? 1 : 0), Math.max(1, Math.abs(h)));
    regions.push({ x: x + i * bar, y, width: bar, height: STRIP, index: i });
  });
  if (hover != null && hover < n) {
    ctx.strokeStyle = ACCENT;
    ctx.lineWidth = 2;
    ctx.strokeRect(x + hover * bar - 1, y - 2, bar + 1, STRIP + 4);
    ctx.lineWidth = 1;
  }
  note(ctx, unit ? '0 … 1' : `± ${scale.toPrecision(3)}`, x + n * bar + 6, y + STRIP / 2 - 6);
  return regions;
}

// A step `{ shape, data }` as the plane `{ width, height, data }` of its last two axes, from
// `offset` values in.
function plane(step, offset = 0) {
  const [height, width] = step.shape.slice(-2);
  return { width, height, data: step.data.subarray(offset, offset + width * height) };
}

// The steps of one block, stacked top to bottom: bars, maps and lines of text; it keeps the
// regions hover and clicks use.
class Sheet {
  constructor(ctx, width, t, hover, channels) {
    Object.assign(this, { ctx, width, t, hover, channels, y: 48, barRegions: [], cells: [], readout: [] });
  }

  step(text) {
    this.y += title(this.ctx, text, 0, this.y) + 4;
  }

  // A line of text, wrapped to the width (at spaces, or anywhere in text without them: Chinese).
  line(text, color = INK) {
    this.y += paragraph(this.ctx, text, 0, this.y, this.width - 8, color) + 2;
  }

  // Per-channel bars (`follow`: hover follows the channel here too); several side by side.
  bars(list, { unit = false, labels = [] } = {}) {
    const column = Math.floor(this.width / list.length);
    list.forEach((values, i) => {
      const follows = values.length === this.channels;
      const hover = this.hover?.kind === 'c' && follows ? this.hover.index : null;
      if (labels[i]) note(this.ctx, labels[i], i * column, this.y, MUTED);
      const regions = strip(this.ctx, i * column, this.y + (labels.length ? 16 : 0), column - 12, Array.from(values), { unit, hover });
      if (follows) this.barRegions.push(...regions.map((r) => ({ ...r, kind: 'c' })));
    });
    this.y += STRIP + GAP + (labels.length ? 16 : 0);
  }

  // Maps side by side, each `{ map, label, query?: { x, y, grid }, numbers? }`; `short` names it in
  // the hover readout.
  maps(list) {
    const { ctx } = this;
    // As many maps a row as their captions leave room for (four heads wrap on a phone).
    const captions = list.map(({ map }) => range(map.data)).map(({ lo, hi }) => `${format(lo)} … ${format(hi)}`);
    const widest = Math.max(...captions.map((c) => smallWidth(ctx, c)), ...list.map(({ label }) => smallWidth(ctx, label))) + 10;
    const perRow = Math.max(1, Math.min(list.length, Math.floor(this.width / widest)));
    const column = Math.floor(this.width / (perRow < list.length ? perRow : Math.max(list.length, 3)));
    let tallest = 0;
    list.forEach(({ map, label, short, query, unit, id }, i) => {
      if (i > 0 && i % perRow === 0) {
        this.y += tallest + 44;
        tallest = 0;
      }
      const scale = Math.max(1, Math.floor(Math.min(MAP, column - 16) / Math.max(map.width, map.height)));
      const w = map.width * scale;
      const h = map.height * scale;
      const x = (i % perRow) * column;
      const { lo, hi } = unit ? { lo: 0, hi: 1 } : range(map.data);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(mapCanvas(map, lo, hi), x, this.y, w, h);
      ctx.imageSmoothingEnabled = true;
      const hovered = this.hover?.kind === 'p' && this.hover.width === map.width && this.hover.height === map.height ? this.hover.index : null;
      if (hovered != null) {
        ctx.strokeStyle = ACCENT;
        ctx.lineWidth = 2;
        ctx.strokeRect(x + (hovered % map.width) * scale, this.y + Math.floor(hovered / map.width) * scale, scale, scale);
        ctx.lineWidth = 1;
        this.readout.push(`${short ?? label} ${format(map.data[hovered])}`);
      }
      if (query) drawQuery(ctx, x + ((query.x + 0.5) / query.grid.width) * w, this.y + ((query.y + 0.5) / query.grid.height) * h, Math.max(3, scale / 2));
      note(ctx, label, x, this.y + h + 4, INK);
      // The values' own range (a gate's colours span 0 … 1 whatever its values).
      const own = unit ? range(map.data) : { lo, hi };
      note(ctx, `${format(own.lo)} … ${format(own.hi)}`, x, this.y + h + 19);
      this.cells.push({ x, y: this.y, width: w, height: h, kind: 'p', id, grid: { width: map.width, height: map.height } });
      tallest = Math.max(tallest, h);
    });
    this.y += tallest + 44;
  }

  // A k x k kernel (or any small matrix) as numbers on tinted cells.
  numbers(map, label, x, cell = 30) {
    const { ctx } = this;
    let scale = 0;
    for (const v of map.data) scale = Math.max(scale, Math.abs(v));
    ctx.font = '10px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'center';
    for (let i = 0; i < map.data.length; i++) {
      const [r, g, b] = diverging(map.data[i] / (scale || 1));
      const cx = x + (i % map.width) * cell;
      const cy = this.y + Math.floor(i / map.width) * cell;
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(cx, cy, cell - 1, cell - 1);
      ctx.fillStyle = ON_COLOUR;
      ctx.fillText(fixed(map.data[i], 2), cx + cell / 2, cy + cell / 2);
    }
    ctx.textAlign = 'start';
    note(ctx, label, x, this.y + map.height * cell + 4, INK);
    return map.height * cell + 24;
  }

  done(extra = {}) {
    if (this.readout.length) this.line(`${this.t('explain.here')}: ${this.readout.join(' · ')}`);
    return { height: this.y + 40, bars: [...this.barRegions, ...this.cells], ...extra };
  }
}

// ---- the blocks ------------------------------------------------------------------------------

// SE, ECA, and a loaded network's channel gates (timm's SqueezeExcite, torchvision's
// SqueezeExcitation: SE's steps with their own activations, `act` and `gate_act`).
function channelGated(s, steps, block, named) {
  const c = steps.gate.data.length;
  const order = ['squeeze', 'hidden', 'logits'].filter((k) => steps[k]);
  const words = { c, rd: steps.hidden?.data.length ?? 0, act: steps.act, gate: steps.gate_act };
  const key = (k) => {
    if (!steps.act || k === 'squeeze') return `explain.${block}.${k}`;
    return k === 'logits' && !steps.hidden ? 'explain.gate.logits1' : `explain.gate.${k}`;
  };
  order.forEach((k, i) => {
    s.step(s.t(key(k), { ...words, n: i + 1 }));
    s.bars([steps[k].data]);
  });
  s.step(s.t(key('gate'), { ...words, n: order.length + 1 }));
  s.bars([steps.gate.data], { unit: true });
  scaleStep(s, steps.gate.data, order.length + 2, named);
  if (s.hover?.kind === 'c' && s.hover.index < c) {
    const i = s.hover.index;
    const parts = [...order.filter((k) => steps[k].data.length === c), 'gate'].map((k) => `${s.t(`explain.short.${k}`)} ${steps[k].data[i].toFixed(3)}`);
    s.line(`${named(i)}: ${parts.join(' → ')}`);
  }
}

// The last step of a gate: every channel times its gate, with the two ends named.
function scaleStep(s, gate, n, named) {
  const order = [...gate.keys()].sort((a, b) => gate[a] - gate[b]);
  s.step(s.t('explain.scale', { n }));
  s.line(s.t('explain.scale.ends', {
    low: named(order[0]), lowg: gate[order[0]].toFixed(3), high: named(order[order.length - 1]), highg: gate[order[order.length - 1]].toFixed(3),
  }));
}

// (C, 2) as its two columns.
function columns(step) {
  const c = step.shape[0];
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    a[i] = step.data[2 * i];
    b[i] = step.data[2 * i + 1];
  }
  return [a, b];
}

// A branch attention (Selective Kernel, Split Attention): `squeeze (C)`, `hidden (rd)`, `logits
// (R, C)` and `branch (R, C)`, the shares.
function branches(s, steps, kind) {
  const { t } = s;
  const [r, c] = steps.branch.shape;
  const rows = (step) => Array.from({ length: r }, (_, i) => step.data.subarray(i * c, (i + 1) * c));
  const labels = Array.from({ length: r }, (_, i) => branchName(t, kind, i));
  s.step(t('explain.branches.squeeze', { n: 1, c, r }));
  s.bars([steps.squeeze.data]);
  s.step(t('explain.branches.hidden', { n: 2, c, rd: steps.hidden.data.length }));
  s.bars([steps.hidden.data]);
  s.step(t('explain.branches.logits', { n: 3, rd: steps.hidden.data.length, r, c }));
  s.bars(rows(steps.logits), { labels });
  s.step(t(r > 1 ? 'explain.branches.softmax' : 'explain.branches.sigmoid', { n: 4 }));
  s.bars(rows(steps.branch), { unit: true, labels });
  s.step(t('explain.branches.sum', { n: 5 }));
  if (s.hover?.kind === 'c' && s.hover.index < c) {
    const i = s.hover.index;
    const shares = labels.map((label, b) => `${label} ${steps.branch.data[b * c + i].toFixed(3)}`).join(' · ');
    s.line(`${t('explain.channel', { c: i })}: ${shares}`);
  }
}

function cbam(s, steps, named) {
  const { t } = s;
  const c = steps.gate.data.length;
  const [mean, max] = columns(steps.squeeze);
  const [fromMean, fromMax] = columns(steps.mlp);
  s.step(t('explain.cbam.squeeze', { c, n: 1 }));
  s.bars([mean, max], { labels: [t('explain.cbam.mean'), t('explain.cbam.max')] });
  s.step(t('explain.cbam.mlp', { n: 2 }));
  s.bars([fromMean, fromMax], { labels: [t('explain.cbam.mlp.mean'), t('explain.cbam.mlp.max')] });
  s.step(t('explain.cbam.gate', { n: 3 }));
  s.bars([steps.gate.data], { unit: true });
  if (s.hover?.kind === 'c' && s.hover.index < c) {
    const i = s.hover.index;
    s.line(t('explain.cbam.follow', {
      channel: named(i), mean: mean[i].toFixed(3), max: max[i].toFixed(3), a: fromMean[i].toFixed(3), b: fromMax[i].toFixed(3), gate: steps.gate.data[i].toFixed(3),
    }));
  }
  // The two maps in the order the convolution reads them (mean, max unless the block says otherwise).
  const names = steps.order === 'max-mean' ? ['max', 'mean'] : ['mean', 'max'];
  const [first, second] = names.map((name, i) => ({ name: t(`explain.cbam.${name}`), key: name, map: plane(steps.pooled, (i * steps.pooled.data.length) / 2) }));
  s.step(t('explain.cbam.pooled', { n: 4 }));
  s.maps([first, second].map((p) => ({ map: p.map, label: t(`explain.cbam.pooled.${p.key}`), short: p.name })));
  const k = steps.kernel.shape[1];
  s.step(t('explain.cbam.conv', { n: 5, k }));
  const kernelCell = Math.max(16, Math.min(30, Math.floor((s.width / 2 - 40) / (2 * k))));
  const tall = Math.max(
    s.numbers({ width: k, height: k, data: steps.kernel.data.subarray(0, k * k) }, t('explain.cbam.kernel', { map: first.name }), 0, kernelCell),
    s.numbers({ width: k, height: k, data: steps.kernel.data.subarray(k * k) }, t('explain.cbam.kernel', { map: second.name }), k * kernelCell + 16, kernelCell),
  );
  s.y += tall + 8;
  s.maps([{ map: plane(steps.conv), label: t('explain.cbam.conv.map'), short: t('explain.short.conv') }]);
  const [scale, shift] = steps.bn;
  s.step(t('explain.cbam.bn', { n: 6, scale: scale.toFixed(3), sign: shift < 0 ? '−' : '+', shift: Math.abs(shift).toFixed(3) }));
  s.maps([{ map: plane(steps.logits), label: t('explain.cbam.logits'), short: t('explain.short.logits') }]);
  s.step(t('explain.cbam.spatial', { n: 7 }));
  s.maps([{ map: plane(steps.spatial), label: t('explain.cbam.spatial.map'), short: t('explain.short.gate'), unit: true }]);
  s.step(t('explain.cbam.scale', { n: 8 }));
}

function gc(s, steps, named) {
  const { t } = s;
  const c = steps.context.data.length;
  const rd = steps.hidden.data.length;
  s.step(t('explain.gc.logits', { n: 1 }));
  s.maps([
    { map: plane(steps.logits), label: t('explain.gc.logits.map'), short: t('explain.short.logits') },
    { map: plane(steps.context_weights), label: t('explain.gc.weights.map'), short: t('explain.short.weight') },
  ]);
  s.step(t('explain.gc.context', { n: 2, c }));
  s.bars([steps.context.data]);
  s.step(t('explain.gc.hidden', { n: 3, c, rd }));
  s.bars([steps.hidden.data, steps.normed.data], { labels: [t('explain.gc.fc1'), t('explain.gc.normed')] });
  s.step(t('explain.gc.transform', { n: 4, rd, c }));
  s.bars([steps.transform.data]);
  if (steps.gate) {
    s.step(t('explain.gc.gate', { n: 5 }));
    s.bars([steps.gate.data], { unit: true });
    scaleStep(s, steps.gate.data, 6, named);
  } else {
    s.step(t('explain.gc.add', { n: 5 }));
  }
}

/** How many channels a block's steps follow (the bars hover and the arrow keys walk). */
export function traceChannels(steps) {
  return (steps.gate ?? steps.input ?? steps.output ?? steps.transform ?? steps.squeeze)?.data.length ?? 0;
}

// Where a click on a map of `map`'s grid lands on the block's grid.
function onGrid(cell, map, grid) {
  return {
    x: Math.min(grid.width - 1, Math.floor(((cell % map.width) + 0.5) * (grid.width / map.width))),
    y: Math.min(grid.height - 1, Math.floor((Math.floor(cell / map.width) + 0.5) * (grid.height / map.height))),
  };
}

function nonlocal(s, steps, grid) {
  const { t } = s;
  const q = { ...steps.at, grid };
  const c = steps.input.data.length;
  const d = steps.theta.data.length;
  const keys = plane(steps.logits);
  const subsampled = keys.width !== grid.width;
  s.line(t('explain.query.hint', { x: q.x, y: q.y }), MUTED);
  s.step(t('explain.nonlocal.theta', { n: 1, d }));
  s.bars([steps.theta.data]);
  const shown = Math.min(d, 8);
  const first = d > shown ? t('explain.first', { k: shown }) : '';
  s.step(t('explain.nonlocal.keys', { n: 2, d, first, keys: subsampled ? t('explain.nonlocal.subsampled', { w: keys.width, h: keys.height }) : '' }));
  s.maps(Array.from({ length: shown }, (_, i) => ({ map: plane(steps.keys, i * keys.width * keys.height), label: `φ${i + 1}` })));
  const softmax = Math.abs(steps.weights.data.reduce((a, b) => a + b, 0) - 1) < 1e-3 && steps.weights.data.every((v) => v > 0);
  s.step(t('explain.nonlocal.logits', { n: 3 }));
  s.maps([
    { map: keys, label: t('explain.nonlocal.logits.map'), short: t('explain.short.score'), query: q, id: 'scores' },
    { map: plane(steps.weights), label: t(softmax ? 'explain.nonlocal.softmax' : 'explain.nonlocal.mean', { n: keys.width * keys.height }), short: t('explain.short.weight'), query: q },
  ]);
  s.step(t('explain.nonlocal.attended', { n: 4, rd: steps.attended.data.length }));
  s.bars([steps.attended.data]);
  s.step(t('explain.nonlocal.z', { n: 5, c }));
  s.bars([steps.z.data, steps.normed.data], { labels: [t('explain.nonlocal.wz'), t('explain.nonlocal.bn')] });
  s.step(t('explain.nonlocal.output', { n: 6 }));
  s.bars([steps.input.data, steps.output.data], { labels: [t('explain.nonlocal.input'), t('explain.nonlocal.out')] });
  if (s.hover?.kind === 'c' && s.hover.index < c) {
    const i = s.hover.index;
    s.line(t('explain.nonlocal.follow', { c: i, z: steps.z.data[i].toFixed(3), bn: steps.normed.data[i].toFixed(3), x: steps.input.data[i].toFixed(3), y: steps.output.data[i].toFixed(3) }));
  }
  return { grid, keys };
}

// Multi-head self-attention at the query: the bundled network's MHSA, or BoTNet's (`bot`: no
// proj; its scores the content q·k / √d plus a relative-position term, shown apart).
function mhsa(s, steps, grid) {
  const { t } = s;
  const q = { ...steps.at, grid };
  const [heads, dh] = steps.query.shape;
  const dv = steps.mixed.shape[1];
  const plane0 = steps.scores.shape.slice(-2);
  const size = plane0[0] * plane0[1];
  s.line(t('explain.query.hint', { x: q.x, y: q.y }), MUTED);
  const perHead = (step, len) => Array.from({ length: heads }, (_, h) => step.data.subarray(h * len, (h + 1) * len));
  const labels = Array.from({ length: heads }, (_, h) => t('attention.headn', { i: h + 1 }));
  const maps = (step, short) => Array.from({ length: heads }, (_, h) => ({ map: plane(step, h * size), label: labels[h], short: `${labels[h]} ${short}`, query: q }));
  const bot = steps.kind === 'bot';
  let n = 1;
  s.step(t(bot ? 'explain.bot.query' : 'explain.mhsa.query', { n: n++, heads, dh, dv, c: heads * dh }));
  s.bars(perHead(steps.query, dh), { labels });
  if (bot && steps.content) {
    // The position term: the scores less their content part.
    const position = { shape: steps.scores.shape, data: steps.scores.data.map((v, i) => v - steps.content.data[i]) };
    s.step(t('explain.bot.content', { n: n++, dh }));
    s.maps(maps(steps.content, t('explain.short.score')));
    s.step(t('explain.bot.position', { n: n++ }));
    s.maps(maps(position, t('explain.short.position')));
    s.step(t('explain.bot.scores', { n: n++ }));
  } else {
    s.step(t('explain.mhsa.scores', { n: n++, dh }));
  }
  s.maps(maps(steps.scores, t('explain.short.score')));
  s.step(t('explain.mhsa.weights', { n: n++ }));
  s.maps(maps(steps.weights, t('explain.short.weight')));
  s.step(t('explain.mhsa.mixed', { n: n++, dh: dv }));
  s.bars(perHead(steps.mixed, dv), { labels });
  s.step(t(bot ? 'explain.bot.output' : 'explain.mhsa.proj', { n: n++, c: heads * dh, cv: heads * dv }));
  s.bars([steps.output.data]);
  return { grid };
}

export default {
  name: 'explain',
  bundledBlocks: ['se', 'eca', 'cbam', 'gc', 'nonlocal', 'mhsa'],
  // On a loaded network every attention block can be followed.
  fits: (entry) => Boolean(entry),
  controls: [],
  // BoTNet's four heads, five steps of maps, wrap to two a row on a phone.
  maxHeight: 2800,
  draw(ctx, width, { block, label, entry, state, network, t }) {
    if (!block) return say(ctx, t(network ? 'say.explain.network' : 'say.explain'));
    const trace = state.trace?.block === block ? state.trace : null;
    if (!trace?.result) return say(ctx, trace?.error ? t.message(trace.error) : t('say.explain.wait', { label }));
    const steps = trace.result;
    const names = steps.channel_names;
    const named = (c) => (names ? `“${t.named(names[c])}”` : t('explain.channel', { c }));
    const channels = traceChannels(steps);
    const s = new Sheet(ctx, width, t, state.traceHover, channels);
    s.y = title(ctx, t('explain.heading', { label }), 0, 0);
    s.line(t(['nonlocal', 'mhsa', 'bot'].includes(steps.kind) ? 'explain.hint.query' : 'explain.hint'), MUTED);
    s.y += 8;
    // Whose steps: the bundled network's block by name, a loaded network's by the engine's kind.
    const kind = steps.kind;
    let extra = {};
    if (kind === 'se' || kind === 'eca') channelGated(s, steps, kind, named);
    else if (kind === 'cbam') cbam(s, steps, named);
    else if (kind === 'gc') gc(s, steps, named);
    else if (kind === 'nonlocal') extra = nonlocal(s, steps, entry.grid);
    else if (kind === 'mhsa' || kind === 'bot') extra = mhsa(s, steps, entry.grid);
    else if (kind === 'sk' || kind === 'splat') branches(s, steps, kind);
    s.line(t(`explain.formula.${kind}`), MUTED);
    s.line(t('explain.ran', { where: t.message(steps.ran_on) }), MUTED);
    return s.done({ traceGrid: extra.grid });
  },
  onGrid,
};
